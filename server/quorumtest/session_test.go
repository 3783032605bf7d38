package quorumtest

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/wire"
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

// A client that wrote through a follower and moves to the leader before
// the leader has applied that write resumes its session there: the leader
// holds the handshake until it has (Apache refuses it, and the client
// tries the next server). The leader's disk is made slow so that the two
// followers commit the write without it.
func TestClientMovesToMemberNotYetCaughtUp(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.TickTime = time.Second // the handshake waits up to a tick
	}))
	l := e.Leader()
	f := (l + 1) % 3
	firstWrite(t, e)
	leaderLog := e.Servers[l].Cfg.DataLogDir
	storage.SetAppendDelay(func(dir string) time.Duration {
		if strings.HasPrefix(dir, leaderLog) {
			return 150 * time.Millisecond
		}
		return 0
	})
	t.Cleanup(func() { storage.SetAppendDelay(nil) })

	c, resp := dialSession(t, e.Addrs()[f], 0, nil, 4000)
	h := c.call(1, wire.OpCreate, &wire.CreateRequest{Path: "/moved", ACL: worldAll})
	if h.Err != wire.CodeOK {
		t.Fatalf("create through the follower: %d", h.Err)
	}
	if z := leaderZxid(t, e); z >= h.Zxid {
		t.Fatalf("the leader applied 0x%x already (0x%x): nothing to wait for", h.Zxid, z)
	}
	c.nc.Close()
	moved, r := dialSeen(t, e.Addrs()[l], resp.SessionID, resp.Passwd, 4000, h.Zxid)
	if r.SessionID != resp.SessionID || r.TimeOut == 0 {
		t.Fatalf("the session did not resume on the leader, which had not applied 0x%x yet: %+v", h.Zxid, r)
	}
	if h2 := moved.call(2, wire.OpExists, &wire.PathWatchRequest{Path: "/moved"}); h2.Err != wire.CodeOK || h2.Zxid < h.Zxid {
		t.Errorf("exists /moved on the leader: err %d, zxid 0x%x; want ok at 0x%x or later", h2.Err, h2.Zxid, h.Zxid)
	}
}
