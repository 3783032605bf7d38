package storage

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestInjectedWriteFault: while writes fail (a full disk), Append fails and
// stores nothing, however often it is retried; the half-written record it
// leaves is never recovered, the Append after the disk heals succeeds with
// the same zxids, and after a crash exactly the acknowledged entries are
// there.
func TestInjectedWriteFault(t *testing.T) {
	for _, mode := range []string{"wal", "new segment"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{ForceSync: true, Logger: testLogger(t), walChunk: 4 << 10}
			if mode == "new segment" {
				opts.walSegmentMax = 1 // every Append opens a new segment
			}
			s, err := Open(dir, "", opts)
			if err != nil {
				t.Fatal(err)
			}
			acked := seq(0, 1, 20)
			mustAppend(t, s, acked[:10]...)
			s.InjectWriteError(syscall.ENOSPC)
			for range 3 {
				err := s.Append(entries(seq(0, 11, 15)...))
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
				}
				if got := s.LastZxid(); got != 10 {
					t.Fatalf("LastZxid after a failed Append = %d, want 10", got)
				}
			}
			if got := replayed(t, s, 0); !slices.Equal(got, acked[:10]) {
				t.Fatalf("replay after failed Appends: %v", got)
			}
			s.InjectWriteError(nil)
			// Shorter batch at the same zxids: the longer refused record
			// it partly overwrites must not come back.
			mustAppend(t, s, acked[10:12]...)
			mustAppend(t, s, acked[12:]...)
			s.crash()

			s2 := openT(t, dir, "")
			if got := replayed(t, s2, 0); !slices.Equal(got, acked) {
				t.Fatalf("after crash and reopen: %v, want %v", got, acked)
			}
		})
	}
}

// TestInjectedFaultCrashWhileRefusing: a crash while Appends fail leaves a
// log that opens with every acknowledged entry (the partial record is a
// torn tail, cut off).
func TestInjectedFaultCrashWhileRefusing(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	s, err := Open(dir, "", Options{ForceSync: true, Logger: slog.New(rec), walChunk: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, seq(0, 1, 7)...)
	s.InjectWriteError(syscall.EIO)
	if err := s.Append(entries(8, 9)); err == nil {
		t.Fatal("Append succeeded with writes failing")
	}
	s.crash()
	s2 := openT(t, dir, "")
	if got := replayed(t, s2, 0); !slices.Equal(got, seq(0, 1, 7)) {
		t.Fatalf("after crash: %v", got)
	}
}

// TestInjectedFaultMoverAndSnapshot: the background move into bolt and a
// snapshot fail without losing anything while the disk is full; the move
// catches up by itself once it is not.
func TestInjectedFaultMoverAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	s, err := Open(dir, "", Options{ForceSync: true, Logger: slog.New(rec), walChunk: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	mustAppend(t, s, seq(0, 1, 5)...)
	waitFor(t, func() bool { return s.boltLastZxid() == 5 })
	enospc := error(syscall.ENOSPC)
	s.faults.boltErr.Store(&enospc) // the WAL still takes appends
	mustAppend(t, s, seq(0, 6, 9)...)
	s.InjectWriteError(syscall.ENOSPC)
	err = s.WriteSnapshot(9, func(w io.Writer) error { _, err := w.Write(snapBody(9, 100)); return err })
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteSnapshot on a full disk: %v", err)
	}
	if _, _, ok := latest(t, s); ok {
		t.Fatal("a failed snapshot left a snapshot behind")
	}
	waitFor(t, func() bool { return len(rec.warnings()) > 0 })
	if s.boltLastZxid() != 5 {
		t.Fatalf("entries moved into bolt while its writes fail")
	}
	if got := replayed(t, s, 0); !slices.Equal(got, seq(0, 1, 9)) {
		t.Fatalf("replay while the mover fails: %v", got)
	}
	s.InjectWriteError(nil)
	s.faults.boltErr.Store(nil)
	waitFor(t, func() bool { return s.boltLastZxid() == 9 })
	writeSnap(t, s, 9, snapBody(9, 100))
	if z, body, ok := latest(t, s); !ok || z != 9 || !bytes.Equal(body, snapBody(9, 100)) {
		t.Fatalf("snapshot after the disk healed: zxid %d ok %v", z, ok)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCheckWritable: CheckWritable fails while writes fail, clears a failed
// write's leftovers once they succeed, and appends after it work and
// survive a crash.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "", Options{ForceSync: true, Logger: testLogger(t), walChunk: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(1 << 10); err != nil { // no segment yet
		t.Fatalf("CheckWritable on a fresh store: %v", err)
	}
	mustAppend(t, s, seq(0, 1, 3)...)
	s.InjectWriteError(syscall.ENOSPC)
	if err := s.Append(entries(4)); err == nil {
		t.Fatal("Append succeeded while writes fail")
	}
	if err := s.CheckWritable(1 << 10); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CheckWritable while writes fail: %v", err)
	}
	s.InjectWriteError(nil)
	if err := s.CheckWritable(64 << 10); err != nil {
		t.Fatalf("CheckWritable after healing: %v", err)
	}
	s.walMu.Lock()
	dirty, room := s.wal.dirty, s.wal.alloc-s.wal.off
	s.walMu.Unlock()
	if dirty != 0 || room < 64<<10 {
		t.Fatalf("after CheckWritable: dirty %d, room %d", dirty, room)
	}
	mustAppend(t, s, seq(0, 4, 6)...)
	s.crash()
	s2 := openT(t, dir, "")
	if got := replayed(t, s2, 0); !slices.Equal(got, seq(0, 1, 6)) {
		t.Fatalf("after crash: %v", got)
	}
}

// TestOpenWithBoltFull: when the WAL's entries cannot be moved into bolt
// at Open (a full disk), Open still succeeds: the entries stay in the WAL
// and in memory, a torn tail is zeroed on disk so that the segment can
// sit before new ones, appends go on, and the mover moves everything once
// bolt can grow; every open after that sees the same log.
func TestOpenWithBoltFull(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	for c := int64(1); c <= 10; c += 2 {
		mustAppend(t, s, c, c+1)
	}
	s.crash()
	seg := segmentsOf(t, dir)[0]
	offs := recordOffsets(t, seg)
	last := offs[len(offs)-1]
	zeroRange(t, seg.path, last+walHeaderSize+4, last+walHeaderSize+12) // tear the last batch (9, 10)

	rec := &recorder{}
	s2, err := Open(dir, "", Options{ForceSync: true, Logger: slog.New(rec), walChunk: 4 << 10,
		boltFault: syscall.ENOSPC})
	if err != nil {
		t.Fatalf("Open with bolt full: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	if len(rec.warnings()) == 0 {
		t.Error("no Warn line about entries kept in the WAL")
	}
	if got := replayed(t, s2, 0); !slices.Equal(got, seq(0, 1, 8)) {
		t.Fatalf("after Open with bolt full: %v", got)
	}
	mustAppend(t, s2, 9, 10, 11)
	s2.crash()

	// Bolt still full: the same again, now with two segments.
	s3, err := Open(dir, "", Options{ForceSync: true, Logger: testLogger(t), walChunk: 4 << 10,
		boltFault: syscall.ENOSPC})
	if err != nil {
		t.Fatalf("second Open with bolt full: %v", err)
	}
	if got := replayed(t, s3, 0); !slices.Equal(got, seq(0, 1, 11)) {
		t.Fatalf("after the second Open: %v", got)
	}
	s3.faults.boltErr.Store(nil) // space is back: the mover catches up
	waitFor(t, func() bool { return s3.boltLastZxid() == 11 })
	waitFor(t, func() bool { s3.mu.Lock(); defer s3.mu.Unlock(); return len(s3.segs) <= 1 })
	mustAppend(t, s3, 12)
	s3.crash()

	s4 := openT(t, dir, "")
	if got := replayed(t, s4, 0); !slices.Equal(got, seq(0, 1, 12)) {
		t.Fatalf("after space came back: %v", got)
	}
}
