package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/servertest"
)

// An ensemble's members show Apache's ServerMetrics of replication in
// mntr: every member took part in an election (looking_count; the voters'
// election_time); the leader counts its proposals and commits, and the
// learners it synced (diff_count, snap_count); followers count the
// proposals and the commits they received and the time their sync took;
// the observer counts the committed txns it was informed of and its sync.
func TestQuorumServerMetrics(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 1)
	l, c := leaderClient(t, e)
	const writes = 25
	for i := range writes {
		if _, err := c.Create(fmt.Sprintf("/q%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	waitApplied(t, e, l)
	mntr := func(i int) map[string]int64 { return mntrNumbers(t, e.Servers[i].Addr()) }
	observer := len(e.Servers) - 1
	for i := range e.Servers {
		m := mntr(i)
		// Every member looked for a leader; Apache's observers record no
		// election time.
		if m["zk_looking_count"] < 1 || (m["zk_cnt_election_time"] == 0) != (i == observer) {
			t.Errorf("member %d: looking_count %d, cnt_election_time %d", i+1, m["zk_looking_count"], m["zk_cnt_election_time"])
		}
		switch {
		case i == l:
			if m["zk_proposal_count"] < writes || m["zk_commit_count"] != m["zk_proposal_count"] || m["zk_cnt_quorum_ack_latency"] != m["zk_commit_count"] {
				t.Errorf("leader: proposal_count %d, commit_count %d, cnt_quorum_ack_latency %d after %d writes, all committed",
					m["zk_proposal_count"], m["zk_commit_count"], m["zk_cnt_quorum_ack_latency"], writes)
			}
			if n := m["zk_diff_count"] + m["zk_snap_count"]; n < 3 {
				t.Errorf("leader: diff_count + snap_count %d; it synced 3 learners", n)
			}
		case i == observer:
			if m["zk_learner_commit_received_count"] < writes || m["zk_learner_proposal_received_count"] != 0 || m["zk_cnt_observer_sync_time"] != 1 {
				t.Errorf("observer: learner_commit_received_count %d, learner_proposal_received_count %d, cnt_observer_sync_time %d",
					m["zk_learner_commit_received_count"], m["zk_learner_proposal_received_count"], m["zk_cnt_observer_sync_time"])
			}
		default:
			if m["zk_learner_proposal_received_count"] < writes || m["zk_learner_commit_received_count"] < writes || m["zk_cnt_follower_sync_time"] != 1 ||
				m["zk_cnt_proposal_latency"] != m["zk_learner_proposal_received_count"] {
				t.Errorf("follower %d: learner_proposal_received_count %d, learner_commit_received_count %d, cnt_follower_sync_time %d, cnt_proposal_latency %d",
					i+1, m["zk_learner_proposal_received_count"], m["zk_learner_commit_received_count"], m["zk_cnt_follower_sync_time"], m["zk_cnt_proposal_latency"])
			}
		}
	}

	// A follower that comes back gets what it missed in its sync, which
	// counts as no proposal or commit received (Apache's learners count
	// those of the broadcast only), and then the next write.
	f := (l + 1) % 3
	e.Servers[f].Stop()
	for i := range writes {
		if _, err := c.Create(fmt.Sprintf("/r%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	e.Servers[f].Restart()
	e.WaitServing(30 * time.Second)
	if _, err := c.Create("/last", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, l)
	m := mntr(f)
	if m["zk_learner_proposal_received_count"] != 1 || m["zk_learner_commit_received_count"] != 1 {
		t.Errorf("restarted follower: learner_proposal_received_count %d, learner_commit_received_count %d after its sync and one write; want 1 and 1",
			m["zk_learner_proposal_received_count"], m["zk_learner_commit_received_count"])
	}
}

// The leader reports its proposals' sizes as Apache's does (srvr's
// "Proposal sizes last/min/max", mntr's zk_*_proposal_size): the bytes of
// the txn (a 32-byte header and its record) and of the TxnDigest (12)
// that Apache's proposals carry; srst forgets them. Learners propose
// nothing and have no such keys.
func TestLeaderProposalSizes(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	l, c := leaderClient(t, e)
	if _, err := c.Create("/p", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	addr := e.Servers[l].Addr()
	sizes := func() [3]int64 {
		t.Helper()
		st, err := servertest.Srvr(addr)
		if err != nil {
			t.Fatal(err)
		}
		return [3]int64{st.ProposalLast, st.ProposalMin, st.ProposalMax}
	}
	// CreateTxn of /p: path 4+2, data 4+5, ACL vector 4 + (perms 4,
	// "world" 4+5, "anyone" 4+6), ephemeral 1, parentCVersion 4.
	const create = 32 + 6 + 9 + 27 + 1 + 4 + 12
	// The session's createSession (timeout 4) came before it.
	if got := sizes(); got != [3]int64{create, 32 + 4 + 12, create} {
		t.Errorf("after createSession and create: proposal sizes last/min/max %v, want [%d %d %d]", got, create, 48, create)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := fourletter.Query(ctx, addr, "srst"); err != nil {
		t.Fatal(err)
	}
	if got := sizes(); got != [3]int64{-1, -1, -1} {
		t.Errorf("after srst: proposal sizes %v, want -1 each", got)
	}
	// SetDataTxn of /p: path 4+2, data 4+2, version 4.
	const set = 32 + 6 + 6 + 4 + 12
	if _, err := c.Set("/p", []byte("hi"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/p/q", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if got, want := sizes(), [3]int64{create + 2, set, create + 2}; got != want {
		t.Errorf("after set and create: proposal sizes %v, want %v", got, want)
	}
	m := mntrNumbers(t, addr)
	if m["zk_last_proposal_size"] != create+2 || m["zk_min_proposal_size"] != set || m["zk_max_proposal_size"] != create+2 {
		t.Errorf("leader's mntr: zk_last/min/max_proposal_size %d/%d/%d, want %d/%d/%d", m["zk_last_proposal_size"],
			m["zk_min_proposal_size"], m["zk_max_proposal_size"], create+2, set, create+2)
	}
	for i, s := range e.Servers {
		if i == l {
			continue
		}
		raw, err := servertest.Mntr(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := raw["zk_last_proposal_size"]; ok {
			t.Errorf("follower %d's mntr has zk_last_proposal_size %s; Apache's learners have none", i+1, v)
		}
	}
}
