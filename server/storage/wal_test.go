package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// crash stops the store as kill -9 would after the WAL writes: nothing more
// is moved into bolt, no file is cleaned up; the locks are released so the
// same process can open the directory again.
func (s *Store) crash() {
	s.closeMu.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.moved.Broadcast()
		s.mu.Unlock()
		close(s.moveStop)
		<-s.moveDone
		s.walMu.Lock()
		_ = s.wal.close()
		s.walMu.Unlock()
		s.mu.Lock()
		bs := s.bolt
		s.bolt = nil
		s.mu.Unlock()
		_ = bs.Close()
		s.unlockDir()
	})
}

// flush moves every WAL entry into bolt now (the mover's work).
func (s *Store) flush(t testing.TB) {
	t.Helper()
	s.boltMu.Lock()
	defer s.boltMu.Unlock()
	if err := s.flushLocked(); err != nil {
		t.Fatal(err)
	}
}

func (s *Store) boltLastZxid() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boltLast
}

// openNoMove opens a store whose WAL entries stay in the WAL.
func openNoMove(t testing.TB, dir string, rec *recorder, segMax int64) *Store {
	t.Helper()
	var h slog.Handler = slog.NewTextHandler(t.Output(), nil)
	if rec != nil {
		h = rec
	}
	s, err := Open(dir, "", Options{ForceSync: true, Logger: slog.New(h), walNoMove: true,
		walChunk: 4 << 10, walSegmentMax: segMax})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func segmentsOf(t testing.TB, dir string) []segment {
	t.Helper()
	segs, err := listSegments(filepath.Join(dir, versionDir))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// recordOffsets returns the offset of every record in a segment.
func recordOffsets(t testing.TB, seg segment) []int {
	t.Helper()
	b, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; off < len(b) && !allZero(b[off:min(len(b), off+walHeaderSize)]); {
		_, n, err := decodeWALRecord(seg.seq, b[off:])
		if err != nil {
			t.Fatalf("%s at %d: %v", seg.path, off, err)
		}
		offs = append(offs, off)
		off += n
	}
	return offs
}

// infos returns the Info lines containing substr.
func (r *recorder) infos(substr string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		if rec.Level != slog.LevelInfo || !strings.Contains(rec.Message, substr) {
			continue
		}
		var b strings.Builder
		b.WriteString(rec.Message)
		rec.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		out = append(out, b.String())
	}
	return out
}

// TestWALEntriesVisibleBeforeMove: entries only in the WAL are seen by
// LastZxid, FirstZxid and Replay, across epochs, and from both places at
// once once part of them is in bolt.
func TestWALEntriesVisibleBeforeMove(t *testing.T) {
	s := openNoMove(t, t.TempDir(), nil, 0)
	first := append(seq(1, 1, 10), seq(2, 1, 3)...)
	mustAppend(t, s, first...)
	s.flush(t)
	second := append(seq(2, 4, 8), seq(5, 3, 6)...)
	mustAppend(t, s, second[:3]...)
	mustAppend(t, s, second[3:]...)
	if got := s.boltLastZxid(); got != uint64(zx(2, 3)) {
		t.Fatalf("bolt holds up to 0x%x, want 0x%x (the rest only in the WAL)", got, zx(2, 3))
	}
	all := append(slices.Clone(first), second...)
	if s.FirstZxid() != zx(1, 1) || s.LastZxid() != zx(5, 6) {
		t.Fatalf("first 0x%x last 0x%x", s.FirstZxid(), s.LastZxid())
	}
	for _, a := range []int64{0, zx(1, 10), zx(2, 3), zx(2, 5), zx(3, 0), zx(5, 6)} {
		if got, want := replayed(t, s, a), after(all, a); !slices.Equal(got, want) {
			t.Errorf("Replay(0x%x) = %x, want %x", a, got, want)
		}
	}
	// Data handed to Replay's callback is the callback's own.
	_ = s.Replay(zx(5, 5), func(e Entry) error { e.Data[0] = 'X'; return nil })
	if got := replayed(t, s, 0); !slices.Equal(got, all) {
		t.Fatalf("after a callback modified its data: %x", got)
	}
}

// TestWALCrashBeforeMove: kill -9 after the WAL write, before the move into
// bolt: Open recovers every entry (across a zxid gap and several segments),
// moves it into bolt and removes the WAL.
func TestWALCrashBeforeMove(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 600) // a few records per segment
	var all []int64
	for c := int64(1); c <= 40; c += 4 {
		b := seq(1, c, c+3)
		mustAppend(t, s, b...)
		all = append(all, b...)
	}
	s.flush(t) // 1..40 in bolt; their segments removed
	if n := len(segmentsOf(t, dir)); n != 1 {
		t.Fatalf("%d WAL segments after the move, want 1 (the active one)", n)
	}
	for c := int64(1); c <= 30; c += 3 { // a new epoch, only in the WAL
		b := seq(3, c, c+2)
		mustAppend(t, s, b...)
		all = append(all, b...)
	}
	if n := len(segmentsOf(t, dir)); n < 3 {
		t.Fatalf("%d WAL segments, want several (segment size 600)", n)
	}
	s.crash()

	s2 := openT(t, dir, "")
	if s2.LastZxid() != zx(3, 30) || s2.FirstZxid() != zx(1, 1) {
		t.Fatalf("after recovery: first 0x%x last 0x%x", s2.FirstZxid(), s2.LastZxid())
	}
	if got := replayed(t, s2, 0); !slices.Equal(got, all) {
		t.Fatalf("after recovery log = %x, want %x", got, all)
	}
	if got := s2.boltLastZxid(); got != uint64(zx(3, 30)) {
		t.Fatalf("recovered entries not moved into bolt: bolt last 0x%x", got)
	}
	if segs := segmentsOf(t, dir); len(segs) != 0 {
		t.Fatalf("WAL segments left after recovery: %v", segs)
	}
	mustAppend(t, s2, zx(3, 31))
	_ = s2.Close()
	s3 := openT(t, dir, "")
	if got := replayed(t, s3, 0); !slices.Equal(got, append(all, zx(3, 31))) {
		t.Fatalf("after a second reopen log = %x", got)
	}
}

// TestWALTornTail: a crash during the write of the last (unacknowledged)
// batch leaves it torn; Open cuts it off with one Info line and keeps every
// batch before it.
func TestWALTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, start, end int)
	}{
		{"half written", func(t *testing.T, p string, start, end int) { zeroRange(t, p, start+(end-start)/2, end) }},
		{"header only", func(t *testing.T, p string, start, end int) { zeroRange(t, p, start+walHeaderSize, end) }},
		{"half a header", func(t *testing.T, p string, start, end int) { zeroRange(t, p, start+6, end) }},
		{"last byte missing", func(t *testing.T, p string, start, end int) { zeroRange(t, p, end-1, end) }},
		{"garbage in the body", func(t *testing.T, p string, start, end int) { flipByte(t, p, int64(start+20)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openNoMove(t, dir, nil, 0)
			for c := int64(1); c <= 50; c += 5 {
				mustAppend(t, s, seq(1, c, c+4)...)
			}
			s.crash()
			segs := segmentsOf(t, dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			offs := recordOffsets(t, segs[0])
			start := offs[len(offs)-1]
			end := start
			{
				b, _ := os.ReadFile(segs[0].path)
				_, n, err := decodeWALRecord(segs[0].seq, b[start:])
				if err != nil {
					t.Fatal(err)
				}
				end = start + n
			}
			tc.damage(t, segs[0].path, start, end)

			rec := &recorder{}
			s2, err := Open(dir, "", Options{Logger: slog.New(rec)})
			if err != nil {
				t.Fatalf("Open after a torn last write: %v", err)
			}
			defer s2.Close()
			if got, want := replayed(t, s2, 0), seq(1, 1, 45); !slices.Equal(got, want) {
				t.Fatalf("log = %x, want %x (the torn batch 46..50 dropped)", got, want)
			}
			lines := rec.infos("torn")
			if len(lines) != 1 || !strings.Contains(lines[0], segs[0].path) || !strings.Contains(lines[0], fmt.Sprintf("offset=%d", start)) {
				t.Fatalf("Info lines about the torn tail: %q, want one naming %s offset=%d", lines, segs[0].path, start)
			}
			if w := rec.warnings(); len(w) != 0 {
				t.Fatalf("warnings: %q", w)
			}
			// It starts clean: appending the same zxids again works and
			// survives another crash.
			mustAppend(t, s2, seq(1, 46, 47)...)
			s2.crash()
			s3 := openT(t, dir, "")
			if got, want := replayed(t, s3, 0), seq(1, 1, 47); !slices.Equal(got, want) {
				t.Fatalf("after reopen log = %x, want %x", got, want)
			}
		})
	}
}

// TestWALCorruptRecordRefused: a bad record followed by valid ones (in the
// last segment or anywhere in an earlier one) is corruption: Open fails
// with one ErrCorrupt line naming the file and loads nothing.
func TestWALCorruptRecordRefused(t *testing.T) {
	tests := []struct {
		name    string
		segMax  int64
		pick    func(segs []segment) (segment, int) // segment and record index
		damage  func(t *testing.T, path string, off int)
		wantMsg string
	}{
		{"body byte in the middle", 0, func(s []segment) (segment, int) { return s[0], 3 },
			func(t *testing.T, p string, off int) { flipByte(t, p, int64(off+walHeaderSize+6)) }, "checksum mismatch"},
		{"zeroed record in the middle", 0, func(s []segment) (segment, int) { return s[0], 3 },
			func(t *testing.T, p string, off int) { zeroRange(t, p, off, off+walHeaderSize+8) }, "offset"},
		{"first record", 0, func(s []segment) (segment, int) { return s[0], 0 },
			func(t *testing.T, p string, off int) { flipByte(t, p, int64(off+1)) }, "magic"},
		{"length of the last record", 0, func(s []segment) (segment, int) { return s[0], -1 },
			func(t *testing.T, p string, off int) { flipByte(t, p, int64(off+6)) }, "length"},
		{"two last records", 0, func(s []segment) (segment, int) { return s[0], -2 },
			func(t *testing.T, p string, off int) {
				flipByte(t, p, int64(off+walHeaderSize+6))
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				flipByte(t, p, int64(off+len(b[off:])-zeroSuffix(b[off:])-2)) // in the last one
			}, "followed by more data"},
		{"last record of an earlier segment", 400, func(s []segment) (segment, int) { return s[0], -1 },
			func(t *testing.T, p string, off int) { flipByte(t, p, int64(off+walHeaderSize+2)) }, "checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openNoMove(t, dir, nil, tc.segMax)
			for c := int64(1); c <= 50; c += 5 {
				mustAppend(t, s, seq(1, c, c+4)...)
			}
			s.crash()
			segs := segmentsOf(t, dir)
			seg, i := tc.pick(segs)
			offs := recordOffsets(t, seg)
			if i < 0 {
				i += len(offs)
			}
			tc.damage(t, seg.path, offs[i])
			s2, err := Open(dir, "", Options{Logger: testLogger(t)})
			if err == nil {
				s2.Close()
				t.Fatal("Open accepted a WAL with a bad record before valid ones")
			}
			msg := err.Error()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(msg, seg.path) || !strings.Contains(msg, tc.wantMsg) || strings.Contains(msg, "\n") {
				t.Fatalf("Open: %q, want one ErrCorrupt line naming %s and %q", msg, seg.path, tc.wantMsg)
			}
			t.Logf("Open: %v", err)
			// Nothing was changed: the files are as they were.
			if got := segmentsOf(t, dir); len(got) != len(segs) {
				t.Fatalf("segments changed by the failed Open: %v -> %v", segs, got)
			}
		})
	}
}

// TestWALTruncateSpanningWALAndBolt: TruncateAfter over entries in bolt and
// in the WAL is durable when it returns: after a crash the truncated entries
// stay gone, and entries appended after it are there.
func TestWALTruncateSpanningWALAndBolt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trunc int64
	}{
		{"inside the WAL part", zx(2, 5)},
		{"inside the bolt part", zx(1, 15)},
		{"at the boundary", zx(2, 0)},
		{"everything", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openNoMove(t, dir, nil, 0)
			mustAppend(t, s, seq(1, 1, 20)...)
			s.flush(t)
			mustAppend(t, s, seq(2, 1, 10)...)
			all := append(seq(1, 1, 20), seq(2, 1, 10)...)
			if err := s.TruncateAfter(tc.trunc); err != nil {
				t.Fatal(err)
			}
			kept := slices.DeleteFunc(slices.Clone(all), func(z int64) bool { return z > tc.trunc })
			if got := replayed(t, s, 0); !slices.Equal(got, kept) {
				t.Fatalf("after truncate: %x, want %x", got, kept)
			}
			mustAppend(t, s, zx(3, 1), zx(3, 2)) // only in the WAL
			want := append(kept, zx(3, 1), zx(3, 2))
			s.crash()
			s2 := openT(t, dir, "")
			if got := replayed(t, s2, 0); !slices.Equal(got, want) {
				t.Fatalf("after crash and reopen: %x, want %x", got, want)
			}
		})
	}
}

// TestWALPurge: Purge deletes entries that may still be only in the WAL;
// a crash afterwards brings none of them back.
func TestWALPurge(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	mustAppend(t, s, seq(1, 1, 10)...)
	s.flush(t)
	mustAppend(t, s, seq(1, 11, 40)...) // only in the WAL
	for _, c := range []int64{5, 15, 25} {
		writeSnap(t, s, zx(1, c), snapBody(c, 64))
	}
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if s.FirstZxid() != zx(1, 6) {
		t.Fatalf("FirstZxid after purge = 0x%x, want 0x%x", s.FirstZxid(), zx(1, 6))
	}
	mustAppend(t, s, seq(1, 41, 42)...)
	writeSnap(t, s, zx(1, 35), snapBody(35, 64))
	if err := s.Purge(3); err != nil { // oldest kept: 0x15
		t.Fatal(err)
	}
	want := seq(1, 16, 42)
	if got := replayed(t, s, 0); !slices.Equal(got, want) {
		t.Fatalf("after purge: %x, want %x", got, want)
	}
	s.crash()
	s2 := openT(t, dir, "")
	if got := replayed(t, s2, 0); !slices.Equal(got, want) {
		t.Fatalf("after crash and reopen: %x, want %x", got, want)
	}
	if z, _, ok := latest(t, s2); !ok || z != zx(1, 35) {
		t.Fatalf("latest snapshot 0x%x ok=%v", z, ok)
	}
}

// TestWALCloseLeavesNoSegments: a clean Close moves everything into bolt
// and removes the WAL; the mover removes segments bolt holds entirely.
func TestWALCloseLeavesNoSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "", Options{ForceSync: true, Logger: testLogger(t), walChunk: 4 << 10, walSegmentMax: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for c := int64(1); c <= 200; c += 10 {
		mustAppend(t, s, seq(1, c, c+9)...)
	}
	s.flush(t)
	if n := len(segmentsOf(t, dir)); n != 1 {
		t.Fatalf("%d segments after everything was moved, want only the active one", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := segmentsOf(t, dir); len(segs) != 0 {
		t.Fatalf("segments after Close: %v", segs)
	}
	s2 := openT(t, dir, "")
	if got := replayed(t, s2, 0); !slices.Equal(got, seq(1, 1, 200)) {
		t.Fatalf("after reopen: %x", got)
	}
}

// TestWALStaleSegmentIgnored: a segment whose entries bolt already holds
// (its removal lost in a crash) is skipped by Open, not replayed twice.
func TestWALStaleSegmentIgnored(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	mustAppend(t, s, seq(1, 1, 10)...)
	s.crash()
	segs := segmentsOf(t, dir)
	saved, err := os.ReadFile(segs[0].path)
	if err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, dir, "") // recovers and removes the segment
	mustAppend(t, s2, seq(1, 11, 12)...)
	_ = s2.Close()
	writeFile(t, segs[0].path, saved)
	s3 := openT(t, dir, "")
	if got := replayed(t, s3, 0); !slices.Equal(got, seq(1, 1, 12)) {
		t.Fatalf("log = %x", got)
	}
}

func zeroRange(t testing.TB, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, to-from), int64(from)); err != nil {
		t.Fatal(err)
	}
}

// TestWALTornAtEveryOffset cuts the last record at every byte: Open always
// keeps exactly the batches before it.
func TestWALTornAtEveryOffset(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	for c := int64(1); c <= 9; c += 3 {
		mustAppend(t, s, seq(1, c, c+2)...)
	}
	s.crash()
	seg := segmentsOf(t, dir)[0]
	orig, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, seg)
	start := offs[len(offs)-1]
	_, n, err := decodeWALRecord(seg.seq, orig[start:])
	if err != nil {
		t.Fatal(err)
	}
	for cut := start; cut < start+n; cut++ {
		b := slices.Clone(orig)
		clear(b[cut : start+n])
		d := t.TempDir() // an empty bolt: everything comes from the WAL
		if err := os.MkdirAll(filepath.Join(d, versionDir), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, versionDir, filepath.Base(seg.path)), b)
		s2, err := Open(d, "", Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		got := replayed(t, s2, 0)
		_ = s2.Close()
		if !slices.Equal(got, seq(1, 1, 6)) {
			t.Fatalf("cut at %d: log = %x, want 1..6", cut, got)
		}
	}
}

// TestWALRandomDamageNeverLoadsGarbage flips random bytes of a WAL segment:
// Open must deliver exactly the entries written (minus at most the last,
// torn batch when the damage is only in it) or fail with ErrCorrupt.
func TestWALRandomDamageNeverLoadsGarbage(t *testing.T) {
	base := t.TempDir()
	s := openNoMove(t, base, nil, 0)
	for c := int64(1); c <= 100; c += 10 {
		mustAppend(t, s, seq(1, c, c+9)...)
	}
	s.crash()
	seg := segmentsOf(t, base)[0]
	orig, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, seg)
	lastStart := offs[len(offs)-1]
	_, n, _ := decodeWALRecord(seg.seq, orig[lastStart:])
	written := lastStart + n
	rounds := 200
	if testing.Short() {
		rounds = 30
	}
	rng := rand.New(rand.NewPCG(3, 4))
	refused, multi := 0, 0
	for i := range rounds {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, versionDir), 0o755); err != nil {
			t.Fatal(err)
		}
		b := slices.Clone(orig)
		lowest := len(b)
		for range 1 + rng.IntN(3) {
			off := rng.IntN(written + 64)
			b[off] ^= byte(1 + rng.IntN(255))
			lowest = min(lowest, off)
		}
		writeFile(t, filepath.Join(dir, versionDir, filepath.Base(seg.path)), b)
		s2, err := Open(dir, "", Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("round %d: %v", i, err)
			}
			refused++
			continue
		}
		got := replayed(t, s2, 0) // checks every entry's data
		_ = s2.Close()
		// A prefix of whole batches, and the first batch missing is damaged.
		k := len(got) / 10
		ok := len(got)%10 == 0 && slices.Equal(got, seq(1, 1, int64(len(got))))
		if k < len(offs) && lowest < offs[k] {
			ok = false
		}
		if k == len(offs) && lowest < written && lowest >= 0 {
			ok = false
		}
		if !ok {
			t.Fatalf("round %d: damage from offset %d (records at %v, written %d) gave log %x", i, lowest, offs, written, got)
		}
		if k < len(offs)-1 {
			multi++
		}
	}
	t.Logf("%d of %d damaged segments refused; %d loaded without more than the last batch, %d lost more (damage in several records, the first one's header included)",
		refused, rounds, rounds-refused-multi, multi)
}

// One mover transaction takes moveBatch entries at most, and stops once it
// holds moveBatchBytes (at least one entry, however large).
func TestMoveBatchLen(t *testing.T) {
	entries := func(n, size int) []walEntry {
		es := make([]walEntry, n)
		for i := range es {
			es[i].data = make([]byte, size)
		}
		return es
	}
	for _, tc := range []struct {
		name    string
		pending []walEntry
		want    int
	}{
		{"none", nil, 0},
		{"fewer than a batch", entries(10, 100), 10},
		{"small entries: the count bound", entries(moveBatch+500, 100), moveBatch},
		{"large entries: the byte bound", entries(100, 64<<10), moveBatchBytes / (64 << 10)},
		{"one entry over the byte bound", entries(3, 2*moveBatchBytes), 1},
	} {
		if got := moveBatchLen(tc.pending); got != tc.want {
			t.Errorf("%s: moveBatchLen = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// moveSpread moves what it is asked to over several bolt transactions;
// stopped between two of them, it returns with the rest still in the WAL,
// and Close moves that rest: after a reopen every entry is there, in bolt.
func TestMoveSpread(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	const total = 3*moveBatch + 100
	z := int64(0)
	for z < total {
		es := make([]Entry, min(100, total-z))
		for i := range es {
			z++
			es[i] = Entry{Zxid: z, Data: []byte(fmt.Sprintf("txn-%d", z))}
		}
		if err := s.Append(es); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.moveSpread(moveBatch + 1); err != nil {
		t.Fatal(err)
	}
	if got := s.boltLastZxid(); got != 2*moveBatch {
		t.Fatalf("after moving %d entries bolt ends at %d, want %d (two whole transactions)", moveBatch+1, got, 2*moveBatch)
	}
	// Stop the mover as Close does: moveSpread then sees the stop after
	// its next transaction.
	close(s.moveStop)
	<-s.moveDone
	if err := s.moveSpread(total); err != nil {
		t.Fatal(err)
	}
	if got := s.boltLastZxid(); got != 3*moveBatch {
		t.Fatalf("stopped: bolt ends at %d, want %d (one more transaction, then the stop)", got, 3*moveBatch)
	}
	s.mu.Lock()
	left := len(s.pending)
	s.mu.Unlock()
	if left != 100 {
		t.Fatalf("%d entries wait in the WAL, want 100", left)
	}
	s.moveStop = make(chan struct{}) // for Close to close again
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, "", Options{ForceSync: true, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	want := int64(1)
	if err := s2.Replay(0, func(e Entry) error {
		if e.Zxid != want || string(e.Data) != fmt.Sprintf("txn-%d", want) {
			return fmt.Errorf("entry 0x%x %q, want 0x%x", e.Zxid, e.Data, want)
		}
		want++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want != total+1 {
		t.Fatalf("replayed %d entries, want %d", want-1, total)
	}
}

// A mover that is behind (more than a quarter of what Append lets wait)
// moves without pausing: told to stop at once, it still moves until the
// backlog is back under that quarter, where a paced one would have moved
// one transaction.
func TestMoveSpreadCatchesUpWithoutPausing(t *testing.T) {
	s := openNoMove(t, t.TempDir(), nil, 0)
	const total = maxPending/4 + 10000
	z := int64(0)
	for z < total {
		es := make([]Entry, min(1000, total-z))
		for i := range es {
			z++
			es[i] = Entry{Zxid: z, Data: []byte("x")}
		}
		if err := s.Append(es); err != nil {
			t.Fatal(err)
		}
	}
	close(s.moveStop)
	<-s.moveDone
	if err := s.moveSpread(total); err != nil {
		t.Fatal(err)
	}
	s.moveStop = make(chan struct{}) // for Close to close again
	s.mu.Lock()
	left := len(s.pending)
	s.mu.Unlock()
	if moved := total - left; left > maxPending/4 || moved < total-maxPending/4 {
		t.Errorf("moved %d of %d with the stop already given, %d left; want the backlog under %d", moved, total, left, maxPending/4)
	}
}

// TestSlowSyncWarning: a synced write slower than
// fsync.warningthresholdms is logged in Apache's words and counted; with
// a threshold no write reaches, or without forceSync, nothing is.
func TestSlowSyncWarning(t *testing.T) {
	for _, tc := range []struct {
		name      string
		forceSync bool
		threshold time.Duration
		slow      bool
	}{
		{"every write past a 1 ns threshold", true, time.Nanosecond, true},
		{"an hour's threshold", true, time.Hour, false},
		{"forceSync off", false, time.Nanosecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s, err := Open(t.TempDir(), "", Options{ForceSync: tc.forceSync, FsyncWarning: tc.threshold, Logger: slog.New(rec)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, z := range seq(0, 1, 3) { // three synced writes
				if err := s.Append(entries(z)); err != nil {
					t.Fatal(err)
				}
			}
			var warned int
			for _, w := range rec.warnings() {
				if strings.Contains(w, "fsync-ing the write ahead log took") && strings.Contains(w, "adversely effect operation latency") {
					warned++
				}
			}
			if tc.slow && (s.SlowSyncs() != 3 || warned != 3) {
				t.Errorf("3 appends: SlowSyncs %d, %d warnings; want 3 and 3", s.SlowSyncs(), warned)
			}
			if !tc.slow && (s.SlowSyncs() != 0 || warned != 0) {
				t.Errorf("SlowSyncs %d, %d warnings; want none", s.SlowSyncs(), warned)
			}
		})
	}
}
