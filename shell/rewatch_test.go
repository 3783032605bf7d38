package shell

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/server/servertest"
)

// waitEvent changes the tree with poke until the client queues an event
// matching want, or fails the test after a deadline. Poking again covers
// the moment between the reconnect and the watch being set again.
func waitEvent(t *testing.T, c *Client, what string, poke func(i int), want func(Event) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		poke(i)
		tick := time.NewTimer(200 * time.Millisecond)
		for waiting := true; waiting; {
			select {
			case <-c.Notify():
				for _, ev := range c.Events() {
					if want(ev) {
						tick.Stop()
						return
					}
				}
			case <-tick.C:
				waiting = false
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event", what)
		}
	}
}

// TestPersistentWatchSurvivesReconnect: a PERSISTENT_RECURSIVE watch set
// with addWatch keeps firing after the client moves to another member of
// the ensemble, on the same session (as the Java client, which re-sends
// it in setWatches2).
func TestPersistentWatchSurvivesReconnect(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	addrs := e.Addrs()
	c, err := Dial(testCtx(t), ConnectString{Servers: addrs}, 4*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sid := c.Conn.SessionID()
	first := c.Conn.Server()
	var victim, other int = -1, -1
	for i, a := range addrs {
		if a == first {
			victim = i
		} else if other < 0 {
			other = i
		}
	}
	if victim < 0 {
		t.Fatalf("connected to %s, not one of %v", first, addrs)
	}
	conn := oracle(t, addrs[other])
	mustCreate(t, conn, "/pw", nil, 0)
	if err := c.AddWatch("/pw", AddWatchPersistentRecursive); err != nil {
		t.Fatal(err)
	}
	isCreated := func(p string) func(Event) bool {
		return func(ev Event) bool { return ev.Type == zk.EventNodeCreated && ev.Path == p }
	}
	mustCreate(t, conn, "/pw/before", nil, 0)
	waitEvent(t, c, "NodeCreated /pw/before", func(int) {}, isCreated("/pw/before"))

	e.Servers[victim].Stop()
	deadline := time.Now().Add(30 * time.Second)
	for c.State() != zk.StateHasSession || c.Conn.Server() == first {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect to another member (state %v, server %s)", c.State(), c.Conn.Server())
		}
		select {
		case <-c.stateChan():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got := c.Conn.SessionID(); got != sid {
		t.Fatalf("session 0x%x after reconnect, want the same 0x%x", got, sid)
	}
	if got := c.PersistentWatches(); got["/pw"] != AddWatchPersistentRecursive || len(got) != 1 {
		t.Errorf("PersistentWatches = %v", got)
	}
	// Data changes of /pw and creations below it fire again.
	waitEvent(t, c, "NodeDataChanged /pw", func(i int) {
		if _, err := conn.Set("/pw", []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
	}, func(ev Event) bool { return ev.Type == zk.EventNodeDataChanged && ev.Path == "/pw" })
	mustCreate(t, conn, "/pw/after", nil, 0)
	waitEvent(t, c, "NodeCreated /pw/after", func(int) {}, isCreated("/pw/after"))

	// removewatches forgets it: nothing to set again on the next reconnect.
	if err := c.RemoveWatches("/pw", WatcherAny); err != nil {
		t.Fatal(err)
	}
	if got := c.PersistentWatches(); len(got) != 0 {
		t.Errorf("PersistentWatches after removewatches = %v", got)
	}
}
