package zabtest

import (
	"testing"
	"time"
)

// BenchmarkPropose measures pipelined throughput of a 3-member ensemble:
// proposals are issued back to back and the clock stops when the last is
// applied on the leader.
func BenchmarkPropose(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(map[bool]string{false: "nosync", true: "fsync"}[sync], func(b *testing.B) {
			benchmarkPropose(b, sync)
		})
	}
}

func benchmarkPropose(b *testing.B, forceSync bool) {
	c := NewCluster(b, Options{Voters: 3, TickTime: 100 * time.Millisecond, ForceSync: forceSync})
	c.StartAll()
	l := c.WaitLeader(c.IDs)
	data := make([]byte, 100)
	var last int64
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		z, err := c.Propose(l, data)
		if err != nil {
			b.Fatal(err)
		}
		last = z
	}
	c.WaitApplied(c.IDs, last)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txns/s")
}
