package compare

import (
	"fmt"

	"github.com/zkgo/zkgo/bench"
)

// target returns issue 6's ratio for an ops/s row (0 when it sets none).
func throughputTarget(op bench.Op, clients int, topology string) float64 {
	switch {
	case op == bench.OpGet && clients == 32:
		return 2
	case (op == bench.OpSet || op == bench.OpCreate) && clients == 32:
		if topology == "ensemble" {
			return 2
		}
		return 1.5
	case (op == bench.OpGet || op == bench.OpSet) && clients == 1:
		return 1.5
	}
	return 0
}

func opName(op bench.Op, readPct int) string {
	if op == bench.OpMixed {
		return fmt.Sprintf("mixed %d/%d", readPct, 100-readPct)
	}
	return string(op)
}

// find returns the run of kind with that load: a closed loop when rate is
// 0, else the paced run at that rate.
func (r *runner) find(kind Kind, topology string, op bench.Op, clients int, rate float64) *Throughput {
	for i := range r.rep.Runs {
		t := &r.rep.Runs[i]
		if t.Kind == kind && t.Topology == topology && t.Result.Op == op && t.Result.Clients == clients && t.Result.Rate == rate {
			return t
		}
	}
	return nil
}

// values gives value of zkgo's and Apache's run of one load (nil where that
// server has none); ok is false when neither has.
func (r *runner) values(topology string, op bench.Op, clients int, rate float64, value func(*Throughput) float64) (zv, av *float64, ok bool) {
	if z := r.find(KindZkgo, topology, op, clients, rate); z != nil {
		zv = ptr(value(z))
	}
	if a := r.find(KindApache, topology, op, clients, rate); a != nil {
		av = ptr(value(a))
	}
	return zv, av, zv != nil || av != nil
}

// p99 is a run's p99 latency in milliseconds.
func p99(t *Throughput) float64 { return float64(t.Result.Latency.P99) / 1000 }

func ptr(v float64) *float64 { return &v }

// rows turns the runs and samples into the report's rows: ops/s, then p99,
// then server CPU per op for every load, then the process-level measures.
func (r *runner) rows() {
	rep := r.rep
	for _, topology := range []string{"standalone", "ensemble"} {
		type metric struct {
			group, unit string
			better      Better
			target      func(op bench.Op, clients int) float64
			value       func(t *Throughput) float64
			label       string
		}
		metrics := []metric{
			{"throughput", "ops/s", Higher, func(op bench.Op, c int) float64 { return throughputTarget(op, c, topology) },
				func(t *Throughput) float64 { return t.Result.OpsPerSec }, "ops/s"},
			{"latency", "ms", Lower, func(bench.Op, int) float64 { return 0.5 }, p99, "p99"},
			{"server cpu", "µs/op", Lower, func(bench.Op, int) float64 { return 0.5 },
				func(t *Throughput) float64 { return t.ServerCPUPerOp }, "server CPU"},
		}
		for _, m := range metrics {
			for _, op := range r.o.Ops {
				for _, c := range r.o.Clients {
					zv, av, ok := r.values(topology, op, c, 0, m.value)
					if !ok {
						continue
					}
					name := fmt.Sprintf("%s %s, %s, %s", opName(op, r.o.ReadPct), m.label, plural(c, "client"), topology)
					rep.AddRow(m.group+" "+topology, name, m.unit, m.better, m.target(op, c), zv, av)
				}
			}
		}
		// Latency at the same load: informative, no target (issue 6's p99
		// targets are on the closed-loop rows above).
		for _, pl := range r.o.Paced {
			zv, av, ok := r.values(topology, pl.Op, r.o.PacedClients, pl.Rate, p99)
			if !ok {
				continue
			}
			name := fmt.Sprintf("%s p99 paced at %s/s, %s, %s", opName(pl.Op, r.o.ReadPct), thousands(pl.Rate), plural(r.o.PacedClients, "client"), topology)
			rep.AddRow("paced "+topology, name, "ms", Lower, 0, zv, av)
		}
	}
	med := func(name string, kind Kind) *float64 {
		v := rep.Samples[name][kind]
		if len(v) == 0 {
			return nil
		}
		return ptr(median(v))
	}
	process := []struct {
		sample, name, unit string
		target             float64
	}{
		{sampleStartup, "start-up to first served request, empty", "ms", 0.1},
		{sampleRestart, fmt.Sprintf("restart with %dk znodes to first served read", r.o.Znodes/1000), "ms", 0.25},
		{sampleCrash, "same, restarted after SIGKILL", "ms", 0.25},
		{sampleRSS, fmt.Sprintf("RSS with %dk × 100 B znodes after restart", r.o.Znodes/1000), "MiB", 0.4},
		{sampleFailover, "leader SIGKILL to first write, ensemble", "ms", 0.5},
		{sampleOneShot, "one-shot get: zk vs zkCli.sh, whole process", "ms", 0.05},
	}
	for _, p := range process {
		z, a := med(p.sample, KindZkgo), med(p.sample, KindApache)
		if z == nil && a == nil {
			continue
		}
		rep.AddRow("process", p.name, p.unit, Lower, p.target, z, a)
	}
}

// thousands renders a rate as 20k, or as a plain number under 1000.
func thousands(v float64) string {
	if v >= 1000 && v == float64(int64(v)/1000*1000) {
		return fmt.Sprintf("%dk", int64(v)/1000)
	}
	return fmt.Sprintf("%g", v)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
