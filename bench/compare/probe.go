package compare

import (
	"context"
	"fmt"
	"time"

	"github.com/zkgo/zkgo/bench"
)

// Probe opens a session on addr, reads path with getData and closes the
// session: nil means the server served a request (bench.RoundTrip).
func Probe(ctx context.Context, addr, path string) error {
	return probe(ctx, addr, path, false)
}

// ProbeWrite is Probe with a setData of path (any version, empty value)
// instead of the getData: nil means the server committed a write.
func ProbeWrite(ctx context.Context, addr, path string) error {
	return probe(ctx, addr, path, true)
}

// probe gives a round trip 5 s, or what is left of ctx if less.
func probe(ctx context.Context, addr, path string, write bool) error {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	return bench.RoundTrip(ctx, addr, path, write, timeout)
}

// WaitServed probes addr every interval until a getData of path succeeds
// and returns the time since start; it gives up when ctx ends or alive
// reports the server process gone.
func WaitServed(ctx context.Context, addr, path string, start time.Time, interval time.Duration, alive func() bool) (time.Duration, error) {
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := Probe(pctx, addr, path)
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		last = err
		if alive != nil && !alive() {
			return 0, fmt.Errorf("server exited before serving (last probe: %w)", last)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("not served: %w (last probe: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}
