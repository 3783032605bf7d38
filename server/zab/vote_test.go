package zab

import "testing"

// FastLeaderElection.totalOrderPredicate: epoch, then zxid, then id; a
// non-voter never wins.
func TestBetterVote(t *testing.T) {
	q := newQuorum([]int64{1, 2, 3})
	tests := []struct {
		name                     string
		newID, newZxid, newEpoch int64
		curID, curZxid, curEpoch int64
		want                     bool
	}{
		{"higher epoch wins over higher zxid", 1, 5, 2, 3, 100, 1, true},
		{"lower epoch loses", 3, 100, 1, 1, 5, 2, false},
		{"same epoch higher zxid", 1, 10, 1, 3, 9, 1, true},
		{"same epoch lower zxid", 3, 9, 1, 1, 10, 1, false},
		{"tie broken by id", 3, 10, 1, 2, 10, 1, true},
		{"same vote is not better", 2, 10, 1, 2, 10, 1, false},
		{"lower id loses the tie", 1, 10, 1, 2, 10, 1, false},
		{"observer never wins", 4, 99, 9, 1, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := q.betterVote(tc.newID, tc.newZxid, tc.newEpoch, tc.curID, tc.curZxid, tc.curEpoch); got != tc.want {
				t.Errorf("betterVote = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQuorum(t *testing.T) {
	q := newQuorum([]int64{1, 2, 3, 4, 5})
	if q.size() != 3 {
		t.Errorf("size = %d, want 3", q.size())
	}
	if q.contains(map[int64]bool{1: true, 2: true, 6: true}) {
		t.Error("two voters and a non-voter make a quorum of five")
	}
	if !q.contains(map[int64]bool{1: true, 2: true, 5: true}) {
		t.Error("three of five is not a quorum")
	}
	acks := map[int64]int64{1: 10, 2: 7, 3: 9, 4: 2, 6: 100}
	if got := q.committedByQuorum(acks); got != 7 {
		t.Errorf("committedByQuorum = %d, want 7 (third highest of the voters)", got)
	}
	if got := q.committedByQuorum(map[int64]int64{1: 5, 6: 9}); got != 0 {
		t.Errorf("committedByQuorum without a quorum = %d, want 0", got)
	}
	votes := map[int64]Vote{
		1: {Leader: 3, Zxid: 1, ElectionEpoch: 2, PeerEpoch: 1},
		2: {Leader: 3, Zxid: 1, ElectionEpoch: 2, PeerEpoch: 1},
		3: {Leader: 3, Zxid: 1, ElectionEpoch: 1, PeerEpoch: 1}, // other round
	}
	v := Vote{Leader: 3, Zxid: 1, ElectionEpoch: 2, PeerEpoch: 1}
	if q.hasQuorumFor(votes, v) {
		t.Error("two matching votes of five make a quorum")
	}
	votes[4] = v
	if !q.hasQuorumFor(votes, v) {
		t.Error("three matching votes of five are no quorum")
	}
	// Once members follow, only leader and epoch count (Vote.equals).
	a := Vote{Leader: 3, Zxid: 7, ElectionEpoch: 4, PeerEpoch: 2, State: Following}
	b := Vote{Leader: 3, Zxid: 9, ElectionEpoch: 1, PeerEpoch: 2, State: Leading}
	if !sameVote(a, b) {
		t.Error("following/leading votes for the same leader and epoch differ")
	}
}
