package fourletter

import (
	"fmt"
	"math"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/metric"
)

// MonitorValues returns mntr's values in order, unprefixed (mntr prints
// "zk_" + Name): version and server_state (ZooKeeperServer.dumpMonitorValues),
// peer_state on a quorum peer, the gauges Apache registers
// (ZooKeeperServer / QuorumZooKeeperServer / LeaderZooKeeperServer
// .registerMetrics; in the order Apache 3.8.0 prints them), then
// v.Metrics(). Values are string, int64 or float64.
func MonitorValues(v View) []Metric {
	st := v.Stats()
	q := v.Quorum()
	out := []Metric{
		{Name: "version", Value: st.Version},
		{Name: "server_state", Value: st.Mode},
	}
	if q != nil {
		out = append(out, Metric{Name: "peer_state", Value: q.PeerState})
		if st.Mode == "observer" {
			// ObserverZooKeeperServer.dumpMonitorValues: the id of the
			// server it follows (-1 while it has none).
			out = append(out, Metric{Name: "observer_master_id", Value: q.MasterID, Help: "Id of the server the observer syncs with"})
		}
	}
	g := func(name string, val any, help string) {
		out = append(out, Metric{Name: name, Value: val, Help: help})
	}
	g("ephemerals_count", st.EphemeralsCount, "Number of ephemeral znodes")
	g("num_alive_connections", int64(len(v.Connections())), "Number of client connections")
	g("avg_latency", st.LatencyAvg(), "Average request latency in ms")
	g("outstanding_requests", st.Outstanding, "Requests received and not yet answered")
	g("znode_count", st.NodeCount, "Number of znodes")
	g("global_sessions", st.GlobalSessions, "Number of global sessions")
	g("non_mtls_remote_conn_count", st.NonMTLSRemoteConnCount, "Remote connections without mutual TLS")
	g("last_client_response_size", st.ClientResponseLast, "Size of the last client response in bytes")
	g("packets_sent", st.PacketsSent, "Packets sent to clients")
	g("packets_received", st.PacketsReceived, "Packets received from clients")
	g("max_client_response_size", st.ClientResponseMax, "Largest client response in bytes")
	g("connection_drop_probability", st.ConnectionDropProbability, "Probability of dropping a new connection (throttling)")
	g("watch_count", st.WatchCount, "Number of watches")
	g("auth_failed_count", st.AuthFailedCount, "Failed authentications")
	g("min_latency", st.LatencyMin, "Minimum request latency in ms")
	if st.MaxFileDescriptors >= 0 {
		g("max_file_descriptor_count", st.MaxFileDescriptors, "Maximum open file descriptors")
	}
	g("approximate_data_size", st.ApproximateDataSize, "Approximate size of the data tree in bytes")
	if st.OpenFileDescriptors >= 0 {
		g("open_file_descriptor_count", st.OpenFileDescriptors, "Open file descriptors")
	}
	g("local_sessions", st.LocalSessions, "Number of local sessions")
	g("uptime", st.Uptime.Milliseconds(), "Server uptime in ms")
	g("max_latency", st.LatencyMax, "Maximum request latency in ms")
	g("outstanding_tls_handshake", st.OutstandingTLSHandshake, "TLS handshakes in progress")
	g("min_client_response_size", st.ClientResponseMin, "Smallest client response in bytes")
	g("non_mtls_local_conn_count", st.NonMTLSLocalConnCount, "Local connections without mutual TLS")
	if q != nil {
		g("quorum_size", int64(q.QuorumSize), "Number of voting members")
		if st.Mode == "leader" {
			g("learners", int64(q.Learners), "Connected learners")
			g("synced_followers", int64(q.SyncedFollowers), "Synced voting followers")
			g("synced_non_voting_followers", int64(q.SyncedNonVotingFollowers), "Synced non-voting followers")
			g("synced_observers", int64(q.SyncedObservers), "Synced observers")
			g("pending_syncs", int64(q.PendingSyncs), "Pending syncs")
			g("leader_uptime", q.LeaderUptime.Milliseconds(), "Time as leader in ms")
			g("last_proposal_size", q.ProposalLast, "Size of the last proposal in bytes")
			g("max_proposal_size", q.ProposalMax, "Largest proposal in bytes")
			g("min_proposal_size", q.ProposalMin, "Smallest proposal in bytes")
		}
	}
	out = append(out, v.Metrics()...)
	return out
}

// ServerMetrics are m's summaries and counters as mntr values, with
// Apache's names.
func ServerMetrics(m *metric.Server) []Metric {
	all := m.All()
	out := make([]Metric, 0, len(all))
	for _, n := range all {
		if n.Summary != nil {
			out = append(out, Metric{Name: n.Name, Value: n.Summary.Values(), Help: n.Help})
		} else {
			out = append(out, Metric{Name: n.Name, Value: n.Counter.Load(), Help: n.Help, Counter: true})
		}
	}
	return out
}

// Flatten expands each summary among ms (a Metric whose Value is a
// metric.Values) into Apache's mntr entries: avg_, min_, max_, cnt_ and
// sum_<name> and, with percentiles, p50_, p95_, p99_ and p999_<name>.
func Flatten(ms []Metric) []Metric {
	out := make([]Metric, 0, len(ms))
	for _, m := range ms {
		sv, ok := m.Value.(metric.Values)
		if !ok {
			out = append(out, m)
			continue
		}
		add := func(prefix string, v any) {
			out = append(out, Metric{Name: prefix + m.Name, Value: v, Help: m.Help, Key: m.Key})
		}
		add("avg_", sv.Avg())
		add("min_", sv.Min)
		add("max_", sv.Max)
		add("cnt_", sv.Count)
		add("sum_", sv.Sum)
		if sv.Percentiles {
			add("p50_", sv.P50)
			add("p95_", sv.P95)
			add("p99_", sv.P99)
			add("p999_", sv.P999)
		}
	}
	return out
}

// Monitor returns mntr's lines as key (without "zk_") and value, each
// value formatted as MonitorCommand.print does.
func Monitor(v View) []KV {
	ms := Flatten(MonitorValues(v))
	out := make([]KV, 0, len(ms))
	for _, m := range ms {
		out = append(out, KV{Key: m.MntrName(), Value: FormatValue(m.Value)})
	}
	return out
}

// FormatValue formats a mntr value as Apache's MonitorCommand: integers
// as integers, other numbers as Java doubles, the rest with %v.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return JavaDouble(x)
	case float32:
		return JavaDouble(float64(x))
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// JavaDouble formats f as Java's Double.toString: "0.0", "2.125",
// "1.0E7", "1.234E-5", "NaN", "Infinity".
func JavaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // e.g. 1.234E+07
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// DefaultEnvironment builds envi's list for this process with Apache's
// keys (Environment.list): zookeeper.version, host.name, the java.*
// properties ("<NA>": there is no JVM, except java.io.tmpdir), os.*,
// user.*, os.memory.free/max/total in MB from the Go runtime, and a
// last go.version line.
func DefaultEnvironment(version string) []KV {
	na := "<NA>"
	host, err := os.Hostname()
	if err != nil {
		host = na
	}
	uname, uhome := na, na
	if u, err := user.Current(); err == nil {
		uname, uhome = u.Username, u.HomeDir
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = na
	}
	osName := runtime.GOOS
	if osName != "" {
		osName = strings.ToUpper(osName[:1]) + osName[1:] // linux -> Linux, as Java's os.name
	}
	osVersion := na
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		osVersion = strings.TrimSpace(string(b))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mb = 1024 * 1024
	return []KV{
		{"zookeeper.version", version},
		{"host.name", host},
		{"java.version", na},
		{"java.vendor", na},
		{"java.home", na},
		{"java.class.path", na},
		{"java.library.path", na},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", na},
		{"os.name", osName},
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion},
		{"user.name", uname},
		{"user.home", uhome},
		{"user.dir", wd},
		// Java: free = heap obtained but unused, max = heap limit,
		// total = heap obtained. Go: idle heap, memory obtained from the
		// OS, heap obtained.
		{"os.memory.free", strconv.FormatUint((ms.HeapIdle-ms.HeapReleased)/mb, 10) + "MB"},
		{"os.memory.max", strconv.FormatUint(ms.Sys/mb, 10) + "MB"},
		{"os.memory.total", strconv.FormatUint(ms.HeapSys/mb, 10) + "MB"},
		{"go.version", runtime.Version()},
	}
}
