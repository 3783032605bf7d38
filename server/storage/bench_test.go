package storage

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAppend measures the txn log with the batch sizes of group commit
// (1: every write alone; 64: a busy server) with fsync on (forceSync=yes)
// and off. Compare runs with benchstat; the entries/s metric is the one to
// read.
func BenchmarkAppend(b *testing.B) {
	data := make([]byte, 100) // a typical small setData txn
	for _, sync := range []bool{true, false} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("fsync=%v/batch=%d", sync, batch), func(b *testing.B) {
				s, err := Open(b.TempDir(), "", Options{ForceSync: sync, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				es := make([]Entry, batch)
				z := int64(1) << 32
				b.ReportAllocs()
				b.SetBytes(int64(batch * len(data)))
				for b.Loop() {
					for i := range es {
						z++
						es[i] = Entry{Zxid: z, Data: data}
					}
					if err := s.Append(es); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkReplay measures recovery speed: reading back the log.
func BenchmarkReplay(b *testing.B) {
	s, err := Open(b.TempDir(), "", Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	data := make([]byte, 100)
	es := make([]Entry, 0, 1000)
	for z := int64(1); z <= n; z++ {
		es = append(es, Entry{Zxid: z, Data: data})
		if len(es) == cap(es) {
			if err := s.Append(es); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Replay(0, func(Entry) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkMoveToBolt measures the background mover's cost per entry by
// the size of the batch it moves into bolt in one transaction (fsync on):
// the CPU it takes from the server and the disk time it competes with the
// WAL for.
func BenchmarkMoveToBolt(b *testing.B) {
	data := make([]byte, 100)
	for _, batch := range []int{64, 512, 4096, 8192} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(b.TempDir(), "", Options{ForceSync: true, Logger: slog.New(slog.DiscardHandler), walNoMove: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			es := make([]Entry, batch)
			z := int64(1) << 32
			var wall, cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				for i := range es {
					z++
					es[i] = Entry{Zxid: z, Data: data}
				}
				if err := s.Append(es); err != nil {
					b.Fatal(err)
				}
				c0, t0 := cpuTime(), time.Now()
				s.boltMu.Lock()
				_, err := s.moveLocked(-1)
				s.boltMu.Unlock()
				wall += time.Since(t0)
				cpu += cpuTime() - c0
				if err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(wall.Nanoseconds())/n, "move-ns/entry")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "move-cpu-ns/entry")
			b.ReportMetric(n/wall.Seconds(), "moved-entries/s")
		})
	}
}

// BenchmarkOpenReplayLarge measures a restart with a large log: Open (which
// rebuilds the runs) plus a Replay of every entry, on a log of 500k
// 100-byte txns across two epochs, already moved into bolt.
func BenchmarkOpenReplayLarge(b *testing.B) {
	const n = 500_000
	dir := b.TempDir()
	s, err := Open(dir, "", Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 100)
	es := make([]Entry, 0, 1000)
	for i := int64(1); i <= n; i++ {
		z := int64(1)<<32 | i
		if i > n/2 {
			z = int64(2)<<32 | (i - n/2)
		}
		es = append(es, Entry{Zxid: z, Data: data})
		if len(es) == cap(es) {
			if err := s.Append(es); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var open, replay time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		s, err := Open(dir, "", Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		got := 0
		if err := s.Replay(0, func(Entry) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		replay += time.Since(t1)
		open += t1.Sub(t0)
		if got != n {
			b.Fatalf("replayed %d entries, want %d", got, n)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(open.Microseconds())/float64(b.N), "open-µs")
	b.ReportMetric(float64(replay.Milliseconds())/float64(b.N), "replay-ms")
	b.ReportMetric(float64(b.N*n)/replay.Seconds(), "entries/s")
}
