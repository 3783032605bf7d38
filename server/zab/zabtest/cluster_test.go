package zabtest

import (
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/zkgo/zkgo/server/zab"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("ZABTEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
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
			zx := c.MustCommit(leader, "w", 20)
			c.WaitApplied(c.IDs, zx[len(zx)-1])
			c.WaitConverged(c.IDs)
		})
	}
}
