// Package bench is the closed-loop load generator behind `zk bench`.
//
// It owns the benchmark run: one session per simulated client, each with
// exactly one request in flight (closed loop), client i
// pinned to server i mod n of the server list, a warm-up phase whose
// operations are not counted, a measured phase, and the clean-up of every
// znode the run created. Latencies go into one HDR histogram per worker
// (github.com/HdrHistogram/hdrhistogram-go), merged at the end, so the hot
// loop takes no lock and allocates nothing of its own.
//
// The sessions are the package's own minimal client (client.go): requests
// encoded with server/wire, one write and one read system call per round
// trip, no goroutine of its own, the session re-attached after a lost
// connection. A general-purpose client (go-zookeeper: two goroutines per
// session and a reflective codec) took as much CPU per request as the
// server it measured, on the same cores.
//
// Goroutines: Run starts one goroutine per client; each owns its session,
// its histogram, its random source and its counters. Run's own goroutine
// owns the phase clock (an atomic the workers read) and the optional
// progress callback. Nothing else is shared.
//
// The package prints nothing on its own: Run returns a Result, which the
// caller renders as text (WriteText) or JSON (encoding/json on Result).
// Of ours it imports only the wire codec; cmd/zk parses the flags and
// calls in.
package bench
