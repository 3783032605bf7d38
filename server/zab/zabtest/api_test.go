package zabtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/zab"
)

// A standalone server is an ensemble of one on the same code path: it
// leads at once, commits alone and keeps its txns across restarts.
func TestStandalone(t *testing.T) {
	dir := t.TempDir()
	run := func(want int) (*zab.Peer, *FSM, func()) {
		st, err := storage.Open(dir, "", storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fsm := NewFSM()
		p, err := zab.New(zab.Config{MyID: 1, TickTime: 50 * time.Millisecond, Store: st, SM: fsm, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		stop := func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			_ = st.Close()
		}
		waitCond(t, "standalone serving", func() error {
			if s := p.Status(); !s.Serving || s.State != zab.Leading {
				return fmt.Errorf("%s", s.PeerState)
			}
			if n := len(fsm.Entries()); n != want {
				return fmt.Errorf("%d entries recovered, want %d", n, want)
			}
			return nil
		})
		return p, fsm, stop
	}
	p, fsm, stop := run(0)
	var zs []int64
	for i := range 10 {
		z, err := p.Propose([]byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		zs = append(zs, z)
	}
	if zs[0] != 1<<32|1 || zs[9] != 1<<32|10 {
		t.Errorf("zxids %x..%x, want 0x100000001..0x10000000a", zs[0], zs[9])
	}
	if err := p.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fsm.LastApplied(); got != zs[9] {
		t.Errorf("after Sync applied 0x%x, want 0x%x", got, zs[9])
	}
	stop()
	p, _, stop = run(10)
	defer stop()
	if e := p.CurrentEpoch(); e != 2 {
		t.Errorf("epoch after restart = %d, want 2", e)
	}
	z, err := p.Propose([]byte("x"))
	if err != nil || z != 2<<32|1 {
		t.Errorf("first zxid of the new epoch = 0x%x, %v; want 0x200000001", z, err)
	}
}

func waitCond(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		tm := time.NewTimer(5 * time.Millisecond)
		<-tm.C
	}
}

// Followers forward requests to the leader's OnRequest; the leader
// proposes them; Sync on a follower returns once it applied everything
// committed before; touched sessions reach the leader.
func TestForwardSyncAndSessions(t *testing.T) {
	c := newCluster(t, Options{Voters: 3, Observers: 1})
	var mu sync.Mutex
	var touched []int64
	type req struct {
		from int64
		data string
	}
	reqs := make(chan req, 100)
	for _, id := range c.IDs {
		m := c.Start(id)
		m.Peer.OnRequest(func(from int64, b []byte) { reqs <- req{from, string(b)} })
		m.Peer.OnSessionTouch(func(ids []int64) {
			mu.Lock()
			touched = append(touched, ids...)
			mu.Unlock()
		})
	}
	l := c.WaitLeader(c.IDs)
	var last int64
	for _, id := range others(c.IDs, l) {
		if err := c.Member(id).Peer.Forward([]byte(fmt.Sprint("from-", id))); err != nil {
			t.Fatalf("forward on %d: %v", id, err)
		}
		c.Member(id).Peer.TouchSessions([]int64{100 + id})
	}
	for range len(c.IDs) - 1 {
		select {
		case r := <-reqs:
			if r.data != fmt.Sprint("from-", r.from) {
				t.Errorf("request %q from %d", r.data, r.from)
			}
			z, err := c.Propose(l, []byte(r.data))
			if err != nil {
				t.Fatal(err)
			}
			last = z
		case <-time.After(20 * time.Second):
			t.Fatal("forwarded request did not reach the leader")
		}
	}
	c.WaitApplied([]int64{l}, last)
	for _, id := range others(c.IDs, l) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := c.Member(id).Peer.Sync(ctx)
		cancel()
		if err != nil {
			t.Fatalf("sync on %d: %v", id, err)
		}
		if a := c.Member(id).FSM.LastApplied(); a < last {
			t.Errorf("after Sync member %d applied 0x%x, want ≥ 0x%x", id, a, last)
		}
	}
	waitCond(t, "touched sessions at the leader", func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range others(c.IDs, l) {
			if !slices.Contains(touched, 100+id) {
				return fmt.Errorf("have %v", touched)
			}
		}
		return nil
	})
	st := c.Member(l).Peer.Status()
	if st.Learners != 3 || st.SyncedFollowers != 2 || st.SyncedObservers != 1 || st.PeerState != "leading - broadcast" {
		t.Errorf("leader status %+v", st)
	}
	if st := c.Member(others(c.IDs, l, 4)[0]).Peer.Status(); st.PeerState != "following - broadcast" {
		t.Errorf("follower peer state %q", st.PeerState)
	}
	if _, err := c.Propose(others(c.IDs, l)[0], nil); err != zab.ErrNotLeader {
		t.Errorf("Propose on a follower: %v, want ErrNotLeader", err)
	}
}
