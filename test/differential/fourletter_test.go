package differential

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/metric"
	"github.com/zkgo/zkgo/server/servertest"
)

// TestFourLetterWordsByRole compares what operators' scripts parse in the
// four-letter words of an ensemble's leader, followers and observer: the
// keys of mntr and conf and the labels of srvr, Apache's ensemble against
// zkserver's (3 voters and an observer each). Values differ by nature
// (ports, latencies, zxids); the keys a script looks for must not.
func TestFourLetterWordsByRole(t *testing.T) {
	if testing.Short() || !apacheWanted() {
		t.Skip("needs Apache ZooKeeper: set ZKGO_DIFF_APACHE=1 (make compat runs it)")
	}
	apache, _ := startApache(t, 3, 1)
	zk := servertest.StartEnsemble(t, 3, 1, servertest.WithConfig(zkConfig))
	ref, got := byRole(t, apache.all), byRole(t, zk.Addrs())
	passed, failed := 0, 0

	for _, role := range []string{"leader", "follower", "observer"} {
		if ref[role] == "" || got[role] == "" {
			t.Fatalf("no %s: apache %v, zkgo %v", role, ref, got)
		}
		for _, w := range []struct {
			word string
			keys func(string) []string
		}{
			{"mntr", func(s string) []string { return fields(s, "\t") }},
			{"conf", func(s string) []string { return fields(strings.Split(s, "membership:")[0], "=") }},
			{"srvr", func(s string) []string { return fields(s, ":") }},
		} {
			a, z := w.keys(query(t, ref[role], w.word)), w.keys(query(t, got[role], w.word))
			missing, extra := setDiff(a, z), setDiff(z, a)
			if w.word == "mntr" {
				// Of Apache's mntr, zkgo has the monitor values and
				// gauges, and the part of the counters and summaries of
				// the Java server's internals (ServerMetrics) that
				// internal/metric keeps; its own keys are zk_zkgo_*.
				kept := append(serverMetricKeys(), apacheGauges...)
				missing = slices.DeleteFunc(missing, func(k string) bool { return !slices.Contains(kept, k) })
				extra = slices.DeleteFunc(extra, func(k string) bool { return strings.HasPrefix(k, "zk_zkgo_") })
			}
			if len(missing)+len(extra) > 0 {
				failed++
				t.Errorf("%s on a %s: zkgo lacks %q, has beyond Apache %q", w.word, role, missing, extra)
			} else {
				passed++
			}
		}
	}
	fmt.Printf("four-letter words by role: %d passed, %d failed (mntr, conf, srvr on a leader, a follower and an observer)\n", passed, failed)
}

// apacheGauges are the keys of Apache 3.8.0's mntr outside ServerMetrics:
// dumpMonitorValues' and the gauges registered with registerGauge
// (ZooKeeperServer, QuorumZooKeeperServer, LeaderZooKeeperServer,
// ObserverZooKeeperServer).
var apacheGauges = strings.Fields(`zk_version zk_server_state zk_peer_state zk_observer_master_id
	zk_approximate_data_size zk_auth_failed_count zk_avg_latency zk_connection_drop_probability
	zk_ephemerals_count zk_global_sessions zk_last_client_response_size zk_last_proposal_size
	zk_leader_uptime zk_learners zk_local_sessions zk_max_client_response_size
	zk_max_file_descriptor_count zk_max_latency zk_max_proposal_size zk_min_client_response_size
	zk_min_latency zk_min_proposal_size zk_non_mtls_local_conn_count zk_non_mtls_remote_conn_count
	zk_num_alive_connections zk_open_file_descriptor_count zk_outstanding_requests
	zk_outstanding_tls_handshake zk_packets_received zk_packets_sent zk_pending_syncs
	zk_quorum_size zk_synced_followers zk_synced_non_voting_followers zk_synced_observers
	zk_uptime zk_watch_count zk_znode_count`)

// serverMetricKeys are the mntr keys of the ServerMetrics zkgo keeps, a
// summary's avg_, min_, … keys each.
func serverMetricKeys() []string {
	var keys []string
	for _, m := range fourletter.Flatten(fourletter.ServerMetrics(metric.NewServer())) {
		keys = append(keys, "zk_"+m.MntrName())
	}
	return keys
}

func apacheWanted() bool { return os.Getenv("ZKGO_DIFF_APACHE") == "1" }

// byRole maps each role to a member's address, from srvr's Mode, once
// every member has one and one of them leads.
func byRole(t *testing.T, addrs []string, roles ...string) map[string]string {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"leader", "follower", "observer"}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := map[string]string{}
		for _, a := range addrs {
			if m := servertest.Mode(a); m != "" {
				out[m] = a
			}
		}
		if !slices.ContainsFunc(roles, func(r string) bool { return out[r] == "" }) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("members' modes after 30 s: %v", out)
		}
	}
}

func query(t *testing.T, addr, word string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := fourletter.Query(ctx, addr, word)
	if err != nil {
		t.Fatalf("%s on %s: %v", word, addr, err)
	}
	return out
}

// fields returns the part before sep of every line that has one, sorted.
func fields(s, sep string) []string {
	var keys []string
	for _, line := range strings.Split(s, "\n") {
		if k, _, ok := strings.Cut(line, sep); ok {
			keys = append(keys, strings.TrimSpace(k))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// setDiff is what a has and b does not.
func setDiff(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}
