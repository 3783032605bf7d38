package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/bench"
	"github.com/zkgo/zkgo/fourletter"
)

// Options configure a comparison; DefaultOptions gives `make bench`'s.
type Options struct {
	Bins Binaries
	// WorkDir is where the servers' data directories go (one disk for
	// both); empty means os.TempDir().
	WorkDir string
	// Targets are the servers compared, in the order they run.
	Targets []Kind
	// The load matrix: every op with every client count.
	Ops      []bench.Op
	Clients  []int
	Duration time.Duration
	Warmup   time.Duration
	Size     int
	Keys     int
	ReadPct  int
	// Paced are loads run at a fixed rate after the matrix (zk bench
	// -rate), with PacedClients clients: their p99 compares the servers
	// at the same load, where the matrix's closed loops load each server
	// as far as it goes.
	Paced        []Paced
	PacedClients int
	// Znodes is the size of the tree for the restart and RSS measures.
	Znodes int
	// Repeats is how many times start-up, restart, one-shot get and
	// failover are measured (the report gives the median).
	Repeats int
	// Ensemble adds the 3-node rows (throughput and leader failover).
	Ensemble bool
	// Skip names parts to leave out: "throughput", "startup", "restart",
	// "oneshot", "ensemble".
	Skip []string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// DefaultOptions returns the matrix of issue 6 with durations that keep
// the whole standalone run near five minutes on two cores.
func DefaultOptions() Options {
	return Options{
		Bins:     Binaries{ZKServer: "bin/zkserver", ZK: "bin/zk", ApacheHome: "/usr/share/zookeeper"},
		Targets:  []Kind{KindZkgo, KindApache},
		Ops:      []bench.Op{bench.OpGet, bench.OpSet, bench.OpCreate, bench.OpMixed},
		Clients:  []int{1, 8, 32},
		Duration: 5 * time.Second,
		Warmup:   time.Second,
		Size:     100,
		Keys:     1000,
		ReadPct:  90,
		Znodes:   100000,
		Repeats:  3,
		Paced: []Paced{
			{Op: bench.OpGet, Rate: 20000},
			{Op: bench.OpSet, Rate: 5000},
		},
		PacedClients: 32,
	}
}

// Paced is one paced load: Rate requests per second of Op in all.
type Paced struct {
	Op   bench.Op `json:"op"`
	Rate float64  `json:"rate"`
}

// Sample names in Report.Samples.
const (
	sampleStartup  = "startup_empty_ms"
	sampleRestart  = "restart_100k_first_read_ms"
	sampleCrash    = "restart_after_sigkill_100k_first_read_ms"
	sampleRSS      = "rss_100k_mib"
	sampleOneShot  = "oneshot_get_ms"
	sampleFailover = "leader_kill_to_write_ms"
)

type runner struct {
	o    Options
	rep  *Report
	work string
	mu   sync.Mutex
	live map[*Proc]bool // started and not yet stopped, for the final sweep
}

// Run measures every target and returns the report. Servers it started
// are stopped before it returns, whatever happens.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Repeats < 1 {
		o.Repeats = 1
	}
	work, err := os.MkdirTemp(o.WorkDir, "zkbench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &runner{o: o, work: work, live: map[*Proc]bool{}}
	defer func() {
		r.stopAll()
		os.RemoveAll(work)
	}()
	r.rep = &Report{
		Date:    time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Machine: machineInfo(o.Bins),
		Settings: Settings{
			Duration: o.Duration.Seconds(), Warmup: o.Warmup.Seconds(), Size: o.Size, Keys: o.Keys,
			ReadPct: o.ReadPct, Znodes: o.Znodes, Clients: o.Clients, Ensemble: o.Ensemble, Repeats: o.Repeats,
			Paced: o.Paced, PacedClients: o.PacedClients,
			ServerCfg: "tickTime=2000 forceSync=yes maxClientCnxns=0 admin.enableServer=false, dataDir under " + work,
		},
		Samples: map[string]map[Kind][]float64{},
	}
	for _, op := range o.Ops {
		r.rep.Settings.Ops = append(r.rep.Settings.Ops, string(op))
	}
	// A part that fails is reported and the others still run: a server
	// that cannot do one thing yet should not hide the rest.
	var failed []error
	part := func(kind Kind, name string, fn func() error) {
		if ctx.Err() != nil {
			return
		}
		if err := fn(); err != nil {
			err = fmt.Errorf("%s %s: %w", kind, name, err)
			failed = append(failed, err)
			first, _, _ := strings.Cut(err.Error(), "\n")
			r.rep.Notes = append(r.rep.Notes, "FAILED "+first)
			r.logf("FAILED %v", err)
			r.stopAll()
		}
	}
	for i, kind := range o.Targets {
		if !r.skip("startup") {
			part(kind, "start-up", func() error { return r.startupEmpty(ctx, kind) })
		}
		oneShot := i == 0 && !r.skip("oneshot")
		if !r.skip("throughput") || oneShot {
			part(kind, "standalone load", func() error { return r.standaloneLoad(ctx, kind, oneShot) })
		}
		if !r.skip("restart") && o.Znodes > 0 {
			part(kind, "restart", func() error { return r.restart(ctx, kind, false) })
			part(kind, "restart after SIGKILL", func() error { return r.restart(ctx, kind, true) })
		}
	}
	if o.Ensemble && !r.skip("ensemble") {
		for _, kind := range o.Targets {
			part(kind, "ensemble", func() error { return r.ensemble(ctx, kind) })
		}
	}
	r.rows()
	if ctx.Err() != nil {
		failed = append(failed, ctx.Err())
	}
	return r.rep, errors.Join(failed...)
}

func (r *runner) skip(part string) bool { return slices.Contains(r.o.Skip, part) }

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, format+"\n", args...)
}

func (r *runner) sample(name string, kind Kind, v float64) {
	m := r.rep.Samples[name]
	if m == nil {
		m = map[Kind][]float64{}
		r.rep.Samples[name] = m
	}
	m[kind] = append(m[kind], v)
}

// start writes the configuration into a fresh dir and starts a server.
func (r *runner) start(kind Kind, dir string, port int, members []Member, myid int) (*Proc, error) {
	cfg, err := WriteConfig(dir, port, members, myid)
	if err != nil {
		return nil, err
	}
	return r.startCfg(kind, dir, cfg, fmt.Sprintf("127.0.0.1:%d", port))
}

func (r *runner) startCfg(kind Kind, dir, cfg, addr string) (*Proc, error) {
	p, err := StartProc(kind, r.o.Bins, dir, cfg, addr)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.live[p] = true
	r.mu.Unlock()
	return p, nil
}

func (r *runner) stop(p *Proc) {
	_ = p.Stop()
	r.mu.Lock()
	delete(r.live, p)
	r.mu.Unlock()
}

func (r *runner) stopAll() {
	r.mu.Lock()
	ps := make([]*Proc, 0, len(r.live))
	for p := range r.live {
		ps = append(ps, p)
	}
	r.live = map[*Proc]bool{}
	r.mu.Unlock()
	for _, p := range ps {
		_ = p.Stop()
	}
}

// served waits until p answers a getData of path, and returns the time
// since p started.
func (r *runner) served(ctx context.Context, p *Proc, path string, limit time.Duration) (time.Duration, error) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	d, err := WaitServed(wctx, p.Addr, path, p.Started, 2*time.Millisecond, p.Alive)
	if err != nil {
		return 0, fmt.Errorf("%s on %s: %w\n%s", p.Kind, p.Addr, err, p.LogTail(20))
	}
	return d, nil
}

func (r *runner) startupEmpty(ctx context.Context, kind Kind) error {
	base := filepath.Join(r.work, string(kind))
	for i := range r.o.Repeats {
		ports, err := FreePorts(1)
		if err != nil {
			return err
		}
		p, err := r.start(kind, filepath.Join(base, fmt.Sprintf("empty-%d", i)), ports[0], nil, 0)
		if err != nil {
			return err
		}
		d, err := r.served(ctx, p, "/", 2*time.Minute)
		r.stop(p)
		if err != nil {
			return err
		}
		r.sample(sampleStartup, kind, ms(d))
		r.logf("%-6s start-up to first served request (empty): %s", kind, d.Round(time.Millisecond))
	}
	return nil
}

// standaloneLoad runs the load matrix against one server and, when
// oneShot is set, the one-shot get comparison against it.
func (r *runner) standaloneLoad(ctx context.Context, kind Kind, oneShot bool) error {
	ports, err := FreePorts(1)
	if err != nil {
		return err
	}
	p, err := r.start(kind, filepath.Join(r.work, string(kind), "standalone"), ports[0], nil, 0)
	if err != nil {
		return err
	}
	defer r.stop(p)
	if _, err := r.served(ctx, p, "/", 2*time.Minute); err != nil {
		return err
	}
	if !r.skip("throughput") {
		if err := r.matrix(ctx, kind, "standalone", []*Proc{p}); err != nil {
			return err
		}
	}
	if oneShot {
		return r.oneShot(ctx, p)
	}
	return nil
}

// restart fills a server with Znodes znodes, stops it, and then starts it
// Repeats times, timing the first served read of the last znode and
// reading the RSS a second later. The server is stopped with SIGTERM (a
// clean restart: zkgo writes a snapshot on the way down, Apache does not),
// or with SIGKILL when crash is set (recovery from the log on both).
func (r *runner) restart(ctx context.Context, kind Kind, crash bool) error {
	name, sample := "load", sampleRestart
	halt := func(p *Proc) { r.stop(p) }
	if crash {
		name, sample = "load-killed", sampleCrash
		halt = func(p *Proc) {
			_ = p.Kill()
			r.stop(p)
		}
	}
	dir := filepath.Join(r.work, string(kind), name)
	ports, err := FreePorts(1)
	if err != nil {
		return err
	}
	p, err := r.start(kind, dir, ports[0], nil, 0)
	if err != nil {
		return err
	}
	if _, err := r.served(ctx, p, "/", 2*time.Minute); err != nil {
		r.stop(p)
		return err
	}
	t0 := time.Now()
	if err := loadConcurrent(ctx, p.Addr, "/zkload", r.o.Znodes, 100); err != nil {
		r.stop(p)
		return err
	}
	r.logf("%-6s loaded %d znodes of 100 B in %s", kind, r.o.Znodes, time.Since(t0).Round(time.Millisecond))
	halt(p)
	addr := p.Addr
	last := LoadPath("/zkload", r.o.Znodes-1)
	how := "SIGTERM"
	if crash {
		how = "SIGKILL"
	}
	for range r.o.Repeats {
		p, err := r.startCfg(kind, dir, filepath.Join(dir, "zoo.cfg"), addr)
		if err != nil {
			return err
		}
		d, err := r.served(ctx, p, last, 5*time.Minute)
		if err != nil {
			r.stop(p)
			return err
		}
		r.sample(sample, kind, ms(d))
		if crash {
			halt(p)
			r.logf("%-6s restart after %s with %d znodes to first served read: %s", kind, how, r.o.Znodes, d.Round(time.Millisecond))
			continue
		}
		// Let the start-up finish (JIT, caches) before reading RSS.
		time.Sleep(time.Second)
		rss, err := RSS(p.Pid())
		halt(p)
		if err != nil {
			return err
		}
		r.sample(sampleRSS, kind, float64(rss)/(1<<20))
		r.logf("%-6s restart after %s with %d znodes to first served read: %s, RSS %.1f MiB", kind, how, r.o.Znodes, d.Round(time.Millisecond), float64(rss)/(1<<20))
	}
	return nil
}

// matrix runs every op with every client count against procs.
func (r *runner) matrix(ctx context.Context, kind Kind, topology string, procs []*Proc) error {
	servers := make([]string, len(procs))
	for i, p := range procs {
		servers[i] = p.Addr
	}
	for _, op := range r.o.Ops {
		for _, clients := range r.o.Clients {
			cfg := r.loadConfig(servers, op, clients)
			var cpu0, cpu1 time.Duration
			cfg.OnMeasure = func(start bool) {
				var sum time.Duration
				for _, p := range procs {
					if c, err := CPUTime(p.Pid()); err == nil {
						sum += c
					}
				}
				if start {
					cpu0 = sum
				} else {
					cpu1 = sum
				}
			}
			res, err := bench.Run(ctx, cfg)
			if err == nil && res.Ops == 0 && ctx.Err() == nil {
				// Seen once from Apache's ensemble, one client, first row:
				// its one request did not finish in the measured time, and
				// the row would have been empty. Once more, then as it is.
				r.logf("%-6s %-10s %-6s %2d client(s): no request finished in the measured time; running it again",
					kind, topology, op, clients)
				res, err = bench.Run(ctx, cfg)
			}
			if err != nil {
				return fmt.Errorf("%s %s %s %d clients: %w", kind, topology, op, clients, err)
			}
			t := Throughput{Kind: kind, Topology: topology, Result: res}
			if res.Ops > 0 {
				t.ServerCPUPerOp = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(res.Ops)
			}
			r.rep.Runs = append(r.rep.Runs, t)
			r.logf("%-6s %-10s %-6s %2d client(s): %8.0f ops/s  p99 %6.2f ms  server cpu %6.1f µs/op  errors %d",
				kind, topology, op, clients, res.OpsPerSec, float64(res.Latency.P99)/1000, t.ServerCPUPerOp, res.ErrorCount)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	for _, pl := range r.o.Paced {
		cfg := r.loadConfig(servers, pl.Op, r.o.PacedClients)
		cfg.Rate = pl.Rate
		res, err := bench.Run(ctx, cfg)
		if err != nil {
			return fmt.Errorf("%s %s %s at %.0f/s: %w", kind, topology, pl.Op, pl.Rate, err)
		}
		r.rep.Runs = append(r.rep.Runs, Throughput{Kind: kind, Topology: topology, Result: res})
		r.logf("%-6s %-10s %-6s %2d client(s) paced at %.0f/s: %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  errors %d",
			kind, topology, pl.Op, r.o.PacedClients, pl.Rate, res.OpsPerSec,
			float64(res.Latency.P50)/1000, float64(res.Latency.P99)/1000, res.ErrorCount)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// loadConfig is the zk bench configuration of one load against servers.
func (r *runner) loadConfig(servers []string, op bench.Op, clients int) bench.Config {
	cfg := bench.DefaultConfig()
	cfg.Servers = servers
	cfg.Op = op
	cfg.Clients = clients
	cfg.Duration, cfg.Warmup = r.o.Duration, r.o.Warmup
	cfg.Size, cfg.Keys, cfg.ReadPct = r.o.Size, r.o.Keys, r.o.ReadPct
	return cfg
}

// oneShot times `zk get` and `zkCli.sh get` as whole processes against p.
func (r *runner) oneShot(ctx context.Context, p *Proc) error {
	conn, err := dial(ctx, []string{p.Addr}, 30*time.Second)
	if err != nil {
		return err
	}
	path := "/zkoneshot"
	_, err = conn.Create(path, []byte(strings.Repeat("x", 100)), 0, zk.WorldACL(zk.PermAll))
	conn.Close()
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("one-shot get: create %s: %w", path, err)
	}
	clients := []struct {
		kind Kind
		argv []string
	}{
		{KindZkgo, []string{r.o.Bins.ZK, "-server", p.Addr, "get", path}},
		{KindApache, []string{filepath.Join(r.o.Bins.ApacheHome, "bin", "zkCli.sh"), "-server", p.Addr, "get", path}},
	}
	for _, c := range clients {
		for range r.o.Repeats + 2 {
			cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
			t0 := time.Now()
			out, err := cmd.CombinedOutput()
			d := time.Since(t0)
			if err != nil || !strings.Contains(string(out), strings.Repeat("x", 100)) {
				return fmt.Errorf("one-shot get: %s: %v\n%s", strings.Join(c.argv, " "), err, out)
			}
			r.sample(sampleOneShot, c.kind, ms(d))
		}
		r.logf("%-6s one-shot get (%s): median %.1f ms", c.kind, filepath.Base(c.argv[0]), median(r.rep.Samples[sampleOneShot][c.kind]))
	}
	return nil
}

// ensemble starts three members, runs the load matrix against all of
// them, then kills the leader Repeats times and times the first
// successful write through a client that knows every member.
func (r *runner) ensemble(ctx context.Context, kind Kind) error {
	ports, err := FreePorts(9)
	if err != nil {
		return err
	}
	members := make([]Member, 3)
	for i := range members {
		members[i] = Member{ID: i + 1, ClientPort: ports[3*i], QuorumPort: ports[3*i+1], ElectionPort: ports[3*i+2]}
	}
	procs := make([]*Proc, 3)
	cfgs := make([]string, 3)
	for i, m := range members {
		dir := filepath.Join(r.work, string(kind), fmt.Sprintf("ens-%d", m.ID))
		cfg, err := WriteConfig(dir, m.ClientPort, members, m.ID)
		if err != nil {
			return err
		}
		cfgs[i] = cfg
		if procs[i], err = r.startCfg(kind, dir, cfg, m.Addr()); err != nil {
			return err
		}
	}
	defer func() {
		for _, p := range procs {
			r.stop(p)
		}
	}()
	for _, p := range procs {
		if _, err := r.served(ctx, p, "/", 2*time.Minute); err != nil {
			return err
		}
	}
	// Serving a read is not enough: wait until a write commits through
	// every member (sessions and writes need the established leader), so
	// the first load rows do not measure the ensemble settling.
	for _, p := range procs {
		if err := firstWrite(ctx, []string{p.Addr}, "/", 2*time.Minute); err != nil {
			return fmt.Errorf("%s ensemble: no write through %s: %w", kind, p.Addr, err)
		}
	}
	if !r.skip("throughput") {
		if err := r.matrix(ctx, kind, "ensemble", procs); err != nil {
			return err
		}
	}
	addrs := []string{members[0].Addr(), members[1].Addr(), members[2].Addr()}
	conn, err := dial(ctx, addrs, 10*time.Second)
	if err != nil {
		return err
	}
	_, err = conn.Create("/zkfail", nil, 0, zk.WorldACL(zk.PermAll))
	conn.Close()
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("%s ensemble: create /zkfail: %w", kind, err)
	}
	for range r.o.Repeats {
		li := leaderIndex(ctx, addrs)
		if li < 0 {
			return fmt.Errorf("%s ensemble: no leader among %v", kind, addrs)
		}
		t0 := time.Now()
		if err := procs[li].Kill(); err != nil {
			return err
		}
		if err := firstWrite(ctx, addrs, "/zkfail", 2*time.Minute); err != nil {
			return fmt.Errorf("%s ensemble: after killing leader %s: %w", kind, addrs[li], err)
		}
		d := time.Since(t0)
		r.sample(sampleFailover, kind, ms(d))
		r.logf("%-6s ensemble: leader %s SIGKILL to first successful write: %s", kind, addrs[li], d.Round(time.Millisecond))
		// Bring the member back and wait for a whole ensemble again.
		r.stop(procs[li])
		dir := filepath.Dir(cfgs[li])
		if procs[li], err = r.startCfg(kind, dir, cfgs[li], addrs[li]); err != nil {
			return err
		}
		if _, err := r.served(ctx, procs[li], "/", 2*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// firstWrite tries a write through every member at once, each in a loop
// of fresh sessions (a client that knows all members, without any client
// library's reconnect back-off), and returns when one succeeds.
func firstWrite(ctx context.Context, addrs []string, path string, limit time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	won := make(chan struct{}, len(addrs))
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Go(func() {
			for wctx.Err() == nil {
				pctx, pcancel := context.WithTimeout(wctx, time.Second)
				err := ProbeWrite(pctx, a, path)
				pcancel()
				if err == nil {
					won <- struct{}{}
					return
				}
				select {
				case <-wctx.Done():
				case <-time.After(2 * time.Millisecond):
				}
			}
		})
	}
	defer wg.Wait()
	select {
	case <-won:
		cancel()
		return nil
	case <-wctx.Done():
		return fmt.Errorf("no write within %s", limit)
	}
}

// leaderIndex asks every member for srvr and returns the index of the one
// in mode leader, or -1.
func leaderIndex(ctx context.Context, addrs []string) int {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for i, a := range addrs {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			out, err := fourletter.Query(qctx, a, "srvr")
			cancel()
			if err != nil {
				continue
			}
			if s, err := fourletter.ParseSrvr(out); err == nil && s.Mode == "leader" {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return -1
}

// loadConcurrent creates root and n znodes of size bytes under it with
// single creates (one transaction each, as an application would), from 64
// goroutines over 4 sessions so that the servers can group their fsyncs.
func loadConcurrent(ctx context.Context, addr, root string, n, size int) error {
	conns := make([]*zk.Conn, 4)
	for i := range conns {
		c, err := dial(ctx, []string{addr}, 30*time.Second)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer c.Close()
		conns[i] = c
	}
	acl := zk.WorldACL(zk.PermAll)
	if _, err := conns[0].Create(root, nil, 0, acl); err != nil {
		return fmt.Errorf("load: create %s: %w", root, err)
	}
	value := make([]byte, size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var next atomic.Int64
	errs := make([]error, 64)
	var wg sync.WaitGroup
	for g := range errs {
		conn := conns[g%len(conns)]
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if _, err := conn.Create(LoadPath(root, i), value, 0, acl); err != nil {
					errs[g] = fmt.Errorf("load: create %s: %w", LoadPath(root, i), err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
