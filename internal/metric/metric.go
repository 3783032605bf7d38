// Package metric keeps the server's counters and summaries that Apache
// ZooKeeper keeps in its ServerMetrics (fsynctime, readlatency,
// election_time, …), for mntr, the AdminServer's monitor and Prometheus.
//
// They are recorded on hot paths (a summary per request), so recording is
// a few atomic operations: no lock, no allocation.
package metric

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// reservoirSize is the sample a summary with percentiles keeps, as
// Apache's ResettableUniformReservoir (4096 values, uniformly sampled
// from every value added since the last reset).
const reservoirSize = 4096

// Summary is Apache's AvgMinMaxCounter (count, sum, min, max of the
// values added) and, made with percentiles, AvgMinMaxPercentileCounter,
// whose percentiles mntr prints. Both keep a sample, for Prometheus's
// median (and 0.9 and 0.99 quantiles with percentiles).
type Summary struct {
	count, total atomic.Int64
	min, max     atomic.Int64 // math.MaxInt64 and math.MinInt64 without values
	sample       []atomic.Int64
	percentiles  bool
}

// NewSummary returns a summary whose percentiles mntr does not print
// (Apache's BASIC detail level).
func NewSummary() *Summary {
	s := &Summary{sample: make([]atomic.Int64, reservoirSize)}
	s.Reset()
	return s
}

// NewPercentileSummary returns a summary whose percentiles mntr prints
// (Apache's ADVANCED detail level).
func NewPercentileSummary() *Summary {
	s := NewSummary()
	s.percentiles = true
	return s
}

// Add adds a value.
func (s *Summary) Add(v int64) {
	n := s.count.Add(1)
	s.total.Add(v)
	lower(&s.min, v)
	raise(&s.max, v)
	if n <= reservoirSize {
		s.sample[n-1].Store(v)
	} else if i := rand.Int64N(n); i < reservoirSize {
		s.sample[i].Store(v)
	}
}

// AddSince adds the milliseconds from the wall-clock time ms (since the
// epoch, maybe another machine's clock: a txn's time) to now; nothing
// when that clock is ahead of this one, as Apache's Request.logLatency.
func (s *Summary) AddSince(ms int64) {
	if d := time.Now().UnixMilli() - ms; d >= 0 {
		s.Add(d)
	}
}

// Reset forgets every value (srst).
func (s *Summary) Reset() {
	s.count.Store(0)
	s.total.Store(0)
	s.min.Store(math.MaxInt64)
	s.max.Store(math.MinInt64)
}

// Values are a summary's numbers at one moment.
type Values struct {
	Count, Sum, Min, Max int64
	// Percentiles tells whether mntr prints the percentiles below.
	Percentiles bool
	// P50 … P999 are the median and percentiles of the sample, rounded
	// as Apache's mntr prints them; P90 is Prometheus's (0.9 quantile).
	P50, P90, P95, P99, P999 int64
}

// Avg is the mean rounded to four decimals, half up (Apache's getAvg);
// 0 without values.
func (v Values) Avg() float64 { return Avg4(v.Sum, v.Count) }

// Avg4 is total/count rounded as Apache's AvgMinMaxCounter.getAvg rounds
// it: the double's exact value to four decimals, half up (BigDecimal
// setScale(4, HALF_UP)); 0 for no count.
func Avg4(total, count int64) float64 {
	if count <= 0 {
		return 0
	}
	avg := float64(total) / float64(count)
	r := new(big.Rat).SetFloat64(avg)
	if r == nil {
		return avg
	}
	r.Mul(r, big.NewRat(10000, 1))
	neg := r.Sign() < 0
	r.Abs(r)
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom()) // floor(|x|*1e4 + 1/2)
	res, _ := new(big.Rat).SetFrac(q, big.NewInt(10000)).Float64()
	if neg {
		res = -res
	}
	return res
}

// Values returns the summary's numbers (min and max 0 without values, as
// Apache's).
func (s *Summary) Values() Values {
	v := Values{Count: s.count.Load(), Sum: s.total.Load(), Percentiles: s.percentiles}
	if m := s.min.Load(); m != math.MaxInt64 {
		v.Min = m
	}
	if m := s.max.Load(); m != math.MinInt64 {
		v.Max = m
	}
	if v.Count > 0 {
		sorted := make([]int64, min(v.Count, reservoirSize))
		for i := range sorted {
			sorted[i] = s.sample[i].Load()
		}
		slices.Sort(sorted)
		v.P50 = quantile(sorted, 0.5)
		v.P90 = quantile(sorted, 0.9)
		v.P95 = quantile(sorted, 0.95)
		v.P99 = quantile(sorted, 0.99)
		v.P999 = quantile(sorted, 0.999)
	}
	return v
}

// quantile is Dropwizard's UniformSnapshot.getValue (linear interpolation
// between the two values around q·(n+1)), rounded as Apache's mntr
// rounds it (Math.round).
func quantile(sorted []int64, q float64) int64 {
	n := len(sorted)
	pos := q * float64(n+1)
	var f float64
	switch {
	case pos < 1:
		f = float64(sorted[0])
	case pos >= float64(n):
		f = float64(sorted[n-1])
	default:
		lower := float64(sorted[int(pos)-1])
		upper := float64(sorted[int(pos)])
		f = lower + (pos-math.Floor(pos))*(upper-lower)
	}
	return int64(math.Floor(f + 0.5))
}

// lower sets a to v when v is below it; raise, when above. Both hold
// against concurrent callers.
func lower(a *atomic.Int64, v int64) {
	for m := a.Load(); v < m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

func raise(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

// Sizes is Apache's BufferStats: the last, smallest and largest of a
// series of sizes (mntr's *_client_response_size). Reset before use.
type Sizes struct{ last, min, max atomic.Int64 }

// Reset forgets every size: all three read -1 until the next Add.
func (z *Sizes) Reset() {
	z.last.Store(-1)
	z.min.Store(math.MaxInt64)
	z.max.Store(-1)
}

// Add notes a size (>= 0).
func (z *Sizes) Add(n int64) {
	z.last.Store(n)
	lower(&z.min, n)
	raise(&z.max, n)
}

// Last, Min and Max are the sizes' numbers, -1 before the first.
func (z *Sizes) Last() int64 { return z.last.Load() }
func (z *Sizes) Min() int64 {
	if m := z.min.Load(); m != math.MaxInt64 {
		return m
	}
	return -1
}
func (z *Sizes) Max() int64 { return z.max.Load() }

// Counter is a count that only grows, until a reset (srst).
type Counter struct{ n atomic.Int64 }

// Add adds d.
func (c *Counter) Add(d int64) { c.n.Add(d) }

// Load returns the count.
func (c *Counter) Load() int64 { return c.n.Load() }

// Reset sets the count to 0.
func (c *Counter) Reset() { c.n.Store(0) }
