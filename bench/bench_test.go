package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// connect opens an independent go-zookeeper session to check the server's
// state around a run.
func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatalf("no session with %s after 10s", addr)
		}
	}
}

func rootChildren(t *testing.T, conn *zk.Conn) []string {
	t.Helper()
	kids, _, err := conn.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	return kids
}

func shortConfig(addr string, op Op) Config {
	cfg := DefaultConfig()
	cfg.Servers = []string{addr}
	cfg.Op = op
	cfg.Clients = 3
	cfg.Duration = 300 * time.Millisecond
	cfg.Warmup = 100 * time.Millisecond
	cfg.Keys = 50
	cfg.Size = 10
	cfg.SessionTimeout = 4 * time.Second
	return cfg
}

// Every op runs against an in-process server, counts operations without
// errors, and leaves the tree as it found it.
func TestRunEveryOp(t *testing.T) {
	srv := servertest.Start(t)
	check := connect(t, srv.Addr())
	before := rootChildren(t, check)
	for _, op := range Ops {
		t.Run(string(op), func(t *testing.T) {
			cfg := shortConfig(srv.Addr(), op)
			cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
			var progressCalls int
			cfg.Progress = func(el, total time.Duration, ops int64) {
				progressCalls++
				if el > total || ops < 0 {
					t.Errorf("progress(%s, %s, %d) out of range", el, total, ops)
				}
			}
			var phases []bool
			cfg.OnMeasure = func(start bool) { phases = append(phases, start) }
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(phases, []bool{true, false}) {
				t.Errorf("OnMeasure calls = %v, want [true false]", phases)
			}
			if res.Ops == 0 {
				t.Fatalf("no operation completed: %+v", res)
			}
			if res.ErrorCount != 0 || len(res.Errors) != 0 {
				t.Errorf("errors: %d %v", res.ErrorCount, res.Errors)
			}
			if res.CleanupError != "" {
				t.Errorf("cleanup: %s", res.CleanupError)
			}
			l := res.Latency
			if !(l.Min >= 1 && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("latency percentiles out of order: %+v", l)
			}
			if res.OpsPerSec <= 0 || res.Elapsed <= 0 {
				t.Errorf("ops/s %v over %vs", res.OpsPerSec, res.Elapsed)
			}
			if progressCalls == 0 {
				t.Error("progress callback never called")
			}
			if (res.ReadPct != nil) != (op == OpMixed) {
				t.Errorf("read_pct set = %v for op %s", res.ReadPct != nil, op)
			}
			if split := res.ReadLatency != nil && res.WriteLatency != nil; split != (op == OpMixed) {
				t.Errorf("read and write latency set = %v for op %s", split, op)
			}
			if op == OpMixed && res.Reads+res.Writes != res.Ops {
				t.Errorf("mixed: %d reads + %d writes != %d ops", res.Reads, res.Writes, res.Ops)
			}
			if got := rootChildren(t, check); !slices.Equal(got, before) {
				t.Errorf("after the run / has %v, want %v (cleanup)", got, before)
			}
		})
	}
}

// A mixed run counts and times its gets and sets apart: with every
// request a read, no key is ever written and the writes are empty; with
// none a read, only sets are counted, and the keys changed at least as
// often as the run says it set them.
func TestRunMixedSplitsReadsAndWrites(t *testing.T) {
	srv := servertest.Start(t)
	check := connect(t, srv.Addr())
	for _, pct := range []int{100, 0} {
		cfg := shortConfig(srv.Addr(), OpMixed)
		cfg.Root = fmt.Sprintf("/bench-split-%d", pct)
		cfg.ReadPct = pct
		var versions int32
		cfg.OnMeasure = func(start bool) {
			if start {
				return
			}
			// At the end of the measured phase, before the cleanup.
			for i := range cfg.Keys {
				_, st, err := check.Get(fmt.Sprintf("%s/k%d", cfg.Root, i))
				if err != nil {
					t.Errorf("get key %d: %v", i, err)
					return
				}
				versions += st.Version
			}
		}
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Ops == 0 || res.ReadLatency == nil || res.WriteLatency == nil {
			t.Fatalf("read-pct %d: %+v", pct, res)
		}
		switch pct {
		case 100:
			if res.Reads != res.Ops || res.Writes != 0 || *res.WriteLatency != (Latency{}) || versions != 0 {
				t.Errorf("read-pct 100: %d reads, %d writes of %d ops, write latency %+v, key versions sum to %d",
					res.Reads, res.Writes, res.Ops, *res.WriteLatency, versions)
			}
			if res.ReadLatency.P50 == 0 {
				t.Errorf("read-pct 100: read latency %+v", *res.ReadLatency)
			}
		case 0:
			if res.Writes != res.Ops || res.Reads != 0 || *res.ReadLatency != (Latency{}) || int64(versions) < res.Writes {
				t.Errorf("read-pct 0: %d reads, %d writes of %d ops, read latency %+v, key versions sum to %d",
					res.Reads, res.Writes, res.Ops, *res.ReadLatency, versions)
			}
		}
	}
}

// A paced run never sends ahead of its schedule: with -rate R over the
// warm-up and the measured time T, at most R*T requests plus one per
// client (the first of each is due at once) are sent, where a closed loop
// against the same server makes far more. Each counted latency is at least
// the server's own answer time, so percentiles stay ordered.
func TestRunPacedKeepsToRate(t *testing.T) {
	srv := servertest.Start(t)
	for _, op := range []Op{OpGet, OpSet} {
		cfg := shortConfig(srv.Addr(), op)
		cfg.Root = "/bench-paced-" + string(op)
		cfg.Rate = 40
		cfg.Clients = 4
		cfg.Duration = 500 * time.Millisecond
		cfg.Warmup = 100 * time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rate != cfg.Rate {
			t.Errorf("%s: result rate %v, want %v", op, res.Rate, cfg.Rate)
		}
		bound := int64(cfg.Rate*(float64(res.Elapsed)+cfg.Warmup.Seconds())) + int64(cfg.Clients)
		if res.Ops == 0 || res.Ops > bound {
			t.Errorf("%s: %d ops at %v/s over %.2fs, want 1..%d", op, res.Ops, cfg.Rate, float64(res.Elapsed), bound)
		}
		if res.ErrorCount != 0 {
			t.Errorf("%s: errors %v", op, res.Errors)
		}
		l := res.Latency
		if !(l.Min >= 1 && l.P50 <= l.P99 && l.P99 <= l.Max) {
			t.Errorf("%s: latency %+v", op, l)
		}
	}
}

// A paced worker waiting for a send time past the end of the run does not
// hold the run up: at 0.1 requests a second over 4 clients each waits 40 s
// between sends, and the run still ends after its 300 ms.
func TestRunPacedStopsWaitingWorkers(t *testing.T) {
	srv := servertest.Start(t)
	cfg := shortConfig(srv.Addr(), OpGet)
	cfg.Root = "/bench-paced-slow"
	cfg.Clients, cfg.Rate = 4, 0.1
	done := make(chan error, 1)
	var res *Result
	go func() {
		var err error
		res, err = Run(context.Background(), cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run still waiting 20 s into a 0.4 s run: a paced worker's wait was not cut short")
	}
	if res.Ops > 1 {
		t.Errorf("%d ops at 0.1/s in 0.3 s, want at most 1", res.Ops)
	}
}

// The values written by set have the requested size, and the key set
// exists while the run goes on.
func TestRunSetWritesSize(t *testing.T) {
	srv := servertest.Start(t)
	check := connect(t, srv.Addr())
	cfg := shortConfig(srv.Addr(), OpSet)
	cfg.Root = "/bench-size"
	cfg.Size = 321
	cfg.Keys = 5
	seen := false
	cfg.Progress = func(el, total time.Duration, ops int64) {
		if seen || ops == 0 {
			return
		}
		seen = true
		data, st, err := check.Get("/bench-size/k3")
		if err != nil {
			t.Errorf("get key during the run: %v", err)
			return
		}
		if len(data) != 321 {
			t.Errorf("key holds %d bytes, want 321", len(data))
		}
		if st.NumChildren != 0 {
			t.Errorf("key has %d children", st.NumChildren)
		}
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Fatal("no progress call with measured ops")
	}
	if ok, _, err := check.Exists("/bench-size"); err != nil || ok {
		t.Errorf("root still exists after the run (exists=%v, err=%v)", ok, err)
	}
}

// A run never touches a root it did not create.
func TestRunRootExists(t *testing.T) {
	srv := servertest.Start(t)
	check := connect(t, srv.Addr())
	if _, err := check.Create("/mine", []byte("keep"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	cfg := shortConfig(srv.Addr(), OpGet)
	cfg.Root = "/mine"
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want 'already exists'", err)
	}
	data, _, err := check.Get("/mine")
	if err != nil || string(data) != "keep" {
		t.Errorf("/mine after the failed run: %q, %v", data, err)
	}
}

// Cancelling the context ends the run early, marks it interrupted and
// still cleans up.
func TestRunCancel(t *testing.T) {
	srv := servertest.Start(t)
	check := connect(t, srv.Addr())
	cfg := shortConfig(srv.Addr(), OpCreate)
	cfg.Duration = time.Hour
	cfg.Root = "/bench-cancel"
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Progress = func(el, total time.Duration, ops int64) {
		if ops > 20 {
			cancel()
		}
	}
	res, err := Run(ctx, cfg)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted {
		t.Error("result not marked interrupted")
	}
	if ok, _, err := check.Exists("/bench-cancel"); err != nil || ok {
		t.Errorf("root still exists after the run (exists=%v, err=%v)", ok, err)
	}
}

func TestRunRefusedServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := shortConfig(addr, OpGet)
	cfg.ConnectTimeout = 2 * time.Second
	_, err = Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "connect "+addr) {
		t.Fatalf("err = %v, want a connect error naming %s", err, addr)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; none means valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"no server", func(c *Config) { c.Servers = nil }, []string{"server: no server"}},
		{"bad server", func(c *Config) { c.Servers = []string{"localhost"} }, []string{`"localhost" is not host:port`}},
		{"every bad field at once", func(c *Config) {
			c.Clients, c.Duration, c.Keys, c.ReadPct, c.Size = 0, 0, 0, 101, -1
		}, []string{"clients: 0", "duration: 0s", "keys: 0", "read-pct: 101", "size: -1"}},
		{"value over jute.maxbuffer", func(c *Config) { c.Size = 1 << 20 }, []string{"size: 1048576"}},
		{"bad op", func(c *Config) { c.Op = "scan" }, []string{`unknown op "scan"`}},
		{"root /", func(c *Config) { c.Root = "/" }, []string{"root"}},
		{"relative root", func(c *Config) { c.Root = "x" }, []string{"root"}},
		{"negative rate", func(c *Config) { c.Rate = -5 }, []string{"rate: -5"}},
		{"rate not a number", func(c *Config) { c.Rate = math.NaN() }, []string{"rate: NaN"}},
		{"paced", func(c *Config) { c.Rate = 2500.5 }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseOp(t *testing.T) {
	for _, op := range Ops {
		got, err := ParseOp(strings.ToUpper(string(op)))
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %q, %v", strings.ToUpper(string(op)), got, err)
		}
	}
	if _, err := ParseOp("scan"); err == nil {
		t.Error("ParseOp(scan) succeeded")
	}
}

// Client i talks to server i mod n.
func TestServerPinning(t *testing.T) {
	servers := []string{"a:1", "b:2", "c:3"}
	want := []string{"a:1", "b:2", "c:3", "a:1", "b:2", "c:3", "a:1"}
	for i, w := range want {
		if got := serverFor(servers, i); got != w {
			t.Errorf("client %d -> %s, want %s", i, got, w)
		}
	}
}

func TestAppendIndexPath(t *testing.T) {
	for _, tc := range []struct {
		i    int64
		want string
	}{{0, "/r/w1/n0"}, {7, "/r/w1/n7"}, {1234567890, "/r/w1/n1234567890"}} {
		if got := string(appendIndexPath(nil, "/r/w1", tc.i)); got != tc.want {
			t.Errorf("appendIndexPath(%d) = %q, want %q", tc.i, got, tc.want)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func TestErrKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wire.ErrNoNode, "NoNode"},
		{fmt.Errorf("create /a: %w", wire.ErrNodeExists), "NodeExists"},
		{fmt.Errorf("%w: EOF", errConnectionLoss), "ConnectionLoss"},
		{wire.ErrSessionExpired, "SessionExpired"},
		{&wire.Error{Code: -999}, "Error-999"},
		{errWatchTimeout, "WatchTimeout"},
		{errors.New("other thing"), "other thing"},
	} {
		if got := errKind(tc.err); got != tc.want {
			t.Errorf("errKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// The JSON object has the documented keys.
func TestResultJSON(t *testing.T) {
	rp := 90
	r := &Result{Op: OpMixed, Servers: []string{"a:1"}, Clients: 2, ReadPct: &rp, Errors: map[string]int64{"NoNode": 2}, ErrorCount: 2}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"op", "servers", "clients", "size", "keys", "read_pct", "warmup_s", "duration_s", "ops", "ops_per_sec", "latency_us", "errors", "error_count", "client_cpu_us_per_op"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json has no %q: %s", k, b)
		}
	}
	lat := m["latency_us"].(map[string]any)
	for _, k := range []string{"min", "mean", "p50", "p90", "p99", "p99_9", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_us has no %q: %s", k, b)
		}
	}
}
