// Package memtrim gives a quiet process's spare heap back to the OS.
//
// The Go runtime keeps the memory a burst of allocation made it map: the
// heap may grow to (1+GOGC/100) times the live data before a collection,
// and what a collection frees is returned to the OS only above the next
// goal. After a million znodes were created, zkserver held 1.4 GB while its
// tree was 330 MB, and kept holding it while idle. Run watches the
// runtime's statistics; when allocation has stopped and the process holds
// much more than its live heap, it collects and releases what is free, once
// per burst.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Sample is what the trimmer reads from the runtime at each tick.
type Sample struct {
	Allocs   uint64 // bytes allocated since the process started
	Retained uint64 // memory mapped by the runtime and not released to the OS
	Live     uint64 // heap reachable at the end of the last collection
}

// Policy holds the thresholds of a trim.
type Policy struct {
	// QuietBytes is how much may be allocated during a tick for it to
	// count as quiet: a light load (a few thousand reads a second) is
	// quiet, a burst of writes is not.
	QuietBytes uint64
	// QuietTicks is how many quiet ticks in a row come before a trim.
	QuietTicks int
	// MinExcess is the least excess (Retained - Live) worth a
	// collection; the excess must also be at least half the live heap.
	MinExcess uint64
}

// DefaultPolicy is zkserver's: ticks of 2 s, a trim after 4 s with less
// than 4 MB allocated in each tick, and only when at least 32 MB (and half
// the live heap) would be given back.
var DefaultPolicy = Policy{QuietBytes: 4 << 20, QuietTicks: 2, MinExcess: 32 << 20}

// DefaultInterval is the tick of Run.
const DefaultInterval = 2 * time.Second

// State is the trimmer's memory between ticks.
type State struct {
	prev      Sample
	started   bool
	quiet     int
	trimmedAt uint64 // Allocs at the last trim
	trimmed   bool
}

// Tick takes a new sample and reports whether to trim now. A trim needs
// enough quiet ticks in a row, an excess above the policy's bounds, and
// since the last trim at least MinExcess of new allocation: a heap that a
// collection could not shrink (fragmented spans) is not collected again
// and again while idle.
func (st *State) Tick(p Policy, cur Sample) bool {
	if !st.started {
		st.prev, st.started = cur, true
		return false
	}
	delta := cur.Allocs - st.prev.Allocs
	st.prev = cur
	if delta > p.QuietBytes {
		st.quiet = 0
		return false
	}
	st.quiet++
	if st.quiet < p.QuietTicks || cur.Retained <= cur.Live {
		return false
	}
	excess := cur.Retained - cur.Live
	if excess < p.MinExcess || excess < cur.Live/2 {
		return false
	}
	if st.trimmed && cur.Allocs-st.trimmedAt < p.MinExcess {
		return false
	}
	st.trimmed, st.trimmedAt, st.quiet = true, cur.Allocs, 0
	return true
}

var sampleNames = []string{
	"/gc/heap/allocs:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/heap/live:bytes",
}

// Read samples the running process.
func Read(buf []metrics.Sample) Sample {
	metrics.Read(buf)
	v := func(i int) uint64 {
		if buf[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return buf[i].Value.Uint64()
	}
	return Sample{Allocs: v(0), Retained: v(1) - v(2), Live: v(3)}
}

// NewSamples returns the buffer Read fills.
func NewSamples() []metrics.Sample {
	buf := make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		buf[i].Name = n
	}
	return buf
}

// Run trims the process's heap by p every interval until ctx ends.
// trimmed, if not nil, is told the memory retained before and after each
// trim, and how long the trim took.
func Run(ctx context.Context, interval time.Duration, p Policy, trimmed func(before, after uint64, took time.Duration)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	buf := NewSamples()
	var st State
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := Read(buf)
		if !st.Tick(p, s) {
			continue
		}
		start := time.Now()
		debug.FreeOSMemory()
		took := time.Since(start)
		after := Read(buf)
		// The trim's own collection allocates little; start the next
		// tick's delta from here.
		st.prev = after
		if trimmed != nil {
			trimmed(s.Retained, after.Retained, took)
		}
	}
}
