package quorumtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/servertest"
)

func init() { zk.DefaultLogger = log.New(io.Discard, "", 0) }

func connect(t *testing.T, addrs ...string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect(addrs, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	testwait.For(t, "session", func() bool { return c.State() == zk.StateHasSession })
	return c, ev
}

func TestWritesReplicateThroughEveryMember(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	conns := make([]*zk.Conn, 3)
	for i, a := range e.Addrs() {
		conns[i], _ = connect(t, a)
	}
	for i, c := range conns {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create through member %d: %v", i+1, err)
		}
	}
	// A session reads its own writes; sync makes a member catch up with the leader.
	for i, c := range conns {
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("sync on member %d: %v", i+1, err)
		}
		kids, _, err := c.Children("/")
		if err != nil {
			t.Fatal(err)
		}
		if len(kids) != 4 { // n0 n1 n2 zookeeper
			t.Fatalf("member %d sees %v", i+1, kids)
		}
	}
	// All members apply in one order: the same zxids.
	_, st0, err := conns[0].Get("/n2")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range conns[1:] {
		_, st, err := c.Get("/n2")
		if err != nil || st.Czxid != st0.Czxid {
			t.Fatalf("member %d: czxid 0x%x, member 1: 0x%x (%v)", i+2, st.Czxid, st0.Czxid, err)
		}
	}
	if st0.Czxid>>32 == 0 {
		t.Fatalf("czxid 0x%x has epoch 0 in an ensemble", st0.Czxid)
	}
}

func TestWatchFiresOnAnotherMember(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	a, _ := connect(t, e.Addrs()[0])
	b, _ := connect(t, e.Addrs()[1])
	if _, err := a.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sync("/w"); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := b.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Set("/w", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/w" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NodeDataChanged on the other member")
	}
}

func TestEphemeralOfFollowerSessionGoesAtClose(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	l := e.Leader()
	f := (l + 1) % 3
	c, _ := connect(t, e.Addrs()[f])
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	watcher, _ := connect(t, e.Addrs()[l])
	ok, _, ch, err := watcher.ExistsW("/eph")
	if err != nil || !ok {
		t.Fatalf("exists on leader: %v %v", ok, err)
	}
	c.Close()
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ephemeral not deleted when its follower session closed")
	}
}

func TestLeaderCrashWritesResumeAndMemberCatchesUp(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	c, _ := connect(t, e.Addrs()...)
	acked := map[string][]byte{}
	write := func(p string) error {
		data := []byte(p)
		_, err := c.Create(p, data, 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			acked[p] = data
		}
		return err
	}
	for i := 0; i < 20; i++ {
		if err := write(fmt.Sprintf("/before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	l := e.Leader()
	e.Servers[l].Stop()
	// Writes resume once the two survivors elect a leader; the client
	// moves to a survivor with its session.
	testwait.For(t, "a write after the leader crash", func() bool {
		err := write("/after-crash")
		return err == nil || errors.Is(err, zk.ErrNodeExists)
	})
	for i := 0; i < 20; i++ {
		if err := write(fmt.Sprintf("/after-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.Servers[l].Restart()
	e.WaitServing(30 * time.Second)
	r, _ := connect(t, e.Servers[l].Addr())
	if _, err := r.Sync("/"); err != nil {
		t.Fatal(err)
	}
	for p, want := range acked {
		got, _, err := r.Get(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("restarted member: %s = %q, %v; want %q", p, got, err, want)
		}
	}
}

// TestConfigNodeShowsMembership: in an ensemble /zookeeper/config holds
// the membership from the start (zkCli.sh's config prints it), on every
// member, with version -1 and the membership's version as mzxid, as
// Apache's initConfigInZKDatabase sets it; also on a member that restarts
// and syncs from the leader, and on one elected after the leader's crash.
func TestConfigNodeShowsMembership(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	var want strings.Builder
	for _, s := range e.Servers[0].Cfg.Servers {
		fmt.Fprintf(&want, "server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d\n", s.ID, s.QuorumPort, s.ElectionPort, s.ClientPort)
	}
	want.WriteString("version=0")
	check := func(when string) {
		t.Helper()
		for i, a := range e.Addrs() {
			text, st := configOf(t, a)
			if text != want.String() || st.Version != -1 || st.Mzxid != 0 || st.DataLength != int32(want.Len()) {
				t.Fatalf("%s: /zookeeper/config on member %d is %q (version %d, mzxid %#x, dataLength %d), want %q (version -1, mzxid 0)",
					when, i+1, text, st.Version, st.Mzxid, st.DataLength, want.String())
			}
		}
	}
	check("at start")
	f := (e.Leader() + 1) % 3
	e.Servers[f].Restart()
	e.WaitServing(30 * time.Second)
	check("after a follower's restart")
	e.Servers[e.Leader()].Restart()
	e.WaitServing(30 * time.Second)
	check("after the leader's restart")
}

// TestLeaderSrvrShowsItsEpoch: as Apache's, a leader's srvr shows its
// epoch's zxid 0 (epoch<<32) once a quorum follows it, before the epoch's
// first write; followers show the last zxid they applied.
func TestLeaderSrvrShowsItsEpoch(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	c, _ := connect(t, e.Addrs()...)
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, st, err := c.Exists("/a")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Close returns once the member the client used answered; the leader
	// may apply the closeSession after that.
	waitZxid(t, e, st.Czxid+1, "the leader to apply the closeSession")
	before := leaderZxid(t, e)
	l := e.Leader()
	e.Servers[l].Stop()
	var now int
	testwait.For(t, "a new leader", func() bool {
		now = e.Leader()
		return now >= 0 && now != l
	})
	z := leaderZxid(t, e)
	if z>>32 <= before>>32 || z&0xffffffff != 0 {
		t.Fatalf("new leader's srvr Zxid 0x%x, want 0x%x (its epoch's zxid 0; the old leader's last was 0x%x)",
			z, (z>>32)<<32, before)
	}
	for i, s := range e.Servers {
		if i == l || i == now {
			continue
		}
		if got := srvrZxid(t, s.Addr()); got != before {
			t.Errorf("follower %d's srvr Zxid 0x%x, want its last applied 0x%x", i, got, before)
		}
	}
}
