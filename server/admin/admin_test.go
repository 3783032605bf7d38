package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/metric"
	"github.com/zkgo/zkgo/server/config"
)

type fakeView struct {
	serving    bool
	cfg        *config.Config
	stats      fourletter.Stats
	conns      []fourletter.Conn
	sessions   []fourletter.Session
	ephemerals map[int64][]string
	watches    []fourletter.Watch
	quorum     *fourletter.Quorum
	metrics    []fourletter.Metric
	resets     int
	connResets int
}

func (f *fakeView) Serving() bool                   { return f.serving }
func (f *fakeView) Config() *config.Config          { return f.cfg }
func (f *fakeView) Stats() fourletter.Stats         { return f.stats }
func (f *fakeView) Connections() []fourletter.Conn  { return f.conns }
func (f *fakeView) Sessions() []fourletter.Session  { return f.sessions }
func (f *fakeView) Ephemerals() map[int64][]string  { return f.ephemerals }
func (f *fakeView) DataWatches() []fourletter.Watch { return f.watches }
func (f *fakeView) Environment() []fourletter.KV {
	return []fourletter.KV{{Key: "zookeeper.version", Value: "3.8.0-zkgo"}, {Key: "host.name", Value: "h"}}
}
func (f *fakeView) Quorum() *fourletter.Quorum   { return f.quorum }
func (f *fakeView) ResetStats()                  { f.resets++ }
func (f *fakeView) ResetConnectionStats()        { f.connResets++ }
func (f *fakeView) Metrics() []fourletter.Metric { return f.metrics }
func (f *fakeView) Digests() []fourletter.ZxidDigest {
	return []fourletter.ZxidDigest{{Zxid: 0x100000080, Version: 2, Digest: 1371985504}}
}

const sid = int64(0x10000046e680000)

func newFake(t testing.TB) *fakeView {
	cfg, err := config.ParseBytes("zoo.cfg", []byte("tickTime=2000\ndataDir=/data\nclientPort=2181\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeView{
		serving: true,
		cfg:     cfg,
		stats: fourletter.Stats{
			Version: "3.8.0-zkgo", Mode: "standalone", LatencyMin: 0, LatencyMax: 7, LatencyTotal: 17, LatencyCount: 8,
			PacketsReceived: 25, PacketsSent: 24, LastZxid: 4, NodeCount: 8, WatchCount: 4, EphemeralsCount: 2,
			GlobalSessions: 1, Uptime: time.Minute, DataDirSize: 100, LogDirSize: 200,
			OpenFileDescriptors: -1, MaxFileDescriptors: -1,
			ClientResponseLast: -1, ClientResponseMin: -1, ClientResponseMax: -1, LastSnapshotZxid: -1,
		},
		conns: []fourletter.Conn{{
			Remote: "127.0.0.1:38948", InterestOps: 1, Received: 8, Sent: 8, SessionID: sid, LastOp: "GETD",
			Established: time.UnixMilli(1795698155267), SessionTimeout: 10 * time.Second, LastCxid: 7, LastZxid: 4,
		}},
		sessions:   []fourletter.Session{{ID: sid, Timeout: 10 * time.Second, Expires: time.UnixMilli(1795698166000)}},
		ephemerals: map[int64][]string{sid: {"/a/e1", "/e2"}},
		watches:    []fourletter.Watch{{SessionID: sid, Path: "/a"}, {SessionID: sid, Path: "/e2"}, {SessionID: 2, Path: "/a"}},
		metrics: []fourletter.Metric{{Name: "fsync_count", Value: int64(3), Counter: true},
			{Name: "fsynctime", Value: metric.Values{Count: 4, Sum: 10, Min: 1, Max: 4, P50: 2, P90: 4, P95: 4, P99: 4, P999: 4}},
			{Name: "readlatency", Value: metric.Values{Count: 5, Sum: 5, Max: 3, Percentiles: true, P50: 1, P90: 2, P95: 3, P99: 3, P999: 3}},
			{Name: "quota_count_limit_per_namespace", Key: "app", Value: int64(7)},
			{Name: "quota_count_limit_per_namespace", Key: "web", Value: int64(-1)}},
	}
}

func startAdmin(t *testing.T, f *fakeView) *Admin {
	t.Helper()
	a := New(f.cfg, f, slog.New(slog.DiscardHandler))
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func getJSON(t *testing.T, a *Admin, name string) map[string]any {
	t.Helper()
	code, body, h := get(t, "http://"+a.Addr()+"/commands/"+name)
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: status %d, content type %q", name, code, h.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, body)
	}
	return m
}

func TestCommandList(t *testing.T) {
	a := startAdmin(t, newFake(t))
	if a.Addr() == "" || strings.HasSuffix(a.Addr(), ":0") {
		t.Fatalf("Addr() = %q, want the real port", a.Addr())
	}
	_, body, _ := get(t, "http://"+a.Addr()+"/commands")
	// Apache 3.8.0's 26 primary names, sorted, as JettyAdminServer links.
	want := []string{"configuration", "connection_stat_reset", "connections", "dirs", "dump", "environment",
		"get_trace_mask", "hash", "initial_configuration", "is_read_only", "last_snapshot", "leader", "monitor",
		"observer_connection_stat_reset", "observers", "ruok", "server_stats", "set_trace_mask", "stat_reset",
		"stats", "system_properties", "voting_view", "watch_summary", "watches", "watches_by_path", "zabstate"}
	var wantBody strings.Builder
	for _, n := range want {
		wantBody.WriteString(`<a href="/commands/` + n + `">` + n + "</a>\n<br/>\n")
	}
	if body != wantBody.String() {
		t.Errorf("list:\n%s\nwant:\n%s", body, wantBody.String())
	}
	_, body2, _ := get(t, "http://"+a.Addr()+"/commands/")
	if body2 != body {
		t.Errorf("/commands/ differs from /commands")
	}
}

func TestAliases(t *testing.T) {
	a := startAdmin(t, newFake(t))
	// Every alias of section 7.4 answers with the primary name.
	aliases := map[string]string{
		"crst": "connection_stat_reset", "conf": "configuration", "config": "configuration",
		"cons": "connections", "env": "environment", "envi": "environment", "gtmk": "get_trace_mask",
		"icfg": "initial_configuration", "isro": "is_read_only", "lsnp": "last_snapshot", "lead": "leader",
		"mntr": "monitor", "orst": "observer_connection_stat_reset", "stmk": "set_trace_mask",
		"srvr": "server_stats", "stat": "stats", "srst": "stat_reset", "obsr": "observers",
		"sysp": "system_properties", "wchc": "watches", "wchp": "watches_by_path", "wchs": "watch_summary",
		"ruok": "ruok", "dirs": "dirs", "dump": "dump", "hash": "hash", "voting_view": "voting_view", "zabstate": "zabstate",
	}
	for alias, primary := range aliases {
		m := getJSON(t, a, alias)
		if m["command"] != primary {
			t.Errorf("%s: command = %v, want %s", alias, m["command"], primary)
		}
		if _, ok := m["error"]; !ok {
			t.Errorf("%s: no error key", alias)
		}
	}
}

func TestCommandResults(t *testing.T) {
	f := newFake(t)
	a := startAdmin(t, f)
	tests := []struct {
		name string
		want map[string]any
	}{
		{"ruok", map[string]any{"command": "ruok", "error": nil}},
		{"dirs", map[string]any{"command": "dirs", "error": nil, "datadir_size": 100.0, "logdir_size": 200.0}},
		{"isro", map[string]any{"command": "is_read_only", "error": nil, "read_only": false}},
		{"wchs", map[string]any{"command": "watch_summary", "error": nil, "num_connections": 2.0, "num_paths": 2.0, "num_total_watches": 3.0}},
		{"wchc", map[string]any{"command": "watches", "error": nil, "session_id_to_watched_paths": map[string]any{
			"72057613070106624": []any{"/a", "/e2"}, "2": []any{"/a"}}}},
		{"wchp", map[string]any{"command": "watches_by_path", "error": nil, "path_to_session_ids": map[string]any{
			"/a": []any{72057613070106624.0, 2.0}, "/e2": []any{72057613070106624.0}}}},
		{"dump", map[string]any{"command": "dump", "error": nil,
			"expiry_time_to_session_ids":    map[string]any{"1795698166000": []any{72057613070106624.0}},
			"session_id_to_ephemeral_paths": map[string]any{"72057613070106624": []any{"/a/e1", "/e2"}}}},
		{"conf", map[string]any{"command": "configuration", "error": nil, "client_port": 2181.0, "data_dir": "/data",
			"data_log_dir": "/data", "tick_time": 2000.0, "max_client_cnxns": 60.0, "min_session_timeout": 4000.0,
			"max_session_timeout": 40000.0, "server_id": 0.0, "client_port_listen_backlog": -1.0}},
		{"lsnp", map[string]any{"command": "last_snapshot", "error": nil, "zxid": "ffffffffffffffff", "timestamp": -1.0}},
		{"lead", map[string]any{"command": "leader", "error": "server is not initialized"}},
		{"zabstate", map[string]any{"command": "zabstate", "error": nil, "voting": false, "zabstate": ""}},
		{"gtmk", map[string]any{"command": "get_trace_mask", "error": nil, "tracemask": 306.0}},
		{"stmk?traceMask=5", map[string]any{"command": "set_trace_mask", "error": nil, "tracemask": 5.0}},
		{"stmk", map[string]any{"command": "set_trace_mask", "error": "setTraceMask requires long traceMask argument"}},
		{"nosuch", map[string]any{"command": "nosuch", "error": "Unknown command: nosuch"}},
		{"voting_view", map[string]any{"command": "voting_view", "error": nil, "current_config": map[string]any{}}},
		{"obsr", map[string]any{"command": "observers", "error": nil, "synced_observers": 0.0, "observers": []any{}}},
	}
	for _, tc := range tests {
		got := getJSON(t, a, tc.name)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", tc.name, got, tc.want)
		}
	}
	getJSON(t, a, "srst")
	getJSON(t, a, "crst")
	if f.resets != 1 || f.connResets != 1 {
		t.Errorf("resets = %d, %d; want 1, 1", f.resets, f.connResets)
	}
}

func TestServerStatsJSON(t *testing.T) {
	a := startAdmin(t, newFake(t))
	_, body, _ := get(t, "http://"+a.Addr()+"/commands/srvr")
	// Jackson's DefaultPrettyPrinter layout, data keys before command/error.
	want := `{
  "version" : "3.8.0-zkgo",
  "read_only" : false,
  "server_stats" : {
    "packets_sent" : 24,
    "packets_received" : 25,
    "fsync_threshold_exceed_count" : 0,
    "client_response_stats" : {
      "last_buffer_size" : -1,
      "min_buffer_size" : -1,
      "max_buffer_size" : -1
    },
    "min_latency" : 0,
    "avg_latency" : 2.125,
    "max_latency" : 7,
    "outstanding_requests" : 0,
    "last_processed_zxid" : 4,
    "data_dir_size" : 100,
    "log_dir_size" : 200,
    "server_state" : "standalone",
    "num_alive_client_connections" : 1,
    "uptime" : 60000,
    "provider_null" : false,
    "non_mtlslocal_conn_count" : 0,
    "non_mtlsremote_conn_count" : 0,
    "auth_failed_count" : 0
  },
  "client_response" : {
    "last_buffer_size" : -1,
    "min_buffer_size" : -1,
    "max_buffer_size" : -1
  },
  "node_count" : 8,
  "command" : "server_stats",
  "error" : null
}`
	if body != want {
		t.Errorf("got:\n%s\nwant:\n%s", body, want)
	}
	m := getJSON(t, a, "stat")
	conns, _ := m["connections"].([]any)
	if len(conns) != 1 {
		t.Fatalf("stat connections = %v", m["connections"])
	}
	want2 := map[string]any{"remote_socket_address": "127.0.0.1:38948", "interest_ops": 1.0,
		"outstanding_requests": 0.0, "packets_received": 8.0, "packets_sent": 8.0}
	if !reflect.DeepEqual(conns[0], want2) {
		t.Errorf("brief connection = %v, want %v", conns[0], want2)
	}
	m = getJSON(t, a, "cons")
	full := m["connections"].([]any)[0].(map[string]any)
	if full["session_id"] != 72057613070106624.0 || full["last_operation"] != "GETD" || full["established"] != 1795698155267.0 || full["session_timeout"] != 10000.0 {
		t.Errorf("full connection = %v", full)
	}
}

func TestNotServing(t *testing.T) {
	f := newFake(t)
	f.serving = false
	a := startAdmin(t, f)
	m := getJSON(t, a, "srvr")
	want := map[string]any{"command": "srvr", "error": "This ZooKeeper instance is not currently serving requests"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("srvr: %v", m)
	}
	// monitor and environment are not server-required (CommandBase(…, false)).
	if m := getJSON(t, a, "mntr"); m["error"] != nil || m["server_state"] != "standalone" {
		t.Errorf("mntr: %v", m)
	}
	if m := getJSON(t, a, "envi"); m["error"] != nil || m["host.name"] != "h" {
		t.Errorf("envi: %v", m)
	}
}

func TestQuorumCommands(t *testing.T) {
	f := newFake(t)
	cfg, err := config.ParseBytes("zoo.cfg", []byte("tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/d\nclientPort=2181\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889;127.0.0.1:2182\nserver.3=127.0.0.1:2890:3890:observer\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MyID = 1
	cfg.MetricsEnabled = false
	f.cfg = cfg
	f.stats.Mode = "leader"
	f.stats.LastZxid = 0x300000007
	f.quorum = &fourletter.Quorum{PeerState: "leading - broadcast", QuorumSize: 2, ZabState: "broadcast", Voting: true,
		LeaderID: 1, LeaderAddress: "127.0.0.1", SyncedObservers: 1, ProposalLast: 10, ProposalMin: 5, ProposalMax: 20}
	a := startAdmin(t, f)
	if a.MetricsAddr() != "" {
		t.Errorf("metrics listening with MetricsEnabled=false: %s", a.MetricsAddr())
	}
	tests := []struct {
		name string
		want map[string]any
	}{
		{"lead", map[string]any{"command": "leader", "error": nil, "is_leader": true, "leader_id": 1.0, "leader_ip": "127.0.0.1"}},
		{"zabstate", map[string]any{"command": "zabstate", "error": nil, "myid": 1.0, "is_leader": true,
			"quorum_address": "127.0.0.1:2888", "election_address": "127.0.0.1:3888", "client_address": "0.0.0.0:2181",
			"voting": true, "last_zxid": "0x300000007", "zab_epoch": 3.0, "zab_counter": 7.0, "zabstate": "broadcast"}},
		{"voting_view", map[string]any{"command": "voting_view", "error": nil, "current_config": map[string]any{
			"1": map[string]any{"server_addresses": []any{"127.0.0.1:2888"}, "election_addresses": []any{"127.0.0.1:3888"}, "client_address": "0.0.0.0:2181", "learner_type": "participant"},
			"2": map[string]any{"server_addresses": []any{"127.0.0.1:2889"}, "election_addresses": []any{"127.0.0.1:3889"}, "client_address": "127.0.0.1:2182", "learner_type": "participant"},
		}}},
		{"obsr", map[string]any{"command": "observers", "error": nil, "synced_observers": 1.0, "observers": []any{}}},
	}
	for _, tc := range tests {
		if got := getJSON(t, a, tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", tc.name, got, tc.want)
		}
	}
	m := getJSON(t, a, "srvr")
	if ps, _ := m["proposal_stats"].(map[string]any); ps["last_buffer_size"] != 10.0 || ps["max_buffer_size"] != 20.0 {
		t.Errorf("proposal_stats = %v", m["proposal_stats"])
	}
	m = getJSON(t, a, "mntr")
	if m["peer_state"] != "leading - broadcast" || m["synced_observers"] != 1.0 || m["quorum_size"] != 2.0 {
		t.Errorf("mntr = %v", m)
	}
	// A set's member is named as in mntr: key, "_", name.
	if m["app_quota_count_limit_per_namespace"] != 7.0 {
		t.Errorf("mntr's quota gauge: %v", m["app_quota_count_limit_per_namespace"])
	}
}

func TestMetrics(t *testing.T) {
	a := startAdmin(t, newFake(t))
	if a.MetricsAddr() == "" || strings.HasSuffix(a.MetricsAddr(), ":0") {
		t.Fatalf("MetricsAddr() = %q", a.MetricsAddr())
	}
	for _, addr := range []string{a.MetricsAddr(), a.Addr()} {
		code, body, _ := get(t, "http://"+addr+"/metrics")
		if code != 200 {
			t.Fatalf("%s/metrics: %d", addr, code)
		}
		for _, want := range []string{
			"# TYPE znode_count gauge\nznode_count 8\n",
			"# TYPE avg_latency gauge\navg_latency 2.125\n",
			"packets_received 25\n",
			"# TYPE fsync_count counter\nfsync_count 3\n",
			// Apache's Prometheus summaries: the median for all, the 0.9
			// and 0.99 quantiles where mntr prints percentiles.
			"# TYPE fsynctime summary\nfsynctime{quantile=\"0.5\"} 2\nfsynctime_sum 10\nfsynctime_count 4\n",
			"readlatency{quantile=\"0.5\"} 1\nreadlatency{quantile=\"0.9\"} 2\nreadlatency{quantile=\"0.99\"} 3\nreadlatency_sum 5\nreadlatency_count 5\n",
			// A set's members: one metric with Apache's label "key".
			"quota_count_limit_per_namespace{key=\"app\"} 7\nquota_count_limit_per_namespace{key=\"web\"} -1\n",
			"go_goroutines ",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s/metrics lacks %q", addr, want)
			}
		}
		if strings.Contains(body, "server_state") {
			t.Errorf("string value exported as a metric")
		}
		if strings.Contains(body, `fsynctime{quantile="0.99"}`) {
			t.Errorf("fsynctime exported with a 0.99 quantile; Apache's BASIC summaries have the median only")
		}
	}
	// The monitor command has mntr's keys: a summary's avg_, min_, …
	// values, and p50_ … p999_ where Apache's has percentiles.
	_, body, _ := get(t, "http://"+a.Addr()+"/commands/monitor")
	for _, want := range []string{`"avg_fsynctime" : 2.5,`, `"cnt_fsynctime" : 4,`, `"sum_fsynctime" : 10,`, `"max_fsynctime" : 4,`, `"p99_readlatency" : 3,`, `"p999_readlatency" : 3,`} {
		if !strings.Contains(body, want) {
			t.Errorf("monitor lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, "p50_fsynctime") {
		t.Error("monitor prints percentiles of fsynctime, a BASIC summary")
	}
}

func TestPprof(t *testing.T) {
	f := newFake(t)
	a := startAdmin(t, f)
	if code, _, _ := get(t, "http://"+a.Addr()+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("pprof without pprof.enabled: %d", code)
	}
	f2 := newFake(t)
	f2.cfg.PprofEnabled = true
	a2 := startAdmin(t, f2)
	code, body, _ := get(t, "http://"+a2.Addr()+"/debug/pprof/")
	if code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof: %d", code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	a := startAdmin(t, newFake(t))
	resp, err := http.Post("http://"+a.Addr()+"/commands/ruok", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	f := newFake(t)
	f.cfg.AdminServerPort = atoi(t, port)
	a := New(f.cfg, f, nil)
	err = a.Start()
	if err == nil {
		a.Close()
		t.Fatal("Start on a busy port succeeded")
	}
	want := "admin server: cannot listen on 127.0.0.1:" + port + ": bind: address already in use (change admin.serverPort, or admin.enableServer=false)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Error("multi-line error")
	}
	// The metrics port must not be left open after the failure.
	if a.MetricsAddr() != "" {
		t.Error("metrics listening after a failed Start")
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}

func TestDisabled(t *testing.T) {
	f := newFake(t)
	f.cfg.AdminEnableServer = false
	f.cfg.MetricsEnabled = false
	a := New(f.cfg, f, nil)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if a.Addr() != "" || a.MetricsAddr() != "" {
		t.Errorf("listening while disabled: %q %q", a.Addr(), a.MetricsAddr())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestCloseStopsListening(t *testing.T) {
	f := newFake(t)
	a := New(f.cfg, f, nil)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	addr := a.Addr()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Close")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
