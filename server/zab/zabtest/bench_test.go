package zabtest

import (
	"testing"
	"time"
)

// BenchmarkPropose measures pipelined throughput of a 3-member ensemble:
// proposals are issued back to back and the clock stops when the last is
// applied on the leader.
func BenchmarkPropose(b *testing.B) {
	c := NewCluster(b, Options{Voters: 3, TickTime: 100 * time.Millisecond})
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
