package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/bench"
	"github.com/zkgo/zkgo/server/servertest"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    uint64
		wantErr bool
	}{
		// Field 14 utime = 1500, field 15 stime = 250.
		{"plain", "4242 (java) S 1 4242 4242 0 -1 4194560 100 0 0 0 1500 250 0 0 20 0 40 0 12345 1000 200 18446744073709551615", 1750, false},
		{"command with spaces and parens", "77 (a b) (c)) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 10, false},
		{"truncated", "77 (x) R 1 2 3", 0, true},
		{"no command", "garbage", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.line))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatCPU = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS([]byte("Name:\tjava\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads: 40\n"))
	if err != nil || got != 123456*1024 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 123456*1024)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS line: want an error")
	}
}

func TestOwnProcess(t *testing.T) {
	// Burn a little CPU so that at least one clock tick is accounted.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if c, err := CPUTime(os.Getpid()); err != nil || c <= 0 {
		t.Errorf("CPUTime(self) = %v, %v", c, err)
	}
	if r, err := RSS(os.Getpid()); err != nil || r <= 0 {
		t.Errorf("RSS(self) = %v, %v", r, err)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Error("CPUTime(-1): want an error")
	}
}

func TestProbeAndLoad(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	if err := Probe(ctx, srv.Addr(), "/"); err != nil {
		t.Fatalf("probe /: %v", err)
	}
	if err := Probe(ctx, srv.Addr(), "/missing"); err == nil || !strings.Contains(err.Error(), "error code -101") {
		t.Errorf("probe of a missing znode: %v, want error code -101 (NoNode)", err)
	}
	if err := Load(ctx, srv.Addr(), "/l", 2500, 100); err != nil {
		t.Fatal(err)
	}
	if err := loadConcurrent(ctx, srv.Addr(), "/c", 300, 10); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{LoadPath("/l", 0), LoadPath("/l", 2499), LoadPath("/c", 299)} {
		if err := Probe(ctx, srv.Addr(), p); err != nil {
			t.Errorf("probe %s after load: %v", p, err)
		}
	}
	if err := Probe(ctx, srv.Addr(), LoadPath("/l", 2500)); err == nil {
		t.Errorf("probe %s: loaded one znode too many", LoadPath("/l", 2500))
	}
	start := time.Now()
	if _, err := WaitServed(ctx, srv.Addr(), "/l", start, time.Millisecond, nil); err != nil {
		t.Errorf("WaitServed: %v", err)
	}
	if err := ProbeWrite(ctx, srv.Addr(), "/l"); err != nil {
		t.Errorf("ProbeWrite /l: %v", err)
	}
	conn, err := dial(ctx, []string{srv.Addr()}, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if data, st, err := conn.Get("/l"); err != nil || st.Version != 1 || len(data) != 0 {
		t.Errorf("/l after ProbeWrite: %q version %d, %v; want empty data, version 1", data, st.Version, err)
	}
	if err := ProbeWrite(ctx, srv.Addr(), "/nope"); err == nil || !strings.Contains(err.Error(), "error code -101") {
		t.Errorf("ProbeWrite of a missing znode: %v, want error code -101 (NoNode)", err)
	}
	if err := firstWrite(ctx, []string{"127.0.0.1:1", srv.Addr()}, "/l", 10*time.Second); err != nil {
		t.Errorf("firstWrite through a dead and a live member: %v", err)
	}
}

func TestWaitServedGivesUp(t *testing.T) {
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	_, err = WaitServed(context.Background(), addr, "/", time.Now(), time.Millisecond, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "exited before serving") {
		t.Errorf("dead process: err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := WaitServed(ctx, addr, "/", time.Now(), time.Millisecond, nil); err == nil {
		t.Error("nobody listening: want an error when the context ends")
	}
}

func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	members := []Member{{1, 2181, 2888, 3888}, {2, 2182, 2889, 3889}, {3, 2183, 2890, 3890}}
	cfg, err := WriteConfig(dir, 2182, members, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(cfg)
	for _, want := range []string{"tickTime=2000\n", "forceSync=yes\n", "clientPort=2182\n", "dataDir=" + filepath.Join(dir, "data") + "\n",
		"initLimit=10\n", "server.2=127.0.0.1:2889:3889;127.0.0.1:2182\n", "admin.enableServer=false\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, b)
		}
	}
	myid, err := os.ReadFile(filepath.Join(dir, "data", "myid"))
	if err != nil || string(myid) != "2\n" {
		t.Errorf("myid = %q, %v", myid, err)
	}
	cfg, err = WriteConfig(t.TempDir(), 2181, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(cfg)
	if strings.Contains(string(b), "server.") || strings.Contains(string(b), "initLimit") {
		t.Errorf("standalone zoo.cfg has ensemble keys:\n%s", b)
	}
}

func TestStartProcStopsChild(t *testing.T) {
	dir := t.TempDir()
	// A stand-in server: a shell that ignores nothing and sleeps.
	script := filepath.Join(dir, "fake")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := StartProc(KindZkgo, Binaries{ZKServer: script}, dir, "zoo.cfg", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Alive() {
		t.Fatal("not alive after start")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if p.Alive() {
		t.Error("alive after Stop")
	}
	if _, err := StartProc("other", Binaries{}, dir, "zoo.cfg", ""); err == nil {
		t.Error("unknown kind: want an error")
	}
}

func TestRowsAndTargets(t *testing.T) {
	rep := &Report{}
	rep.AddRow("g", "faster", "ops/s", Higher, 2, ptr(300), ptr(100))
	rep.AddRow("g", "slower", "ops/s", Higher, 2, ptr(150), ptr(100))
	rep.AddRow("g", "lean", "MiB", Lower, 0.4, ptr(30), ptr(100))
	rep.AddRow("g", "fat", "MiB", Lower, 0.4, ptr(50), ptr(100))
	rep.AddRow("g", "no target", "ms", Lower, 0, ptr(1), ptr(2))
	rep.AddRow("g", "apache missing", "ms", Lower, 0.5, ptr(1), nil)
	wantMet := []*bool{ptr2(true), ptr2(false), ptr2(true), ptr2(false), nil, nil}
	for i, row := range rep.Rows {
		if (row.Met == nil) != (wantMet[i] == nil) || (row.Met != nil && *row.Met != *wantMet[i]) {
			t.Errorf("row %q: met = %v, want %v", row.Name, deref(row.Met), deref(wantMet[i]))
		}
	}
	if r := *rep.Rows[0].Ratio; r != 3 {
		t.Errorf("ratio = %v, want zkgo/apache = 3", r)
	}
	if rep.Rows[5].Ratio != nil {
		t.Error("ratio without an Apache value")
	}

	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MEASURE", "faster", "3.00×", "≥ 2×", "≤ 0.4×", "NO", "yes"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := rep.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// One background plus one bar per row that has a ratio.
	if rects != 1+5 {
		t.Errorf("svg has %d rects, want 6", rects)
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Rows) != 6 {
		t.Errorf("json round trip: %v, %d rows", err, len(back.Rows))
	}
}

func ptr2(b bool) *bool { return &b }

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func TestThroughputTarget(t *testing.T) {
	tests := []struct {
		op       bench.Op
		clients  int
		topology string
		want     float64
	}{
		{bench.OpGet, 32, "standalone", 2},
		{bench.OpGet, 32, "ensemble", 2},
		{bench.OpSet, 32, "standalone", 1.5},
		{bench.OpCreate, 32, "ensemble", 2},
		{bench.OpGet, 1, "standalone", 1.5},
		{bench.OpSet, 1, "ensemble", 1.5},
		{bench.OpCreate, 1, "standalone", 0},
		{bench.OpMixed, 32, "standalone", 0},
		{bench.OpGet, 8, "standalone", 0},
	}
	for _, tc := range tests {
		if got := throughputTarget(tc.op, tc.clients, tc.topology); got != tc.want {
			t.Errorf("target(%s, %d, %s) = %v, want %v", tc.op, tc.clients, tc.topology, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// A paced run of the same op and clients as a matrix run gets a row of its
// own, without a target, and never stands in for the closed-loop run in
// the matrix's rows.
func TestPacedRows(t *testing.T) {
	o := DefaultOptions()
	o.Ops, o.Clients = []bench.Op{bench.OpGet}, []int{32}
	o.Paced, o.PacedClients = []Paced{{Op: bench.OpGet, Rate: 20000}}, 32
	r := &runner{o: o, rep: &Report{}}
	run := func(kind Kind, rate float64, opsPerSec float64, p99us int64) Throughput {
		return Throughput{Kind: kind, Topology: "standalone", Result: &bench.Result{
			Op: bench.OpGet, Clients: 32, Rate: rate, OpsPerSec: opsPerSec, Latency: bench.Latency{P99: p99us},
		}}
	}
	// Paced runs first, so that a lookup ignoring the rate would find them.
	r.rep.Runs = []Throughput{
		run(KindZkgo, 20000, 20000, 500), run(KindApache, 20000, 20000, 5000),
		run(KindZkgo, 0, 120000, 2000), run(KindApache, 0, 45000, 1800),
	}
	r.rows()
	byName := map[string]Row{}
	for _, row := range r.rep.Rows {
		byName[row.Name] = row
	}
	closed, ok := byName["get p99, 32 clients, standalone"]
	if !ok || closed.Zkgo == nil || *closed.Zkgo != 2 || *closed.Apache != 1.8 {
		t.Errorf("closed-loop p99 row = %+v, want zkgo 2 ms, apache 1.8 ms", closed)
	}
	if tp := byName["get ops/s, 32 clients, standalone"]; tp.Zkgo == nil || *tp.Zkgo != 120000 {
		t.Errorf("closed-loop ops/s row = %+v, want zkgo 120000", tp)
	}
	paced, ok := byName["get p99 paced at 20k/s, 32 clients, standalone"]
	if !ok {
		t.Fatalf("no paced row in %v", r.rep.Rows)
	}
	if *paced.Zkgo != 0.5 || *paced.Apache != 5 || *paced.Ratio != 0.1 || paced.Met != nil {
		t.Errorf("paced row = %+v, want 0.5 vs 5 ms, ratio 0.1, no target", paced)
	}
}
