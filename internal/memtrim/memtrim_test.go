package memtrim

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"
)

const mb = 1 << 20

var testPolicy = Policy{QuietBytes: 4 * mb, QuietTicks: 2, MinExcess: 32 * mb}

// ticks feeds samples to a fresh State and returns the indexes of the ticks
// that trimmed.
func ticks(samples []Sample) []int {
	var st State
	var got []int
	for i, s := range samples {
		if st.Tick(testPolicy, s) {
			got = append(got, i)
		}
	}
	return got
}

func TestTick(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
		want    []int
	}{
		{
			name: "burst then quiet trims once, after two quiet ticks",
			samples: []Sample{
				{Allocs: 0, Retained: 50 * mb, Live: 20 * mb},
				{Allocs: 900 * mb, Retained: 1200 * mb, Live: 330 * mb}, // the burst
				{Allocs: 901 * mb, Retained: 1200 * mb, Live: 330 * mb}, // quiet 1
				{Allocs: 902 * mb, Retained: 1200 * mb, Live: 330 * mb}, // quiet 2: trim
				{Allocs: 903 * mb, Retained: 1200 * mb, Live: 330 * mb}, // still high: no collection again
				{Allocs: 904 * mb, Retained: 1200 * mb, Live: 330 * mb},
				{Allocs: 905 * mb, Retained: 1200 * mb, Live: 330 * mb},
			},
			want: []int{3},
		},
		{
			name: "a second burst trims again",
			samples: []Sample{
				{Allocs: 0, Retained: 50 * mb, Live: 20 * mb},
				{Allocs: 500 * mb, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 500 * mb, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 500 * mb, Retained: 900 * mb, Live: 200 * mb}, // trim
				{Allocs: 500 * mb, Retained: 220 * mb, Live: 200 * mb},
				{Allocs: 900 * mb, Retained: 1000 * mb, Live: 260 * mb}, // burst
				{Allocs: 901 * mb, Retained: 1000 * mb, Live: 260 * mb},
				{Allocs: 902 * mb, Retained: 1000 * mb, Live: 260 * mb}, // trim
			},
			want: []int{3, 7},
		},
		{
			name: "a steady write load never trims",
			samples: []Sample{
				{Allocs: 0, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 100 * mb, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 200 * mb, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 300 * mb, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 400 * mb, Retained: 900 * mb, Live: 200 * mb},
			},
			want: nil,
		},
		{
			name: "a light load is quiet",
			samples: []Sample{
				{Allocs: 0, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 3 * mb, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 6 * mb, Retained: 900 * mb, Live: 200 * mb},
			},
			want: []int{2},
		},
		{
			name: "an excess under 32 MB is left",
			samples: []Sample{
				{Allocs: 0, Retained: 40 * mb, Live: 10 * mb},
				{Allocs: 0, Retained: 40 * mb, Live: 10 * mb},
				{Allocs: 0, Retained: 40 * mb, Live: 10 * mb},
				{Allocs: 0, Retained: 40 * mb, Live: 10 * mb},
			},
			want: nil,
		},
		{
			name: "an excess under half the live heap is left",
			samples: []Sample{
				{Allocs: 0, Retained: 1100 * mb, Live: 800 * mb},
				{Allocs: 0, Retained: 1100 * mb, Live: 800 * mb},
				{Allocs: 0, Retained: 1100 * mb, Live: 800 * mb},
			},
			want: nil,
		},
		{
			name: "a burst resets the quiet count",
			samples: []Sample{
				{Allocs: 0, Retained: 900 * mb, Live: 200 * mb},
				{Allocs: 1 * mb, Retained: 900 * mb, Live: 200 * mb},   // quiet 1
				{Allocs: 100 * mb, Retained: 900 * mb, Live: 200 * mb}, // burst
				{Allocs: 101 * mb, Retained: 900 * mb, Live: 200 * mb}, // quiet 1
				{Allocs: 102 * mb, Retained: 900 * mb, Live: 200 * mb}, // quiet 2: trim
			},
			want: []int{4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ticks(tt.samples); !slices.Equal(got, tt.want) {
				t.Errorf("trimmed at ticks %v, want %v", got, tt.want)
			}
		})
	}
}

// sink keeps the test's allocation live until it is dropped.
var sink [][]byte

// TestRunReturnsMemory checks the trimmer against the real runtime: after
// 256 MB were live and then dropped, Run must give most of it back to the
// OS. (Were a metric's name wrong, Read would see zeros and never trim.)
func TestRunReturnsMemory(t *testing.T) {
	for range 256 {
		b := make([]byte, mb)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page, so it is resident
		}
		sink = append(sink, b)
	}
	runtime.GC()
	sink = nil
	runtime.GC()
	before := Read(NewSamples())
	if before.Retained < before.Live+128*mb {
		t.Skipf("the runtime released the dropped heap by itself (retained %d MB, live %d MB)", before.Retained>>20, before.Live>>20)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type trim struct{ before, after uint64 }
	got := make(chan trim, 1)
	go Run(ctx, 10*time.Millisecond, testPolicy, func(b, a uint64, _ time.Duration) {
		select {
		case got <- trim{b, a}:
		default:
		}
	})
	select {
	case tr := <-got:
		if tr.before < tr.after+128*mb {
			t.Errorf("trim took retained memory from %d MB to %d MB, want at least 128 MB less", tr.before>>20, tr.after>>20)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no trim within 10 s (retained %d MB, live %d MB)", before.Retained>>20, before.Live>>20)
	}
}
