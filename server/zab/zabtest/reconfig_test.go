package zabtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
)

// TestReconfigNeedsBothQuorums: a joiner follows without a vote; a
// reconfig to {leader, joiner, 5} (5 never runs) is logged by the old
// quorum but does not commit while the joiner is down, and commits once
// it is back; after it the new membership is what counts: the leader and
// the joiner commit without the two old followers.
func TestReconfigNeedsBothQuorums(t *testing.T) {
	c := newCluster(t, Options{Voters: 3})
	c.StartAll()
	l := c.WaitLeader(c.IDs)
	acked := map[int64]string{}
	c.MustCommit(l, "before", 5, acked)

	c.AddJoiner(4)
	c.WaitFor(20*time.Second, "the joiner to follow", func() error {
		if m := c.Member(4); m == nil || !m.Peer.Serving() || m.Peer.Leader() != l {
			return fmt.Errorf("joiner not serving under %d", l)
		}
		return nil
	})
	// Its acknowledgements do not count in {1, 2, 3}.
	c.MustCommit(l, "with-joiner", 5, acked)

	next := []config.Server{{ID: l, Host: "127.0.0.1"}, {ID: 4, Host: "127.0.0.1"}, {ID: 5, Host: "127.0.0.1"}}
	c.Stop(4)
	z, err := c.Member(l).Peer.ProposeReconfig([]byte("reconfig"), next)
	if err != nil {
		t.Fatal(err)
	}
	acked[z] = "reconfig"
	if _, err := c.Member(l).Peer.ProposeReconfig([]byte("again"), next); err == nil {
		t.Fatal("a second reconfig was accepted while the first is pending")
	}
	old := others([]int64{1, 2, 3}, l)
	c.WaitFor(20*time.Second, "the old followers to log the reconfig", func() error {
		for _, id := range old {
			if last := c.Member(id).Store.LastZxid(); last < z {
				return fmt.Errorf("member %d logged up to 0x%x", id, last)
			}
		}
		return nil
	})
	// Their ACKs reach the leader within milliseconds; a commit on the old
	// quorum alone would show here.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if a := c.Member(l).Peer.LastApplied(); a >= z {
			t.Fatalf("reconfig 0x%x applied (0x%x) without a quorum of the new membership", z, a)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Start(4)
	c.WaitApplied([]int64{l, 4}, z)
	// What the server does when it applies the reconfig txn.
	for _, id := range c.Running() {
		if err := c.Member(id).Peer.Reconfigure(next, z); err != nil {
			t.Fatal(err)
		}
	}
	servers, version, pending := c.Member(l).Peer.Membership()
	if version != z || pending || len(servers) != 3 {
		t.Fatalf("leader's membership after the commit: %v version 0x%x pending %v", servers, version, pending)
	}
	for _, id := range old {
		c.Stop(id)
	}
	c.MustCommit(l, "after", 5, acked)
	checkAll(t, c, acked)
}
