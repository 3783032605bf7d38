package diskfull

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/servertest"
)

// quiet silences go-zookeeper's log.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// connectAny opens a session on one of addrs and waits for it.
func connectAny(t *testing.T, addrs []string, sessionTimeout time.Duration) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect(addrs, sessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c
			}
		case <-timeout:
			t.Fatal("no session within 30s")
		}
	}
}

// writeUntil writes /d/n<i> for i in [from, to) through c, retrying
// connection errors until deadline; every write acknowledged is recorded.
func writeAll(t *testing.T, c *zk.Conn, from, to int, acked map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := from; i < to; {
		p := fmt.Sprintf("/d/n%d", i)
		_, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll))
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists): // a retry of a write that was applied
			acked[p] = true
			i++
			continue
		case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer), errors.Is(err, zk.ErrSessionMoved):
		default:
			t.Fatalf("create %s: %v", p, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s: still failing after 30s: %v", p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAll reads every acknowledged node on every member (after a sync).
func checkAll(t *testing.T, e *servertest.Ensemble, acked map[string]bool) {
	t.Helper()
	for i, addr := range e.Addrs() {
		c := connectAny(t, []string{addr}, 4*time.Second)
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := c.Sync("/d"); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("member %d: sync: %v\n%s", i+1, err, e)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for p := range acked {
			if ok, _, err := c.Exists(p); err != nil || !ok {
				t.Fatalf("LOST: member %d has no %s (err %v)\n%s", i+1, p, err, e)
			}
		}
		c.Close()
	}
}

// TestEnsembleMemberWithFullDisk: a member whose txn log cannot be written
// (injected ENOSPC) never acknowledges and never takes the ensemble down.
// A follower: writes go on through the other two; the follower catches up
// once its disk heals. A leader: it gives up leadership (its appends fail)
// and the ensemble goes on with a leader whose disk works, or refuses
// writes, but never loses an acknowledged one; after healing every member
// has every acknowledged write.
func TestEnsembleMemberWithFullDisk(t *testing.T) {
	track(t)
	for _, role := range []string{"follower", "leader"} {
		t.Run(role, func(t *testing.T) {
			track(t)
			e := servertest.StartEnsemble(t, 3, 0)
			leader := e.Leader()
			if leader < 0 {
				t.Fatalf("no leader\n%s", e)
			}
			victim := leader
			if role == "follower" {
				victim = (leader + 1) % 3
			}
			var others []string
			for i, a := range e.Addrs() {
				if i != victim {
					others = append(others, a)
				}
			}
			c := connectAny(t, others, 4*time.Second)
			if _, err := c.Create("/d", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			acked := map[string]bool{}
			writeAll(t, c, 0, 50, acked)

			e.Servers[victim].Server().InjectLogWriteError(syscall.ENOSPC)
			writeAll(t, c, 50, 150, acked)
			t.Logf("member %d (%s) with a full disk; 100 writes acknowledged meanwhile\n%s", victim+1, role, e)

			e.Servers[victim].Server().InjectLogWriteError(nil)
			e.WaitServing(30 * time.Second)
			writeAll(t, c, 150, 170, acked)
			checkAll(t, e, acked)
		})
	}
}
