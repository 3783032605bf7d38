package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is the outcome of one run; encoding/json renders it as the one
// object `zk bench -o json` prints.
type Result struct {
	Op      Op       `json:"op" yaml:"op"`
	Servers []string `json:"servers" yaml:"servers"`
	Clients int      `json:"clients" yaml:"clients"`
	Size    int      `json:"size" yaml:"size"`
	Keys    int      `json:"keys" yaml:"keys"`
	// Rate is the requests per second a paced run offered (0: closed loop).
	Rate float64 `json:"rate,omitempty" yaml:"rate,omitempty"`
	// ReadPct is set for mixed runs only.
	ReadPct *int `json:"read_pct,omitempty" yaml:"read_pct,omitempty"`
	// Warmup and Elapsed are seconds; Elapsed is the measured phase.
	Warmup  Seconds `json:"warmup_s" yaml:"warmup_s"`
	Elapsed Seconds `json:"duration_s" yaml:"duration_s"`
	// Ops counts successful operations completed in the measured phase.
	Ops       int64   `json:"ops" yaml:"ops"`
	OpsPerSec float64 `json:"ops_per_sec" yaml:"ops_per_sec"`
	// Latency of the successful operations, in microseconds.
	Latency Latency `json:"latency_us" yaml:"latency_us"`
	// ReadLatency and WriteLatency split Latency by kind in a mixed run
	// (its gets and its sets); they are nil for the other ops.
	ReadLatency  *Latency `json:"read_latency_us,omitempty" yaml:"read_latency_us,omitempty"`
	WriteLatency *Latency `json:"write_latency_us,omitempty" yaml:"write_latency_us,omitempty"`
	// Reads and Writes count a mixed run's gets and sets among Ops.
	Reads  int64 `json:"reads,omitempty" yaml:"reads,omitempty"`
	Writes int64 `json:"writes,omitempty" yaml:"writes,omitempty"`
	// Errors counts failed operations by kind (ZooKeeper's code names,
	// e.g. ConnectionLoss, NoNode); ErrorCount is their sum.
	Errors     map[string]int64 `json:"errors" yaml:"errors"`
	ErrorCount int64            `json:"error_count" yaml:"error_count"`
	// ClientCPUPerOp is the load generator's own CPU time (user+system,
	// whole process) per measured operation, in microseconds.
	ClientCPUPerOp float64 `json:"client_cpu_us_per_op" yaml:"client_cpu_us_per_op"`
	// Interrupted is true when the run was cancelled before its end.
	Interrupted bool `json:"interrupted,omitempty" yaml:"interrupted,omitempty"`
	// CleanupError says what could not be deleted at the end.
	CleanupError string `json:"cleanup_error,omitempty" yaml:"cleanup_error,omitempty"`
}

// Seconds is a duration that encodes as a number of seconds.
type Seconds float64

// SecondsOf converts d.
func SecondsOf(d time.Duration) Seconds { return Seconds(d.Seconds()) }

// Latency summarises a histogram in microseconds.
type Latency struct {
	Min  int64   `json:"min" yaml:"min"`
	Mean float64 `json:"mean" yaml:"mean"`
	P50  int64   `json:"p50" yaml:"p50"`
	P90  int64   `json:"p90" yaml:"p90"`
	P99  int64   `json:"p99" yaml:"p99"`
	P999 int64   `json:"p99_9" yaml:"p99_9"`
	Max  int64   `json:"max" yaml:"max"`
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Min:  h.Min(),
		Mean: h.Mean(),
		P50:  h.ValueAtQuantile(50),
		P90:  h.ValueAtQuantile(90),
		P99:  h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9),
		Max:  h.Max(),
	}
}

// WriteText prints the result for a human.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "op:         %s", r.Op)
	if r.ReadPct != nil {
		fmt.Fprintf(&b, " (%d%% reads)", *r.ReadPct)
	}
	fmt.Fprintf(&b, "\nservers:    %s\n", strings.Join(r.Servers, ","))
	fmt.Fprintf(&b, "clients:    %d (one request in flight each)\n", r.Clients)
	if r.Rate > 0 {
		fmt.Fprintf(&b, "rate:       %.0f requests/s offered, paced (open loop)\n", r.Rate)
	}
	fmt.Fprintf(&b, "value size: %d B, keys: %d\n", r.Size, r.Keys)
	fmt.Fprintf(&b, "duration:   %.1fs measured after %.1fs warm-up", float64(r.Elapsed), float64(r.Warmup))
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	fmt.Fprintf(&b, "\nops:        %d\n", r.Ops)
	fmt.Fprintf(&b, "ops/s:      %.1f\n", r.OpsPerSec)
	writeLatency(&b, "latency:", r.Latency)
	if r.ReadLatency != nil && r.WriteLatency != nil {
		fmt.Fprintf(&b, "            %d reads, %d writes\n", r.Reads, r.Writes)
		writeLatency(&b, "  reads:", *r.ReadLatency)
		writeLatency(&b, "  writes:", *r.WriteLatency)
	}
	if r.ErrorCount == 0 {
		b.WriteString("errors:     none\n")
	} else {
		fmt.Fprintf(&b, "errors:     %d", r.ErrorCount)
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(&b, "  %s=%d", k, r.Errors[k])
		}
		b.WriteString("\n")
	}
	if r.ClientCPUPerOp > 0 {
		fmt.Fprintf(&b, "client cpu: %.1f µs/op\n", r.ClientCPUPerOp)
	}
	if r.CleanupError != "" {
		fmt.Fprintf(&b, "cleanup:    %s\n", r.CleanupError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLatency prints one latency line under label.
func writeLatency(b *strings.Builder, label string, l Latency) {
	fmt.Fprintf(b, "%-12sp50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n", label+" ",
		ms(float64(l.P50)), ms(float64(l.P90)), ms(float64(l.P99)), ms(float64(l.P999)), ms(float64(l.Max)), ms(l.Mean))
}

// ms renders microseconds as milliseconds with three decimals.
func ms(us float64) string { return fmt.Sprintf("%.3fms", us/1000) }
