package metric

import (
	"sync"
	"testing"
)

// A summary counts, sums and keeps the min and max of its values; its
// average is rounded to four decimals as Apache's getAvg; percentiles
// are Dropwizard's (interpolated at q·(n+1), then rounded); a reset
// forgets everything, and an empty summary reports zeros.
func TestSummary(t *testing.T) {
	s := NewPercentileSummary()
	if v := s.Values(); v != (Values{Percentiles: true}) || v.Avg() != 0 {
		t.Fatalf("empty: %+v avg %v", v, v.Avg())
	}
	for i := int64(100); i >= 1; i-- {
		s.Add(i)
	}
	v := s.Values()
	want := Values{Count: 100, Sum: 5050, Min: 1, Max: 100, Percentiles: true, P50: 51, P90: 91, P95: 96, P99: 100, P999: 100}
	if v != want {
		t.Fatalf("1..100: %+v\nwant %+v", v, want)
	}
	if v.Avg() != 50.5 {
		t.Fatalf("avg %v, want 50.5", v.Avg())
	}
	s.Reset()
	s.Add(2)
	s.Add(3)
	s.Add(3)
	v = s.Values()
	if v.Count != 3 || v.Min != 2 || v.Max != 3 || v.Avg() != 2.6667 || v.P50 != 3 {
		t.Fatalf("after reset, 2 3 3: %+v avg %v", v, v.Avg())
	}
	if b := NewSummary(); b.Values().Percentiles {
		t.Fatal("a basic summary prints percentiles")
	}
}

// Past the reservoir's size, percentiles come from a uniform sample:
// 100,000 values of 0..999 have a median near 500; min, max, count and
// sum stay exact under concurrent adds.
func TestSummaryManyValuesConcurrently(t *testing.T) {
	s := NewPercentileSummary()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25000 {
				s.Add(int64((i*4 + w) % 1000))
			}
		})
	}
	wg.Wait()
	v := s.Values()
	if v.Count != 100000 || v.Min != 0 || v.Max != 999 || v.Sum != 100*499500 {
		t.Fatalf("%+v", v)
	}
	if v.P50 < 400 || v.P50 > 600 || v.P99 < 950 {
		t.Fatalf("percentiles of a uniform 0..999: p50 %d p99 %d", v.P50, v.P99)
	}
}

// Reset empties every summary and counter of a set.
func TestServerReset(t *testing.T) {
	m := NewServer()
	m.FsyncTime.Add(3)
	m.ProposalCount.Add(2)
	m.Reset()
	for _, n := range m.All() {
		if n.Summary != nil && n.Summary.Values().Count != 0 || n.Counter != nil && n.Counter.Load() != 0 {
			t.Errorf("%s not reset", n.Name)
		}
	}
}

// Avg4 rounds as Apache's getAvg: the double's exact value to four
// decimals, half up.
func TestAvg4(t *testing.T) {
	// BigDecimal(total/count).setScale(4, HALF_UP)
	for _, tc := range []struct {
		total, count int64
		want         float64
	}{
		{17, 8, 2.125}, {1, 3, 0.3333}, {2, 3, 0.6667}, {0, 0, 0}, {5, 1, 5}, {1, 16, 0.0625}, {1, 32, 0.0313},
	} {
		if got := Avg4(tc.total, tc.count); got != tc.want {
			t.Errorf("Avg4(%d, %d) = %v, want %v", tc.total, tc.count, got, tc.want)
		}
	}
}

// Sizes reads -1 until the first size, then the last, smallest and
// largest, and -1 again after a reset.
func TestSizes(t *testing.T) {
	var z Sizes
	z.Reset()
	if z.Last() != -1 || z.Min() != -1 || z.Max() != -1 {
		t.Fatalf("empty: %d %d %d", z.Last(), z.Min(), z.Max())
	}
	for _, n := range []int64{16, 93, 0, 40} {
		z.Add(n)
	}
	if z.Last() != 40 || z.Min() != 0 || z.Max() != 93 {
		t.Fatalf("after 16 93 0 40: last %d min %d max %d", z.Last(), z.Min(), z.Max())
	}
	z.Reset()
	if z.Last() != -1 || z.Min() != -1 || z.Max() != -1 {
		t.Fatalf("after reset: %d %d %d", z.Last(), z.Min(), z.Max())
	}
}
