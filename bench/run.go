package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/zkgo/zkgo/server/wire"
)

// Phases of a run, read by every worker before and after each request.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// Latencies are recorded in microseconds, from 1 µs to one minute, with
// three significant digits.
const (
	histMin     = 1
	histMax     = int64(time.Minute / time.Microsecond)
	histSigFigs = 3
)

// Run executes one benchmark: connect every client, create the znodes the
// op needs, run the warm-up and the measured phase, delete what was
// created, and return the merged result. Cancelling ctx ends the load
// early (the result is then marked Interrupted) but still cleans up.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Root == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.Root = "/zkbench-" + hex.EncodeToString(b[:])
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}

	r := &run{cfg: cfg, log: log, stopped: make(chan struct{})}
	defer r.closeAll()
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	if err := r.setup(ctx); err != nil {
		cerr := r.cleanup()
		return nil, errors.Join(err, cerr)
	}
	res := r.load(ctx)
	if err := r.cleanup(); err != nil {
		res.CleanupError = err.Error()
		log.Warn("cleanup incomplete", "root", cfg.Root, "err", err)
	}
	return res, nil
}

// run is the state of one Run call.
type run struct {
	cfg     Config
	log     *slog.Logger
	workers []*worker
	keys    []string // paths of the key set, shared read-only
	phase   atomic.Int32
	stopped chan struct{} // closed with phase set to phaseStop (stop)
	rootOK  bool          // the root znode was created by this run
}

// stop ends the load: workers finish the request they have out, and a
// paced worker waiting for its next send time wakes at once.
func (r *run) stop() {
	if r.phase.Swap(phaseStop) != phaseStop {
		close(r.stopped)
	}
}

// worker is one simulated client; only its own goroutine touches it
// while the load runs.
type worker struct {
	id     int
	server string
	conn   *client
	dir    string // root/w<id>: the worker's own znodes
	hist   *hdrhistogram.Histogram
	// rhist and whist split hist by kind in a mixed run (nil otherwise).
	rhist, whist *hdrhistogram.Histogram
	rng          uint64 // xorshift state
	errs         map[string]int64
	nerr         int64
	done         atomic.Int64 // measured operations, read by the progress loop
	seq          int64        // next index for create/delete names
	next         time.Time    // a paced run's next send time (Config.Rate)
	buf          []byte       // path scratch
	dirOK        bool         // dir was created
	keysOK       []string     // keys this worker created
	// leftover are znodes of a delete run that may still exist.
	leftover []string
}

func (r *run) connect(ctx context.Context) error {
	// A server that refuses connections would only show up as a session
	// that never comes; say so at once.
	seen := map[string]bool{}
	for _, s := range r.cfg.Servers {
		if seen[s] {
			continue
		}
		seen[s] = true
		d := net.Dialer{Timeout: r.cfg.ConnectTimeout}
		c, err := d.DialContext(ctx, "tcp", s)
		if err != nil {
			return fmt.Errorf("connect %s: %w", s, err)
		}
		c.Close()
	}
	n := r.cfg.Clients
	r.workers = make([]*worker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		w := &worker{
			id:     i,
			server: serverFor(r.cfg.Servers, i),
			hist:   hdrhistogram.New(histMin, histMax, histSigFigs),
			rng:    uint64(i)*0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D,
			errs:   map[string]int64{},
			dir:    fmt.Sprintf("%s/w%d", r.cfg.Root, i),
		}
		if r.cfg.Op == OpMixed {
			w.rhist = hdrhistogram.New(histMin, histMax, histSigFigs)
			w.whist = hdrhistogram.New(histMin, histMax, histSigFigs)
		}
		r.workers[i] = w
		wg.Go(func() { errs[i] = w.dial(ctx, r.cfg) })
	}
	wg.Wait()
	return firstOf(errs)
}

// firstOf returns the first non-nil error, saying how many more there were.
func firstOf(errs []error) error {
	var first error
	more := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case first == nil:
			first = err
		default:
			more++
		}
	}
	if first != nil && more > 0 {
		return fmt.Errorf("%w (and %d more clients failed)", first, more)
	}
	return first
}

// serverFor pins client i to server i mod n.
func serverFor(servers []string, i int) string {
	return servers[i%len(servers)]
}

// dial opens the worker's session.
func (w *worker) dial(ctx context.Context, cfg Config) error {
	c, err := dialClient(ctx, w.server, cfg.SessionTimeout, cfg.ConnectTimeout, cfg.Dial)
	if err != nil {
		return fmt.Errorf("client %d: connect %s: %w", w.id, w.server, err)
	}
	w.conn = c
	return nil
}

func (r *run) closeAll() {
	for _, w := range r.workers {
		if w != nil && w.conn != nil {
			w.conn.close()
		}
	}
}

// load runs the warm-up and the measured phase and merges the workers'
// results.
func (r *run) load(ctx context.Context) *Result {
	cfg := r.cfg
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(func() { r.loop(w) })
	}

	start := time.Now()
	total := cfg.Warmup + cfg.Duration
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	phaseTimer := time.NewTimer(cfg.Warmup)
	defer phaseTimer.Stop()
	var measureStart time.Time
	var cpuStart time.Duration
	interrupted := false
	beginMeasure := func() {
		if cfg.OnMeasure != nil {
			cfg.OnMeasure(true)
		}
		measureStart, cpuStart = time.Now(), processCPU()
		r.phase.Store(phaseMeasure)
	}
	if cfg.Warmup == 0 {
		beginMeasure()
		phaseTimer.Reset(cfg.Duration)
	}
	for r.phase.Load() != phaseStop {
		select {
		case <-ctx.Done():
			interrupted = true
			if measureStart.IsZero() {
				beginMeasure()
			}
			r.stop()
		case <-phaseTimer.C:
			if r.phase.Load() == phaseWarmup {
				beginMeasure()
				phaseTimer.Reset(cfg.Duration)
			} else {
				r.stop()
			}
		case now := <-tick.C:
			if cfg.Progress != nil {
				cfg.Progress(min(now.Sub(start), total), total, r.measuredOps())
			}
		}
	}
	measureEnd := time.Now()
	cpuEnd := processCPU()
	if cfg.OnMeasure != nil {
		cfg.OnMeasure(false)
	}
	if cfg.Progress != nil && !interrupted {
		cfg.Progress(total, total, r.measuredOps())
	}
	wg.Wait()

	res := &Result{
		Op:          cfg.Op,
		Servers:     cfg.Servers,
		Clients:     cfg.Clients,
		Size:        cfg.Size,
		Keys:        cfg.Keys,
		Rate:        cfg.Rate,
		Warmup:      SecondsOf(cfg.Warmup),
		Elapsed:     SecondsOf(measureEnd.Sub(measureStart)),
		Errors:      map[string]int64{},
		Interrupted: interrupted,
	}
	if cfg.Op == OpMixed {
		rp := cfg.ReadPct
		res.ReadPct = &rp
	}
	merged := hdrhistogram.New(histMin, histMax, histSigFigs)
	var reads, writes *hdrhistogram.Histogram
	if cfg.Op == OpMixed {
		reads = hdrhistogram.New(histMin, histMax, histSigFigs)
		writes = hdrhistogram.New(histMin, histMax, histSigFigs)
	}
	for _, w := range r.workers {
		merged.Merge(w.hist)
		if reads != nil {
			reads.Merge(w.rhist)
			writes.Merge(w.whist)
		}
		for k, v := range w.errs {
			res.Errors[k] += v
		}
		res.ErrorCount += w.nerr
	}
	res.Ops = merged.TotalCount()
	if d := measureEnd.Sub(measureStart); d > 0 {
		res.OpsPerSec = float64(res.Ops) / d.Seconds()
	}
	res.Latency = latencyOf(merged)
	if reads != nil {
		rl, wl := latencyOf(reads), latencyOf(writes)
		res.ReadLatency, res.WriteLatency = &rl, &wl
		res.Reads, res.Writes = reads.TotalCount(), writes.TotalCount()
	}
	if res.Ops > 0 && cpuEnd > cpuStart {
		res.ClientCPUPerOp = float64(cpuEnd-cpuStart) / float64(time.Microsecond) / float64(res.Ops)
	}
	return res
}

func (r *run) measuredOps() int64 {
	var n int64
	for _, w := range r.workers {
		n += w.done.Load()
	}
	return n
}

// loop is a worker's closed loop: one request in flight until the stop
// phase. Only operations that complete while the phase is "measure" are
// counted.
func (r *run) loop(w *worker) {
	cfg := &r.cfg
	value := make([]byte, cfg.Size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	watchPath := w.dir + "/watch"
	nkeys := uint64(len(r.keys))
	pace := cfg.pace()
	var wake *time.Timer // a paced worker's wait for its next send time
	if pace > 0 {
		// Clients start spread over one interval, not all at once.
		w.next = time.Now().Add(pace * time.Duration(w.id) / time.Duration(cfg.Clients))
		wake = time.NewTimer(time.Hour)
		wake.Stop()
		defer wake.Stop()
	}
	for {
		if r.phase.Load() == phaseStop {
			return
		}
		var (
			err  error
			d    time.Duration
			read bool          // a mixed run's get
			late time.Duration // how long a paced request waited for the one before
		)
		if pace > 0 {
			if wait := time.Until(w.next); wait > 0 {
				wake.Reset(wait)
				select {
				case <-wake.C:
				case <-r.stopped:
					return
				}
			} else {
				late = -wait
			}
			w.next = w.next.Add(pace)
		}
		switch cfg.Op {
		case OpGet:
			p := r.keys[w.rand()%nkeys]
			t0 := time.Now()
			err = w.conn.get(p)
			d = time.Since(t0)
		case OpSet:
			p := r.keys[w.rand()%nkeys]
			t0 := time.Now()
			err = w.conn.set(p, value)
			d = time.Since(t0)
		case OpMixed:
			x := w.rand()
			p := r.keys[x%nkeys]
			read = int((x>>32)%100) < cfg.ReadPct
			t0 := time.Now()
			if read {
				err = w.conn.get(p)
			} else {
				err = w.conn.set(p, value)
			}
			d = time.Since(t0)
		case OpCreate:
			p := w.nextPath()
			t0 := time.Now()
			err = w.conn.create(p, value)
			d = time.Since(t0)
		case OpDelete:
			p := w.nextPath()
			if err = w.conn.create(p, value); err == nil {
				t0 := time.Now()
				err = w.conn.delete(p)
				d = time.Since(t0)
				if err != nil {
					w.leftover = append(w.leftover, p)
				}
			} else {
				// A create that failed on a lost connection may still have
				// been applied: remember it for the cleanup.
				w.leftover = append(w.leftover, p)
			}
		case OpWatch:
			d, err = w.watchOnce(watchPath, value, cfg.SessionTimeout)
		}
		if r.phase.Load() != phaseMeasure {
			if err != nil {
				w.backoff(r)
			}
			continue
		}
		if err != nil {
			w.errs[errKind(err)]++
			w.nerr++
			w.backoff(r)
			continue
		}
		us := int64((d + late) / time.Microsecond)
		if us < histMin {
			us = histMin
		} else if us > histMax {
			us = histMax
		}
		_ = w.hist.RecordValue(us)
		if w.rhist != nil {
			if read {
				_ = w.rhist.RecordValue(us)
			} else {
				_ = w.whist.RecordValue(us)
			}
		}
		w.done.Add(1)
	}
}

// watchOnce arms a data watch on path, sets it and waits for the
// NodeDataChanged notification; it returns the time from the setData to
// the notification.
func (w *worker) watchOnce(path string, value []byte, timeout time.Duration) (time.Duration, error) {
	w.conn.events = w.conn.events[:0]
	if err := w.conn.getW(path); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := w.conn.set(path, value); err != nil {
		return 0, err
	}
	ev, err := w.conn.waitEvent(timeout)
	if err != nil {
		return 0, err
	}
	d := time.Since(t0)
	if ev.Type != wire.EventNodeDataChanged || ev.Path != path {
		return 0, fmt.Errorf("watch on %s: got event type %d on %s, want NodeDataChanged", path, ev.Type, ev.Path)
	}
	return d, nil
}

var errWatchTimeout = errors.New("watch notification not received")

// backoff keeps a worker whose connection broke from spinning: it
// re-attaches the session (or opens a new one if it expired), waiting
// between attempts, until it succeeds or the run stops.
func (w *worker) backoff(r *run) {
	for r.phase.Load() != phaseStop && w.conn.broken {
		if err := w.conn.reconnect(context.Background()); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond) // back-off between reconnects, not a test wait
	}
}

// nextPath returns root/w<id>/n<seq> and advances seq; cleanup deletes
// every index below seq.
func (w *worker) nextPath() string {
	w.buf = appendIndexPath(w.buf[:0], w.dir, w.seq)
	w.seq++
	return string(w.buf)
}

func appendIndexPath(b []byte, dir string, i int64) []byte {
	b = append(b, dir...)
	b = append(b, "/n"...)
	return appendInt(b, i)
}

func appendInt(b []byte, i int64) []byte {
	var tmp [20]byte
	n := len(tmp)
	if i == 0 {
		n--
		tmp[n] = '0'
	}
	for i > 0 {
		n--
		tmp[n] = byte('0' + i%10)
		i /= 10
	}
	return append(b, tmp[n:]...)
}

// rand is xorshift64*: per worker, lock-free, no allocation.
func (w *worker) rand() uint64 {
	x := w.rng
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	w.rng = x
	return x * 2685821657736338717
}

// errKind names an error the way ZooKeeper's KeeperException.Code does.
func errKind(err error) string {
	if errors.Is(err, errWatchTimeout) {
		return "WatchTimeout"
	}
	var ze *wire.Error
	if !errors.As(err, &ze) {
		return err.Error()
	}
	if name, ok := codeNames[ze.Code]; ok {
		return name
	}
	return fmt.Sprintf("Error%d", int32(ze.Code))
}

// codeNames are KeeperException.Code's names of the errors a run can meet.
var codeNames = map[wire.Code]string{
	wire.CodeSystemError:          "SystemError",
	wire.CodeRuntimeInconsistency: "RuntimeInconsistency",
	wire.CodeConnectionLoss:       "ConnectionLoss",
	wire.CodeMarshallingError:     "MarshallingError",
	wire.CodeUnimplemented:        "Unimplemented",
	wire.CodeOperationTimeout:     "OperationTimeout",
	wire.CodeBadArguments:         "BadArguments",
	wire.CodeAPIError:             "APIError",
	wire.CodeNoNode:               "NoNode",
	wire.CodeNoAuth:               "NoAuth",
	wire.CodeBadVersion:           "BadVersion",
	wire.CodeNodeExists:           "NodeExists",
	wire.CodeNotEmpty:             "NotEmpty",
	wire.CodeSessionExpired:       "SessionExpired",
	wire.CodeSessionMoved:         "SessionMoved",
	wire.CodeNotReadOnly:          "NotReadOnly",
	wire.CodeRequestTimeout:       "RequestTimeout",
	wire.CodeThrottled:            "Throttled",
}
