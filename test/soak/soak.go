package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/clusterstatus"
)

// Config is one soak run.
type Config struct {
	Zkserver string        // the zkserver binary
	Dir      string        // members' files; a temporary directory (removed after a passing run) when empty
	Duration time.Duration // load time (default 1m)
	Members  int           // default 3
	Clients  int           // default 6
	Keys     int           // keys per client (default 40)
	// KillEvery is the mean time between SIGKILLs of a random member
	// (default Duration/15, at least 2s); each stays down up to MaxDown.
	KillEvery time.Duration
	MaxDown   time.Duration // default 3s
	// ReportEvery is the period of the table rows (default Duration/20, between 1s and 30s).
	ReportEvery time.Duration
	// Bounds: any sample above MaxRSS or MaxFDs fails the run, and so does a
	// process whose RSS grew more than GrowthFactor times (and by more than
	// 64 MiB) or whose fd count grew by more than FDGrowth after warm-up.
	MaxRSS       int64   // default 1 GiB
	MaxFDs       int     // default 1000
	GrowthFactor float64 // default 4
	FDGrowth     int     // default 200
	TickTime     time.Duration
	// Pprof turns on each member's AdminServer with /debug/pprof and saves
	// its heap profile (DIR/serverN/heap.pprof) at the end of the load.
	Pprof bool
	// Extra are zoo.cfg lines (KEY=VALUE) every member's file ends with,
	// e.g. quorum.auth.* for members that log in to each other.
	Extra []string
	Seed  uint64
	Out   io.Writer // the report (default os.Stdout)
}

// Result is what a run found.
type Result struct {
	Ops      int64
	Acked    int64
	Errors   map[string]int64
	Kills    int
	Lost     int      // acknowledged writes missing or wrong on some member, plus faults seen during the run
	Faults   []string // what was lost or wrong
	Passed   int
	Failed   int
	Failures []string
}

func (c *Config) defaults() {
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Members == 0 {
		c.Members = 3
	}
	if c.Clients == 0 {
		c.Clients = 6
	}
	if c.Keys == 0 {
		c.Keys = 40
	}
	if c.KillEvery == 0 {
		c.KillEvery = max(c.Duration/15, 2*time.Second)
	}
	if c.MaxDown == 0 {
		c.MaxDown = 3 * time.Second
	}
	if c.ReportEvery == 0 {
		c.ReportEvery = min(max(c.Duration/20, time.Second), 30*time.Second)
	}
	if c.MaxRSS == 0 {
		c.MaxRSS = 1 << 30
	}
	if c.MaxFDs == 0 {
		c.MaxFDs = 1000
	}
	if c.GrowthFactor == 0 {
		c.GrowthFactor = 4
	}
	if c.FDGrowth == 0 {
		c.FDGrowth = 200
	}
	if c.TickTime == 0 {
		c.TickTime = 500 * time.Millisecond
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

type run struct {
	cfg     Config
	out     io.Writer
	members []*member
	addrs   []string
	st      stats
	rng     *rand.Rand

	mu       sync.Mutex
	kills    int
	checks   []string          // "PASS name" / "FAIL name: why"
	growth   map[string]string // member+kind → the largest growth seen
	maxRSS   []int64
	maxFDs   []int
	lastSmpl []sample
}

func (r *run) check(ok bool, name string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok {
		r.checks = append(r.checks, "PASS "+name)
		return
	}
	r.checks = append(r.checks, "FAIL "+name+": "+fmt.Sprintf(format, args...))
}

// Run runs a soak and returns what it found. The error is for a run that
// could not be carried out (binary missing, ensemble never serving); a run
// that finds lost writes returns them in Result with a nil error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if _, err := os.Stat(cfg.Zkserver); err != nil {
		return nil, fmt.Errorf("zkserver binary: %w", err)
	}
	dir, tmp := cfg.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "zkgo-soak-")
		if err != nil {
			return nil, fmt.Errorf("soak dir: %w", err)
		}
		dir, tmp = d, true
	}
	zk.DefaultLogger = log.New(io.Discard, "", 0)
	r := &run{cfg: cfg, out: cfg.Out, rng: rand.New(rand.NewPCG(cfg.Seed, 0x50a4)), growth: map[string]string{}}
	fmt.Fprintf(r.out, "soak: seed=%d duration=%s members=%d clients=%d keys/client=%d kill every ~%s (down up to %s) dir=%s\n",
		cfg.Seed, cfg.Duration, cfg.Members, cfg.Clients, cfg.Keys, cfg.KillEvery, cfg.MaxDown, dir)
	ms, err := writeMembers(dir, cfg.Zkserver, cfg.Members, cfg.TickTime, cfg.Pprof, cfg.Extra)
	if err != nil {
		return nil, err
	}
	r.members = ms
	r.maxRSS = make([]int64, len(ms))
	r.maxFDs = make([]int, len(ms))
	r.lastSmpl = make([]sample, len(ms))
	for _, m := range ms {
		r.addrs = append(r.addrs, m.client)
	}
	defer func() {
		for _, m := range ms {
			m.kill()
		}
	}()
	for _, m := range ms {
		if err := m.start(); err != nil {
			return nil, err
		}
	}
	if err := waitServing(ctx, ms, 60*time.Second); err != nil {
		return nil, err
	}
	res, err := r.soak(ctx)
	if err != nil {
		return nil, err
	}
	if tmp && res.Failed == 0 {
		for _, m := range ms {
			m.kill()
		}
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(r.out, "soak: members' files and logs kept in %s\n", dir)
	}
	return res, nil
}

func (r *run) connect(addrs []string) (*zk.Conn, error) {
	c, _, err := zk.Connect(addrs, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("connect %v: %w", addrs, err)
	}
	return c, nil
}

// retry runs op until it succeeds or a minute passes (set-up and checks,
// not load).
func retry(ctx context.Context, what string, op func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := op()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

func (r *run) soak(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	admin, err := r.connect(r.addrs)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"/soak", "/soak/seq", "/soak/eph"} {
		err := retry(ctx, "create "+p, func() error {
			_, err := admin.Create(p, nil, 0, acl)
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		})
		if err != nil {
			admin.Close()
			return nil, err
		}
	}
	admin.Close()

	stop := make(chan struct{})
	var clients []*client
	for i := range cfg.Clients {
		// Each client lists the members from a different one, so they spread.
		addrs := append(slices.Clone(r.addrs[i%len(r.addrs):]), r.addrs[:i%len(r.addrs)]...)
		conn, err := r.connect(addrs)
		if err != nil {
			return nil, err
		}
		c := &client{id: i, conn: conn, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), st: &r.st, stopc: stop}
		base := fmt.Sprintf("/soak/c%d", i)
		err = retry(ctx, "create "+base, func() error {
			_, err := conn.Create(base, nil, 0, acl)
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		for j := range cfg.Keys {
			c.keys = append(c.keys, &keyState{path: fmt.Sprintf("%s/k%d", base, j), cands: []value{{}}})
		}
		clients = append(clients, c)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !c.stopped() {
				c.step()
			}
		}()
	}

	// The nemesis: kill a random member now and then, start it again.
	nemesisDone := make(chan struct{})
	var nemesisErr error
	go func() {
		defer close(nemesisDone)
		nemesisErr = r.nemesis(ctx, stop)
	}()

	r.header()
	end := time.NewTimer(cfg.Duration)
	tick := time.NewTicker(cfg.ReportEvery)
	var lastOps int64
	lastAt := start
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end.C:
			break loop
		case now := <-tick.C:
			ops := r.st.ops.Load()
			r.row(now.Sub(start), ops, float64(ops-lastOps)/now.Sub(lastAt).Seconds())
			lastOps, lastAt = ops, now
		}
	}
	tick.Stop()
	close(stop)
	<-nemesisDone
	if nemesisErr != nil {
		return nil, nemesisErr
	}
	// Let the clients' last operations finish (a client whose server is
	// down waits for a connection: the ensemble is whole again now).
	wg.Wait()
	elapsed := time.Since(start)
	ops := r.st.ops.Load()
	r.row(elapsed, ops, float64(ops)/elapsed.Seconds())
	fmt.Fprintf(r.out, "soak: load stopped after %s: %d ops (%.0f/s), %d acknowledged writes, %d errors, %d kills\n",
		elapsed.Round(time.Second), ops, float64(ops)/elapsed.Seconds(), r.st.acked.Load(), r.st.errorCount(), r.kills)

	r.saveHeaps()
	// Resolve what is uncertain through the clients' own sessions, then close them.
	for _, c := range clients {
		for _, k := range c.keys {
			if _, ok := k.known(); !ok {
				_ = retry(ctx, "resolve "+k.path, func() error {
					if c.resolve(k) {
						return nil
					}
					return errors.New("read failed")
				})
			}
		}
		c.conn.Close()
	}
	r.verify(ctx, clients)
	r.bounds()
	return r.result(), nil
}

// nemesis kills a random running member every ~KillEvery (never more than
// one down at a time) and starts it again after up to MaxDown.
func (r *run) nemesis(ctx context.Context, stop <-chan struct{}) error {
	for {
		wait := r.cfg.KillEvery/2 + time.Duration(r.rng.Int64N(int64(r.cfg.KillEvery)))
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return nil
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		m := r.members[r.rng.IntN(len(r.members))]
		mode, _ := m.mode(ctx)
		m.kill()
		r.mu.Lock()
		r.kills++
		n := r.kills
		r.mu.Unlock()
		down := time.Duration(r.rng.Int64N(int64(r.cfg.MaxDown)))
		fmt.Fprintf(r.out, "soak: kill -9 member %d (%s), down %s [kill %d]\n", m.id, orDash(mode), down.Round(time.Millisecond), n)
		t = time.NewTimer(down)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		if err := m.start(); err != nil {
			return err
		}
		// Wait until it serves again before the next kill, so a quorum is
		// always at most one kill away.
		if err := waitServing(ctx, r.members, 60*time.Second); err != nil {
			return fmt.Errorf("after restarting member %d: %w", m.id, err)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (r *run) header() {
	var b strings.Builder
	fmt.Fprintf(&b, "%8s %9s %7s %7s %5s", "time", "ops", "ops/s", "errors", "kills")
	for _, m := range r.members {
		fmt.Fprintf(&b, " | m%d %7s %4s", m.id, "rss MiB", "fds")
	}
	fmt.Fprintln(r.out, b.String())
}

// row samples every member and prints one table row.
func (r *run) row(at time.Duration, ops int64, rate float64) {
	r.mu.Lock()
	kills := r.kills
	r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%8s %9d %7.0f %7d %5d", at.Round(time.Second), ops, rate, r.st.errorCount(), kills)
	for i, m := range r.members {
		s, ok := m.measure()
		if !ok {
			fmt.Fprintf(&b, " | m%d %7s %4s", m.id, "down", "-")
			continue
		}
		fmt.Fprintf(&b, " | m%d %7.1f %4d", m.id, float64(s.rss)/(1<<20), s.fds)
		r.observe(i, m, s)
	}
	fmt.Fprintln(r.out, b.String())
}

// observe keeps the maxima and checks growth within one incarnation: the
// first sample at least 10 s after the process started is its baseline.
func (r *run) observe(i int, m *member, s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxRSS[i] = max(r.maxRSS[i], s.rss)
	r.maxFDs[i] = max(r.maxFDs[i], s.fds)
	r.lastSmpl[i] = s
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.gen != m.gen {
		return
	}
	if m.first == nil {
		if s.at.Sub(m.started) >= 10*time.Second {
			first := s
			m.first = &first
		}
		return
	}
	f := m.first
	if float64(s.rss) > r.cfg.GrowthFactor*float64(f.rss) && s.rss-f.rss > 64<<20 {
		r.growth[fmt.Sprintf("%d rss", m.id)] = fmt.Sprintf("member %d RSS grew from %.1f to %.1f MiB in %s",
			m.id, float64(f.rss)/(1<<20), float64(s.rss)/(1<<20), s.at.Sub(f.at).Round(time.Second))
	}
	if s.fds-f.fds > r.cfg.FDGrowth {
		r.growth[fmt.Sprintf("%d fds", m.id)] = fmt.Sprintf("member %d open fds grew from %d to %d in %s", m.id, f.fds, s.fds, s.at.Sub(f.at).Round(time.Second))
	}
}

func (r *run) bounds() {
	for i, m := range r.members {
		r.check(r.maxRSS[i] <= r.cfg.MaxRSS, fmt.Sprintf("member %d RSS ≤ %d MiB (max %.1f MiB)", m.id, r.cfg.MaxRSS>>20, float64(r.maxRSS[i])/(1<<20)),
			"max %.1f MiB", float64(r.maxRSS[i])/(1<<20))
		r.check(r.maxFDs[i] <= r.cfg.MaxFDs, fmt.Sprintf("member %d open fds ≤ %d (max %d)", m.id, r.cfg.MaxFDs, r.maxFDs[i]), "max %d", r.maxFDs[i])
	}
	var growth []string
	for _, k := range slices.Sorted(maps.Keys(r.growth)) {
		growth = append(growth, r.growth[k])
	}
	r.check(len(growth) == 0, "no RSS or fd growth within a process's life", "%s", strings.Join(growth, "; "))
}

func (r *run) result() *Result {
	r.st.mu.Lock()
	res := &Result{
		Ops: r.st.ops.Load(), Acked: r.st.acked.Load(), Errors: maps.Clone(r.st.errs),
		Kills: r.kills, Lost: len(r.st.faults), Faults: slices.Clone(r.st.faults),
	}
	r.st.mu.Unlock()
	if len(res.Errors) > 0 {
		fmt.Fprintln(r.out, "soak: errors by kind:")
		for _, k := range slices.Sorted(maps.Keys(res.Errors)) {
			fmt.Fprintf(r.out, "  %7d  %s\n", res.Errors[k], k)
		}
	}
	for _, f := range res.Faults {
		fmt.Fprintf(r.out, "soak: LOST: %s\n", f)
	}
	fmt.Fprintf(r.out, "soak: lost writes: %d\n", res.Lost)
	for _, c := range r.checks {
		fmt.Fprintf(r.out, "soak: %s\n", c)
		if strings.HasPrefix(c, "PASS") {
			res.Passed++
		} else {
			res.Failed++
			res.Failures = append(res.Failures, strings.TrimPrefix(c, "FAIL "))
		}
	}
	fmt.Fprintf(r.out, "soak: %d passed, %d failed\n", res.Passed, res.Failed)
	return res
}

// verify asks every member alone, after sync, for every key and every
// acknowledged sequential node; waits for the ephemerals of the closed
// sessions to go; and compares the members' last zxids.
func (r *run) verify(ctx context.Context, clients []*client) {
	r.st.mu.Lock()
	during := len(r.st.faults)
	r.st.mu.Unlock()
	r.check(during == 0, "no lost or wrong value seen by the clients during the load", "%d", during)
	if err := waitServing(ctx, r.members, 60*time.Second); err != nil {
		r.check(false, "ensemble serving at the end", "%v", err)
		return
	}
	var keys, seqs int
	for _, c := range clients {
		keys += len(c.keys)
		seqs += len(c.seqs)
	}
	for _, m := range r.members {
		name := fmt.Sprintf("member %d holds every acknowledged write (%d keys, %d sequential nodes)", m.id, keys, seqs)
		conn, err := r.connect([]string{m.client})
		if err != nil {
			r.check(false, name, "%v", err)
			continue
		}
		lost := 0
		err = retry(ctx, "sync", func() error { _, err := conn.Sync("/"); return err })
		for _, c := range clients {
			for _, k := range c.keys {
				if err != nil {
					break
				}
				var got value
				err = retry(ctx, "get "+k.path, func() error {
					data, _, err := conn.Get(k.path)
					switch {
					case err == nil:
						got = value{true, string(data)}
					case errors.Is(err, zk.ErrNoNode):
						got, err = value{}, nil
					}
					return err
				})
				if err == nil && !k.lost && !slices.Contains(k.cands, got) {
					lost++
					r.st.fault("member %d: %s is %v, acknowledged %v", m.id, k.path, got, k.cands)
				}
			}
		}
		var kids []string
		if err == nil {
			err = retry(ctx, "children /soak/seq", func() error {
				var err error
				kids, _, err = conn.Children("/soak/seq")
				return err
			})
		}
		if err == nil {
			have := make(map[string]bool, len(kids))
			for _, k := range kids {
				have["/soak/seq/"+k] = true
			}
			for _, c := range clients {
				for i, p := range c.seqs {
					if i == 0 && c.delUnknown {
						continue // its delete may have happened
					}
					if !have[p] {
						lost++
						r.st.fault("member %d: acknowledged sequential node %s is missing", m.id, p)
					}
				}
				for _, p := range c.gone {
					if have[p] {
						lost++
						r.st.fault("member %d: sequential node %s is there, its delete was acknowledged", m.id, p)
					}
				}
			}
		}
		conn.Close()
		if err != nil {
			r.check(false, name, "%v", err)
			continue
		}
		r.check(lost == 0, name, "%d lost", lost)
	}

	// Ephemerals: every load session is closed, so none may remain.
	var left []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		left = nil
		for _, m := range r.members {
			conn, err := r.connect([]string{m.client})
			if err != nil {
				left = append(left, fmt.Sprintf("member %d: %v", m.id, err))
				continue
			}
			_, _ = conn.Sync("/")
			kids, _, err := conn.Children("/soak/eph")
			conn.Close()
			if err != nil {
				left = append(left, fmt.Sprintf("member %d: %v", m.id, err))
			} else if len(kids) > 0 {
				left = append(left, fmt.Sprintf("member %d: %d ephemerals left (%s…)", m.id, len(kids), kids[0]))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.check(len(left) == 0, "ephemerals of closed sessions are gone on every member", "%s", strings.Join(left, "; "))

	var zx []string
	deadline = time.Now().Add(20 * time.Second)
	for {
		zx = nil
		seen := map[int64]bool{}
		for _, m := range r.members {
			_, z := m.mode(ctx)
			seen[z] = true
			zx = append(zx, fmt.Sprintf("%d:0x%x", m.id, z))
		}
		if len(seen) == 1 || time.Now().After(deadline) {
			r.check(len(seen) == 1, "members agree on the last zxid ("+strings.Join(zx, " ")+")", "%s", strings.Join(zx, " "))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// And on the tree digests they logged (zk status's check).
	addrs := make([]string, len(r.members))
	for i, m := range r.members {
		addrs[i] = m.client
	}
	st := clusterstatus.Check(ctx, addrs, 5*time.Second)
	r.check(st.DigestZxid != "" && !strings.Contains(st.Summary, "digests differ"),
		fmt.Sprintf("members' tree digests agree (at zxid %s)", st.DigestZxid), "%s", st.Summary)
	// And none found its tree differing from a snapshot's or its
	// leader's since it last started (the leader's pings carry its digest).
	var counted []string
	for _, s := range st.Servers {
		if !s.Mntr || s.DigestMismatches > 0 {
			counted = append(counted, fmt.Sprintf("%s: %d (mntr answered: %v)", s.Addr, s.DigestMismatches, s.Mntr))
		}
	}
	r.check(len(counted) == 0, "no member counted a tree digest mismatch", "%s", strings.Join(counted, ", "))
}

// saveHeaps saves every member's heap profile when pprof is on.
func (r *run) saveHeaps() {
	for _, m := range r.members {
		if m.admin == "" {
			continue
		}
		path := filepath.Join(m.dir, "heap.pprof")
		resp, err := http.Get("http://" + m.admin + "/debug/pprof/heap")
		if err != nil {
			fmt.Fprintf(r.out, "soak: member %d heap profile: %v\n", m.id, err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(r.out, "soak: member %d heap profile: %v\n", m.id, err)
			continue
		}
		fmt.Fprintf(r.out, "soak: member %d heap profile: %s\n", m.id, path)
	}
}
