package quorumtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/clusterstatus"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/servertest"
)

// TestMembersTreeDigestsAgree: members (an observer, and a follower that
// was restarted and synced back in the middle) that applied the same txns
// log the same tree digests, and zk status's check finds them equal at a
// zxid they all logged.
func TestMembersTreeDigestsAgree(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 1)
	write := func(from, n int) {
		for i, a := range e.Addrs() {
			c, _ := connect(t, a)
			for j := from; j < from+n; j++ {
				p := fmt.Sprintf("/m%d-%d", i, j)
				if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Set(p, []byte("again"), -1); err != nil {
					t.Fatal(err)
				}
				if j%3 == 0 {
					if err := c.Delete(p, -1); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := c.Create(fmt.Sprintf("/e%d-%d", i, from), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			c.Close() // its ephemeral goes in a closeSession txn
		}
	}
	write(0, 40)
	e.Servers[1].Restart()
	e.WaitServing(30 * time.Second)
	write(40, 40)

	// Every member has applied the leader's last txn.
	lead := e.Servers[e.Leader()].Addr()
	testwait.For(t, "every member to apply the last txn", func() bool {
		want, err := servertest.Srvr(lead)
		if err != nil {
			return false
		}
		for _, a := range e.Addrs() {
			if got, err := servertest.Srvr(a); err != nil || got.Zxid != want.Zxid {
				return false
			}
		}
		return true
	})
	r := clusterstatus.Check(context.Background(), e.Addrs(), 5*time.Second)
	if r.Health != clusterstatus.HealthOK || r.DigestZxid == "" {
		t.Fatalf("health %s, digest zxid %q: %s", r.Health, r.DigestZxid, r.Summary)
	}
	for _, s := range r.Servers {
		if s.Digest == nil {
			t.Errorf("%s (%s) logged no digest at %s", s.Addr, s.Mode, r.DigestZxid)
		}
	}
}
