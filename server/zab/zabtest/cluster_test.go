package zabtest

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/zab"
)

// testLogger logs every member at debug level to the test's output with
// ZABTEST_LOG set; otherwise it keeps the last lines at info level and
// shows them only if the test fails.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("ZABTEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := &logRing{max: 400}
	t.Cleanup(func() {
		if t.Failed() {
			lines := r.snapshot()
			t.Logf("the members' last %d log lines (ZABTEST_LOG=1 shows all):\n%s", len(lines), strings.Join(lines, ""))
		}
	})
	return slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// logRing keeps the last max records a slog handler wrote.
type logRing struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (r *logRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == r.max {
		r.lines = append(r.lines[:0], r.lines[1:]...)
	}
	r.lines = append(r.lines, string(p))
	return len(p), nil
}

func (r *logRing) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func newCluster(t *testing.T, opts Options) *Cluster {
	opts.Logger = testLogger(t)
	return NewCluster(t, opts)
}

// As in the seed walk-through of FastLeaderElection: with empty logs the
// highest id among a quorum wins, and a member started later joins the
// running ensemble as a follower instead of forcing a new election.
func TestElectionFirstQuorumThenJoin(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := newCluster(t, Options{Voters: n})
			q := n/2 + 1
			for i := 1; i <= q; i++ {
				c.Start(int64(i))
			}
			first := c.IDs[:q]
			leader := c.WaitLeader(first)
			if leader != int64(q) {
				t.Fatalf("leader = %d, want %d (highest id of the first quorum)", leader, q)
			}
			epoch := c.Member(leader).Peer.CurrentEpoch()
			for i := q + 1; i <= n; i++ {
				c.Start(int64(i))
			}
			if got := c.WaitLeader(c.IDs); got != leader {
				t.Fatalf("after the others joined, leader = %d, want %d", got, leader)
			}
			for _, id := range c.IDs {
				st := c.Member(id).Peer.Status()
				want := zab.Following
				if id == leader {
					want = zab.Leading
				}
				if st.State != want || st.Epoch != epoch {
					t.Errorf("member %d: state %s epoch %d, want %s epoch %d", id, st.State, st.Epoch, want, epoch)
				}
			}
			acked := map[int64]string{}
			last := c.MustCommit(leader, "w", 20, acked)
			c.WaitApplied(c.IDs, last)
			CheckAcknowledged(t, c.WaitConverged(c.IDs), acked)
			c.CheckLogs()
		})
	}
}

func others(ids []int64, without ...int64) []int64 {
	var out []int64
	for _, id := range ids {
		keep := true
		for _, w := range without {
			if id == w {
				keep = false
			}
		}
		if keep {
			out = append(out, id)
		}
	}
	return out
}

// checkAll waits until every running member applied the same history
// and checks acknowledged writes and logs against it.
func checkAll(t *testing.T, c *Cluster, acked map[int64]string) []Entry {
	t.Helper()
	h := c.WaitConverged(c.Running())
	CheckAcknowledged(t, h, acked)
	c.CheckLogs()
	return h
}

func TestLeaderCrash(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := newCluster(t, Options{Voters: n})
			c.StartAll()
			acked := map[int64]string{}
			l1 := c.WaitLeader(c.IDs)
			e1 := c.Member(l1).Peer.CurrentEpoch()
			c.MustCommit(l1, "a", 30, acked)
			c.Stop(l1)
			rest := others(c.IDs, l1)
			l2 := c.WaitLeader(rest)
			if e2 := c.Member(l2).Peer.CurrentEpoch(); e2 <= e1 {
				t.Fatalf("new leader's epoch %d, want > %d", e2, e1)
			}
			last := c.MustCommit(l2, "b", 30, acked)
			if zxidEpoch := last >> 32; zxidEpoch != c.Member(l2).Peer.CurrentEpoch() {
				t.Fatalf("zxid 0x%x not in epoch %d", last, c.Member(l2).Peer.CurrentEpoch())
			}
			c.Start(l1)
			if l := c.WaitLeader(c.IDs); l != l2 {
				t.Fatalf("after the old leader came back, leader = %d, want %d", l, l2)
			}
			c.WaitApplied(c.IDs, last)
			checkAll(t, c, acked)
		})
	}
}

func TestFollowerCatchUpByDiff(t *testing.T) {
	c := newCluster(t, Options{Voters: 3})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	c.MustCommit(l, "a", 10, acked)
	f := others(c.IDs, l)[0]
	c.Stop(f)
	last := c.MustCommit(l, "b", 40, acked)
	c.Start(f)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	if s := c.Member(f).Peer.Status().LastSync; s != "DIFF" {
		t.Errorf("follower synced by %q, want DIFF", s)
	}
	checkAll(t, c, acked)
}

func TestLaggingFollowerSnap(t *testing.T) {
	c := newCluster(t, Options{Voters: 3, MaxDiffEntries: 10})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	c.MustCommit(l, "a", 5, acked)
	f := others(c.IDs, l)[0]
	c.Stop(f)
	last := c.MustCommit(l, "b", 50, acked)
	c.Start(f)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	if s := c.Member(f).Peer.Status().LastSync; s != "SNAP" {
		t.Errorf("follower synced by %q, want SNAP", s)
	}
	last = c.MustCommit(l, "c", 5, acked)
	c.WaitApplied(c.IDs, last)
	checkAll(t, c, acked)
	// It restarts from the snapshot it received plus its log.
	c.Stop(f)
	c.Start(f)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	if s := c.Member(f).Peer.Status().LastSync; s != "DIFF" {
		t.Errorf("after restart, follower synced by %q, want DIFF", s)
	}
	checkAll(t, c, acked)
}

// An isolated leader keeps logging proposals it can never commit; it steps
// down after syncLimit ticks, the others elect a leader of a new epoch,
// and when the old leader returns it truncates those proposals (TRUNC).
func TestOldLeaderTruncated(t *testing.T) {
	c := newCluster(t, Options{Voters: 3})
	c.StartAll()
	acked := map[int64]string{}
	l1 := c.WaitLeader(c.IDs)
	c.MustCommit(l1, "a", 10, acked)
	c.Net.Isolate(l1, c.IDs)
	var lost []int64
	for i := range 5 {
		z, err := c.Propose(l1, []byte(fmt.Sprintf("lost-%d", i)))
		if err != nil {
			break
		}
		lost = append(lost, z)
	}
	if len(lost) == 0 {
		t.Fatal("the isolated leader took no proposal")
	}
	// The proposals reach the old leader's disk.
	c.WaitFor(10*time.Second, "proposals logged on the isolated leader", func() error {
		if got := c.Member(l1).Store.LastZxid(); got < lost[len(lost)-1] {
			return fmt.Errorf("last logged 0x%x", got)
		}
		return nil
	})
	rest := others(c.IDs, l1)
	l2 := c.WaitLeader(rest)
	c.WaitFor(10*time.Second, "the isolated leader to step down", func() error {
		if st := c.Member(l1).Peer.Status(); st.State == zab.Leading {
			return fmt.Errorf("still %s", st.PeerState)
		}
		return nil
	})
	last := c.MustCommit(l2, "b", 10, acked)
	c.Net.Heal()
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	if s := c.Member(l1).Peer.Status().LastSync; s != "TRUNC" {
		t.Errorf("old leader synced by %q, want TRUNC", s)
	}
	h := checkAll(t, c, acked)
	for _, e := range h {
		if len(e.Data) >= 4 && e.Data[:4] == "lost" {
			t.Errorf("uncommitted proposal 0x%x %q was applied", e.Zxid, e.Data)
		}
	}
}

// A leader cut off with a minority keeps nothing it proposes: nothing is
// committed on the minority side; the majority goes on.
func TestPartitionedLeaderMinority(t *testing.T) {
	c := newCluster(t, Options{Voters: 5})
	c.StartAll()
	acked := map[int64]string{}
	l1 := c.WaitLeader(c.IDs)
	c.MustCommit(l1, "a", 10, acked)
	f := others(c.IDs, l1)[0]
	minority := []int64{l1, f}
	majority := others(c.IDs, l1, f)
	c.Net.Partition(minority, majority)
	before := c.Member(l1).FSM.LastApplied()
	for i := range 5 {
		if _, err := c.Propose(l1, []byte(fmt.Sprintf("lost-%d", i))); err != nil {
			break
		}
	}
	l2 := c.WaitLeader(majority)
	c.WaitFor(10*time.Second, "the minority leader to step down", func() error {
		if st := c.Member(l1).Peer.Status(); st.State == zab.Leading {
			return fmt.Errorf("still %s", st.PeerState)
		}
		return nil
	})
	for _, id := range minority {
		if a := c.Member(id).FSM.LastApplied(); a > before {
			t.Errorf("member %d of the minority applied 0x%x after the partition (had 0x%x)", id, a, before)
		}
	}
	if _, err := c.Propose(l1, []byte("x")); err == nil {
		t.Errorf("the minority leader still takes proposals")
	}
	last := c.MustCommit(l2, "b", 10, acked)
	c.Net.Heal()
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	h := checkAll(t, c, acked)
	for _, e := range h {
		if len(e.Data) >= 4 && e.Data[:4] == "lost" {
			t.Errorf("proposal of the minority 0x%x %q was applied", e.Zxid, e.Data)
		}
	}
}

func TestWholeEnsembleRestart(t *testing.T) {
	c := newCluster(t, Options{Voters: 3})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	last := c.MustCommit(l, "a", 50, acked)
	c.WaitApplied(c.IDs, last)
	c.StopAll()
	c.StartAll()
	l = c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	last = c.MustCommit(l, "b", 10, acked)
	c.WaitApplied(c.IDs, last)
	h := checkAll(t, c, acked)
	if len(h) != 60 {
		t.Errorf("history has %d entries, want 60", len(h))
	}
}

func TestObserver(t *testing.T) {
	c := newCluster(t, Options{Voters: 3, Observers: 1})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	if l == 4 {
		t.Fatal("the observer leads")
	}
	if st := c.Member(4).Peer.Status(); st.State != zab.Observing {
		t.Fatalf("member 4 is %s, want observing", st.State)
	}
	last := c.MustCommit(l, "a", 20, acked)
	c.WaitApplied(c.IDs, last)
	// The observer's absence changes nothing.
	c.Stop(4)
	last = c.MustCommit(l, "b", 5, acked)
	c.Start(4)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	// Observers do not count for the quorum: with both followers down, the
	// leader steps down though the observer is still there.
	fs := others(c.IDs, l, 4)
	for _, f := range fs {
		c.Stop(f)
	}
	c.WaitFor(10*time.Second, "the leader to lose its quorum", func() error {
		if c.Member(l).Peer.State() == zab.Leading {
			return fmt.Errorf("still leading")
		}
		return nil
	})
	for _, f := range fs {
		c.Start(f)
	}
	c.WaitLeader(c.IDs)
	checkAll(t, c, acked)
}

// Crashes while a learner is being synchronised: the learner itself, then
// the leader that syncs it. Nothing acknowledged is lost either way.
func TestCrashDuringSync(t *testing.T) {
	c := newCluster(t, Options{Voters: 3, MaxDiffEntries: 20})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	f := others(c.IDs, l)[0]
	c.Stop(f)
	c.MustCommit(l, "a", 200, acked)
	// The learner crashes as soon as it starts (mid-sync, or right after).
	c.Start(f)
	c.WaitFor(10*time.Second, "the learner to register", func() error {
		if st := c.Member(f).Peer.Status(); st.State == zab.Looking {
			return fmt.Errorf("%s", st.PeerState)
		}
		return nil
	})
	c.Stop(f)
	c.Start(f)
	last := c.MustCommit(l, "b", 10, acked)
	c.WaitApplied(c.IDs, last)
	checkAll(t, c, acked)

	// Now the leader crashes while the learner syncs.
	c.Stop(f)
	c.MustCommit(l, "c", 200, acked)
	c.Start(f)
	c.Stop(l)
	rest := others(c.IDs, l)
	l2 := c.WaitLeader(rest)
	last = c.MustCommit(l2, "d", 10, acked)
	c.Start(l)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	checkAll(t, c, acked)
}

// Every goroutine of a member ends when its Run returns.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCluster(t, Options{Voters: 3, Observers: 1})
	c.StartAll()
	l := c.WaitLeader(c.IDs)
	c.MustCommit(l, "a", 10, nil)
	c.Stop(l)
	c.WaitLeader(others(c.IDs, l))
	c.StopAll()
	c.WaitFor(10*time.Second, "goroutines to end", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}

// The vote order is (epoch, zxid, id): the member with the most recent
// history wins even against a higher id, so nothing committed is lost.
func TestElectionPrefersLongestHistory(t *testing.T) {
	c := newCluster(t, Options{Voters: 3})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	c.MustCommit(l, "a", 5, acked)
	fs := others(c.IDs, l)
	behind, ahead := fs[1], fs[0] // behind has the higher id
	c.WaitApplied(c.IDs, c.Member(l).FSM.LastApplied())
	c.Stop(behind)
	last := c.MustCommit(l, "b", 5, acked)
	c.WaitApplied([]int64{ahead}, last)
	c.Stop(l)
	c.Stop(ahead)
	c.Start(behind)
	c.Start(ahead)
	if got := c.WaitLeader([]int64{behind, ahead}); got != ahead {
		t.Fatalf("leader = %d, want %d (the member with the longer log)", got, ahead)
	}
	c.Start(l)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	checkAll(t, c, acked)
}

// A snapshot of several chunks reaches a lagging follower intact.
func TestSnapSeveralChunks(t *testing.T) {
	c := newCluster(t, Options{Voters: 3, MaxDiffEntries: 5})
	c.StartAll()
	acked := map[int64]string{}
	l := c.WaitLeader(c.IDs)
	f := others(c.IDs, l)[0]
	c.Stop(f)
	var last int64
	for i := range 24 {
		d := fmt.Sprintf("%d-%s", i, strings.Repeat("x", 100<<10))
		z, err := c.Propose(l, []byte(d))
		if err != nil {
			t.Fatal(err)
		}
		acked[z], last = d, z
	}
	c.WaitApplied([]int64{l}, last)
	c.Start(f)
	c.WaitLeader(c.IDs)
	c.WaitApplied(c.IDs, last)
	if s := c.Member(f).Peer.Status().LastSync; s != "SNAP" {
		t.Errorf("follower synced by %q, want SNAP", s)
	}
	checkAll(t, c, acked)
}
