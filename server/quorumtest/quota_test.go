package quorumtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// Every member keeps a quota's usage (each applies the same txns), a
// member that was down has it right once it catches up, and the leader
// enforces hard limits on writes that came through any member.
func TestQuotaOnEveryMember(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) { c.EnforceQuota = true }))
	conns := make([]*zk.Conn, 3)
	for i, a := range e.Addrs() {
		conns[i], _ = connect(t, a)
	}
	open := zk.WorldACL(zk.PermAll)
	mustCreate := func(c *zk.Conn, p, data string) {
		t.Helper()
		if _, err := c.Create(p, []byte(data), 0, open); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	mustCreate(conns[0], "/q", "")
	mustCreate(conns[0], "/zookeeper/quota/q", "")
	mustCreate(conns[0], "/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=12")
	mustCreate(conns[0], "/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0")
	for i := 0; i < 6; i++ {
		mustCreate(conns[1+i%2], fmt.Sprintf("/q/n%d", i), "abc")
	}
	wantStats := func(c *zk.Conn, who, want string) {
		t.Helper()
		if _, err := c.Sync("/q"); err != nil {
			t.Fatalf("%s: sync: %v", who, err)
		}
		data, _, err := c.Get("/zookeeper/quota/q/zookeeper_stats")
		if err != nil || string(data) != want {
			t.Fatalf("%s: stats %q, %v; want %q", who, data, err, want)
		}
	}
	for i, c := range conns {
		wantStats(c, fmt.Sprintf("member %d", i+1), "count=7,bytes=18")
	}

	// A follower misses writes while it is down.
	f := (e.Leader() + 1) % 3
	e.Servers[f].Stop()
	other := conns[(f+1)%3]
	for i := 6; i < 11; i++ {
		mustCreate(other, fmt.Sprintf("/q/n%d", i), "abc")
	}
	e.Servers[f].Restart()
	e.WaitServing(30 * time.Second)
	back, _ := connect(t, e.Servers[f].Addr())
	wantStats(back, "the restarted member", "count=12,bytes=33")

	// The 13th znode passes countHardLimit=12, whichever member takes it.
	for i, c := range []*zk.Conn{conns[(f+1)%3], conns[(f+2)%3], back} {
		if _, err := c.Create("/q/over", nil, 0, open); err == nil || err.Error() != "unknown error: -125" {
			t.Fatalf("create past the hard limit through connection %d: %v, want QUOTAEXCEEDED (-125)", i, err)
		}
	}
}
