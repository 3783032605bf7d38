package zab

import "slices"

// State is a member's role, as Apache's QuorumPeer.ServerState.
type State int32

// Member states. The numbers are the ones FastLeaderElection puts in its
// notifications.
const (
	Looking State = iota
	Following
	Leading
	Observing
)

func (s State) String() string {
	switch s {
	case Looking:
		return "looking"
	case Following:
		return "following"
	case Leading:
		return "leading"
	case Observing:
		return "observing"
	}
	return "unknown"
}

// Vote is a FastLeaderElection vote: the proposed leader and the epoch and
// last zxid it has, plus the election round (logical clock) and the
// sender's state.
type Vote struct {
	Leader        int64
	Zxid          int64
	ElectionEpoch int64
	PeerEpoch     int64
	State         State
}

// noLeader is an observer's initial proposal: nobody (Apache uses
// Long.MIN_VALUE; an observer never proposes itself).
const noLeader int64 = -1 << 63

// quorum describes the voting members (participants) of an ensemble and
// answers majority questions (Apache's QuorumMaj).
type quorum struct {
	voters map[int64]bool
}

func newQuorum(voterIDs []int64) quorum {
	q := quorum{voters: make(map[int64]bool, len(voterIDs))}
	for _, id := range voterIDs {
		q.voters[id] = true
	}
	return q
}

func (q quorum) isVoter(id int64) bool { return q.voters[id] }

// size is the number of voters that form a majority.
func (q quorum) size() int { return len(q.voters)/2 + 1 }

// contains reports whether the set holds a majority of the voters.
func (q quorum) contains(set map[int64]bool) bool {
	n := 0
	for id, ok := range set {
		if ok && q.voters[id] {
			n++
		}
	}
	return n >= q.size()
}

// betterVote is FastLeaderElection.totalOrderPredicate: is the new vote
// (id, zxid, epoch) better than the current one? Higher peer epoch wins,
// then higher zxid, then higher server id; a non-voter never wins.
func (q quorum) betterVote(newID, newZxid, newEpoch, curID, curZxid, curEpoch int64) bool {
	if !q.isVoter(newID) {
		return false
	}
	return newEpoch > curEpoch ||
		(newEpoch == curEpoch && (newZxid > curZxid || (newZxid == curZxid && newID > curID)))
}

// sameVote is Vote.equals: while looking, every field counts; once a
// member follows or leads, only the leader and its epoch do.
func sameVote(a, b Vote) bool {
	if a.State == Looking || b.State == Looking {
		return a.Leader == b.Leader && a.Zxid == b.Zxid && a.ElectionEpoch == b.ElectionEpoch && a.PeerEpoch == b.PeerEpoch
	}
	return a.Leader == b.Leader && a.PeerEpoch == b.PeerEpoch
}

// hasQuorumFor reports whether the votes received (by sender) that equal v
// come from a majority of the voters.
func (q quorum) hasQuorumFor(votes map[int64]Vote, v Vote) bool {
	set := make(map[int64]bool)
	for sid, got := range votes {
		if sameVote(got, v) {
			set[sid] = true
		}
	}
	return q.contains(set)
}

// committedByQuorum returns the highest zxid that a majority of voters
// have acknowledged, given each voter's cumulative acknowledgement (0 when
// nothing yet). Non-voters are ignored.
func (q quorum) committedByQuorum(acked map[int64]int64) int64 {
	var buf [8]int64 // ensembles are small: no allocation per ACK
	vals := buf[:0]
	for id, z := range acked {
		if q.voters[id] {
			vals = append(vals, z)
		}
	}
	need := q.size()
	if len(vals) < need {
		return 0
	}
	slices.Sort(vals)
	return vals[len(vals)-need]
}
