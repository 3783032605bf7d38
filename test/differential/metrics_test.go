package differential

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/servertest"
)

// metricKeys are the ServerMetrics values one scenario makes the same on
// any server that counts as Apache's does: how many watchers each kind of
// event fired (node_*_watch_count), the connect requests, the requests
// that made a txn (cnt_updatelatency: the sessions' creation and closing
// count) and the others, and the packets and bytes received and sent.
var metricKeys = []string{
	"zk_cnt_node_created_watch_count", "zk_sum_node_created_watch_count",
	"zk_cnt_node_deleted_watch_count", "zk_sum_node_deleted_watch_count",
	"zk_cnt_node_changed_watch_count", "zk_sum_node_changed_watch_count",
	"zk_cnt_node_children_watch_count", "zk_sum_node_children_watch_count",
	"zk_connection_request_count", "zk_cnt_updatelatency", "zk_cnt_readlatency", "zk_cnt_propagation_latency",
	"zk_packets_received", "zk_packets_sent", "zk_bytes_received_count", "zk_response_bytes",
}

// ensembleMetricKeys are the ServerMetrics values of replication that a
// scenario of writes makes the same on each role of any ensemble that
// counts as Apache's does. A "+" sums values: how the leader syncs a
// learner at start-up (DIFF or SNAP) is up to timing in Apache's.
var ensembleMetricKeys = []string{
	"zk_proposal_count", "zk_commit_count",
	"zk_learner_proposal_received_count", "zk_learner_commit_received_count",
	"zk_diff_count+zk_snap_count", "zk_looking_count", "zk_cnt_election_time", "zk_cnt_propagation_latency",
	"zk_cnt_proposal_latency", "zk_cnt_quorum_ack_latency",
	"zk_cnt_follower_sync_time", "zk_cnt_observer_sync_time",
}

// leaderMetricKeys are the leader's own: its proposals' sizes in bytes
// (Apache's proposal is the txn and its TxnDigest).
var leaderMetricKeys = []string{"zk_last_proposal_size", "zk_min_proposal_size", "zk_max_proposal_size"}

// TestServerMetricsMatchApache runs one scenario of sessions, watches and
// writes against Apache standalone and zkserver standalone, and one of
// writes against an ensemble of each (3 voters and an observer), and
// compares the ServerMetrics values they determine.
func TestServerMetricsMatchApache(t *testing.T) {
	if testing.Short() || !apacheWanted() {
		t.Skip("needs Apache ZooKeeper: set ZKGO_DIFF_APACHE=1 (make compat runs it)")
	}
	apache, _ := startApache(t, 1, 0)
	zks := servertest.Start(t, servertest.WithConfig(zkConfig))
	want := metricScenario(t, apache.all[0])
	got := metricScenario(t, zks.Addr())

	apacheE, _ := startApache(t, 3, 1)
	zkE := servertest.StartEnsemble(t, 3, 1, servertest.WithConfig(zkConfig))
	want = append(want, ensembleMetricScenario(t, apacheE.all)...)
	got = append(got, ensembleMetricScenario(t, zkE.Addrs())...)
	if !slices.Equal(got, want) {
		t.Errorf("zkserver:\n  %s\nApache 3.8:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		// The differing lines last: compat prints a failed suite's last
		// 60 lines only.
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("zkserver %q, Apache 3.8 %q", got[i], want[i])
			}
		}
	} else {
		t.Logf("Apache 3.8 and zkserver:\n  %s", strings.Join(want, "\n  "))
	}
	same := countEqual(got, want)
	fmt.Printf("server metrics: %d passed, %d failed (ServerMetrics values after a scenario, standalone and on each role of an ensemble)\n", same, len(want)-same)
}

// ensembleMetricScenario: a session on the leader makes ten znodes and
// closes; once every member applied all of it, it returns "role key
// value" for each of ensembleMetricKeys on the leader, a follower and the
// observer.
func ensembleMetricScenario(t *testing.T, all []string) []string {
	t.Helper()
	roles := byRole(t, all)
	c, _, err := zk.Connect([]string{roles["leader"]}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := c.Create(fmt.Sprintf("/e%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lead, err := servertest.Mntr(roles["leader"])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := servertest.Srvr(roles["leader"])
		same := lead["zk_global_sessions"] == "0"
		for _, a := range all {
			if st, err := servertest.Srvr(a); err != nil || st.Zxid != want.Zxid {
				same = false
			}
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members of %v did not apply the scenario", all)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	var out []string
	for _, r := range []string{"leader", "follower", "observer"} {
		m, err := servertest.Mntr(roles[r])
		if err != nil {
			t.Fatal(err)
		}
		keys := ensembleMetricKeys
		if r == "leader" {
			keys = append(slices.Clone(keys), leaderMetricKeys...)
		}
		for _, k := range keys {
			var sum int64
			for _, part := range strings.Split(k, "+") {
				n, err := strconv.ParseInt(m[part], 10, 64)
				if err != nil {
					t.Fatalf("%s: mntr %s = %q", roles[r], part, m[part])
				}
				sum += n
			}
			out = append(out, fmt.Sprintf("%s %s %d", r, k, sum))
		}
	}
	return out
}

func countEqual(a, b []string) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			n++
		}
	}
	return n
}

// metricScenario: two sessions; exists, children, data and child watches
// fired by a create, a set and a delete (one of them watched from both
// sides, one by both sessions); a write that fails; both sessions
// closed. It returns "key value" for each of metricKeys.
func metricScenario(t *testing.T, addr string) []string {
	t.Helper()
	dial := func() *zk.Conn {
		c, _, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// mntr itself is traffic: each query is a packet (4 bytes) received
	// and its answer a packet sent per 8192 chars (Apache's
	// SendBufferWriter flushes). The scenario's own traffic is the change
	// between a first and a last query, less theirs and that of the
	// queries between.
	var answers []string
	mntr := func() map[string]string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := fourletter.Query(ctx, addr, "mntr")
		must(err)
		m, err := fourletter.ParseMntr(out)
		must(err)
		answers = append(answers, out)
		return m
	}
	base := mntr()
	a, b := dial(), dial()
	wait := func(what string, ch <-chan zk.Event) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no %s notification", addr, what)
		}
	}
	_, _, created, err := a.ExistsW("/m")
	must(err)
	_, _, kids, err := b.ChildrenW("/")
	must(err)
	_, err = b.Create("/m", nil, 0, zk.WorldACL(zk.PermAll))
	must(err)
	wait("created", created)
	wait("children", kids)
	_, _, ca, err := a.GetW("/m")
	must(err)
	_, _, cb, err := b.GetW("/m")
	must(err)
	_, err = a.Set("/m", []byte("x"), -1)
	must(err)
	wait("a's changed", ca)
	wait("b's changed", cb)
	_, _, d1, err := a.GetW("/m")
	must(err)
	_, _, d2, err := a.ChildrenW("/m")
	must(err)
	_, _, d3, err := b.ExistsW("/m")
	must(err)
	must(b.Delete("/m", -1))
	wait("deleted (data)", d1)
	wait("deleted (child)", d2)
	wait("deleted (b's exists)", d3)
	if _, err := a.Set("/missing", nil, -1); err != zk.ErrNoNode {
		t.Fatalf("%s: set of a missing znode: %v", addr, err)
	}
	a.Close()
	b.Close()
	// The sessions' closing is counted once both are gone.
	var m map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		m = mntr()
		if m["zk_global_sessions"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: sessions still open: %s", addr, m["zk_global_sessions"])
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	queries := int64(len(answers) - 1) // after the first, the last included
	var sentByQueries int64            // answers sent before the last
	for _, out := range answers[:len(answers)-1] {
		sentByQueries += max(1, int64(len(out)+8191)/8192)
	}
	delta := func(k string) int64 {
		now, err1 := strconv.ParseInt(m[k], 10, 64)
		was, err2 := strconv.ParseInt(base[k], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: mntr %s: %q then %q", addr, k, base[k], m[k])
		}
		return now - was
	}
	var out []string
	for _, k := range metricKeys {
		v := m[k]
		switch k {
		case "zk_packets_received":
			v = strconv.FormatInt(delta(k)-queries, 10)
		case "zk_bytes_received_count":
			v = strconv.FormatInt(delta(k)-4*queries, 10)
		case "zk_packets_sent":
			v = strconv.FormatInt(delta(k)-sentByQueries, 10)
		}
		out = append(out, k+" "+v)
	}
	return out
}
