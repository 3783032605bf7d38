package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"
)

// Op is the operation a benchmark run issues.
type Op string

// The operations `zk bench -op` accepts.
const (
	// OpGet reads a random key of the pre-created key set (getData).
	OpGet Op = "get"
	// OpSet overwrites a random key with Size bytes (setData, version -1).
	OpSet Op = "set"
	// OpCreate creates a new persistent znode of Size bytes per request.
	OpCreate Op = "create"
	// OpDelete deletes a znode; each measured delete is preceded by an
	// unmeasured create of the znode it deletes (one request in flight).
	OpDelete Op = "delete"
	// OpMixed issues ReadPct percent gets and the rest sets on the key set.
	OpMixed Op = "mixed"
	// OpWatch arms a data watch on the worker's own znode (getData with
	// watch), sets it and waits for the notification; the latency is the
	// time from sending the setData to receiving the NodeDataChanged event.
	OpWatch Op = "watch"
)

// Ops lists every operation in the order the help text shows them.
var Ops = []Op{OpGet, OpSet, OpCreate, OpDelete, OpMixed, OpWatch}

// ParseOp returns the Op named s (case-insensitive).
func ParseOp(s string) (Op, error) {
	for _, op := range Ops {
		if strings.EqualFold(s, string(op)) {
			return op, nil
		}
	}
	names := make([]string, len(Ops))
	for i, op := range Ops {
		names[i] = string(op)
	}
	return "", fmt.Errorf("unknown op %q (want %s)", s, strings.Join(names, "|"))
}

// maxValueSize is the largest value a run writes: Apache's default
// jute.maxbuffer (1 MiB - 1 byte of frame payload) minus room for the
// path and the request header.
const maxValueSize = 1<<20 - 1 - 4096

// DialFunc opens a connection to a server's client port.
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// Config describes one benchmark run. DefaultConfig gives the values of
// `zk bench` without options.
type Config struct {
	// Servers are host:port addresses; client i uses Servers[i%len].
	Servers []string
	// Clients is the number of sessions, each with one request in flight.
	Clients int
	// Op is the operation issued.
	Op Op
	// Duration is the measured phase.
	Duration time.Duration
	// Warmup runs the load before measuring; its operations are not counted.
	Warmup time.Duration
	// Size is the value size in bytes for set, create and the key set.
	Size int
	// Keys is the number of znodes get, set and mixed pick from.
	Keys int
	// ReadPct is the percentage of gets in a mixed run (0..100).
	ReadPct int
	// Root is the znode the run creates everything under; empty picks
	// /zkbench-<random>. It must not exist: the run deletes it at the end.
	Root string
	// SessionTimeout is asked of the server for every session.
	SessionTimeout time.Duration
	// ConnectTimeout bounds the wait for every session to be established.
	ConnectTimeout time.Duration
	// Dial, when set, opens the clients' connections (TLS, a SASL login
	// wrapped around the handshake); nil dials plain TCP within
	// ConnectTimeout.
	Dial DialFunc
	// Rate, when above 0, paces the run at that many requests per second
	// in all (an open loop): each client sends at fixed intervals of
	// Clients/Rate seconds, still one request at a time. A request sent
	// late because the one before it was still out counts the delay in
	// its latency (no coordinated omission); a client that woke late from
	// its own wait does not. 0 is the closed loop: each client sends its
	// next request as soon as the last one is answered.
	Rate float64
	// Logger receives setup, cleanup and connection-level messages; nil
	// discards them.
	Logger *slog.Logger
	// Progress, when set, is called about every 100 ms from Run's own
	// goroutine with the time elapsed since the start (warm-up included),
	// the total planned time and the operations completed so far.
	Progress func(elapsed, total time.Duration, ops int64)
	// OnMeasure, when set, is called from Run's own goroutine right after
	// the measured phase starts (start=true) and right after it ends
	// (start=false), e.g. to sample the server's CPU time.
	OnMeasure func(start bool)
}

// DefaultConfig returns the defaults of `zk bench`.
func DefaultConfig() Config {
	return Config{
		Servers:        []string{"127.0.0.1:2181"},
		Clients:        1,
		Op:             OpGet,
		Duration:       10 * time.Second,
		Warmup:         2 * time.Second,
		Size:           100,
		Keys:           1000,
		ReadPct:        90,
		SessionTimeout: 30 * time.Second,
		ConnectTimeout: 10 * time.Second,
	}
}

// Validate reports every invalid field of c at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Servers) == 0 {
		errs = append(errs, errors.New("server: no server given"))
	}
	for _, s := range c.Servers {
		if s == "" || !strings.Contains(s, ":") {
			errs = append(errs, fmt.Errorf("server: %q is not host:port", s))
		}
	}
	if c.Clients < 1 {
		errs = append(errs, fmt.Errorf("clients: %d, want >= 1", c.Clients))
	}
	if _, err := ParseOp(string(c.Op)); err != nil {
		errs = append(errs, fmt.Errorf("op: %w", err))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration: %s, want > 0", c.Duration))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup: %s, want >= 0", c.Warmup))
	}
	if c.Size < 0 || c.Size > maxValueSize {
		errs = append(errs, fmt.Errorf("size: %d, want 0..%d", c.Size, maxValueSize))
	}
	if c.Keys < 1 {
		errs = append(errs, fmt.Errorf("keys: %d, want >= 1", c.Keys))
	}
	if c.ReadPct < 0 || c.ReadPct > 100 {
		errs = append(errs, fmt.Errorf("read-pct: %d, want 0..100", c.ReadPct))
	}
	if c.Root != "" && (!strings.HasPrefix(c.Root, "/") || c.Root == "/" || strings.HasSuffix(c.Root, "/")) {
		errs = append(errs, fmt.Errorf("root: %q is not an absolute znode path other than /", c.Root))
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate: %v, want >= 0 requests per second (0: closed loop)", c.Rate))
	}
	if c.SessionTimeout <= 0 {
		errs = append(errs, fmt.Errorf("session timeout: %s, want > 0", c.SessionTimeout))
	}
	return errors.Join(errs...)
}

// pace is a client's interval between requests in a paced run, 0 in a
// closed loop.
func (c *Config) pace() time.Duration {
	if c.Rate <= 0 {
		return 0
	}
	return max(time.Duration(float64(c.Clients)/c.Rate*float64(time.Second)), 1)
}

// usesKeys reports whether the op reads or writes the pre-created key set.
func (o Op) usesKeys() bool {
	return o == OpGet || o == OpSet || o == OpMixed
}
