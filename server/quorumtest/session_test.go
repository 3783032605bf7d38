package quorumtest

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/servertest"
)

// A client whose server goes away moves to another member with its session,
// its ephemerals and its watches (re-registered with setWatches).
func TestSessionMovesBetweenMembers(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	l := e.Leader()
	f := (l + 1) % 3
	other := (l + 2) % 3
	// Connect to a follower first: the host list is tried in order.
	c, _ := connect(t, e.Addrs()[f], e.Addrs()[other])
	sid := c.SessionID()
	if _, err := c.Create("/eph", []byte("e"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/watched", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := c.GetW("/watched")
	if err != nil {
		t.Fatal(err)
	}
	e.Servers[f].Stop()
	testwait.For(t, "reconnect to another member", func() bool {
		return c.State() == zk.StateHasSession && c.Server() != e.Addrs()[f]
	})
	if c.SessionID() != sid {
		t.Fatalf("session changed: 0x%x -> 0x%x", sid, c.SessionID())
	}
	if ok, st, err := c.Exists("/eph"); err != nil || !ok || st.EphemeralOwner != sid {
		t.Fatalf("ephemeral after the move: %v %+v %v", ok, st, err)
	}
	w, _ := connect(t, e.Addrs()[l])
	if _, err := w.Set("/watched", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/watched" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not survive the move")
	}
}

// Session expiry is decided by the leader, also for sessions of clients
// connected to followers, and deletes their ephemerals everywhere.
func TestFollowerSessionExpires(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	l := e.Leader()
	f := (l + 1) % 3
	c, _ := connect(t, e.Addrs()[f])
	if _, err := c.Create("/gone", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	w, _ := connect(t, e.Addrs()[l])
	_, _, ch, err := w.ExistsW("/gone")
	if err != nil {
		t.Fatal(err)
	}
	// Stop the follower: the client cannot reach anyone else, so its
	// session times out (negotiated to at most 40 ticks of 100 ms).
	e.Servers[f].Stop()
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the leader never expired the follower's session")
	}
}
