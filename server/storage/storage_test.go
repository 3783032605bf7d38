package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a slog.Handler keeping every record, to assert on Warn lines.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// warnings returns the Warn records as "msg key=value ..." lines.
func (r *recorder) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		if rec.Level != slog.LevelWarn {
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

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func openT(t testing.TB, dataDir, logDir string) *Store {
	t.Helper()
	s, err := Open(dataDir, logDir, Options{ForceSync: false, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func zx(epoch, counter int64) int64 { return epoch<<32 | counter }

func payload(z int64) []byte { return []byte(fmt.Sprintf("txn-%x", z)) }

func entries(zxids ...int64) []Entry {
	out := make([]Entry, len(zxids))
	for i, z := range zxids {
		out[i] = Entry{Zxid: z, Data: payload(z)}
	}
	return out
}

func seq(epoch, from, to int64) []int64 {
	var out []int64
	for c := from; c <= to; c++ {
		out = append(out, zx(epoch, c))
	}
	return out
}

func mustAppend(t testing.TB, s *Store, zxids ...int64) {
	t.Helper()
	if err := s.Append(entries(zxids...)); err != nil {
		t.Fatalf("Append %x: %v", zxids, err)
	}
}

// replayed returns the zxids Replay delivers after `after`, checking data.
func replayed(t testing.TB, s *Store, after int64) []int64 {
	t.Helper()
	var got []int64
	err := s.Replay(after, func(e Entry) error {
		if !bytes.Equal(e.Data, payload(e.Zxid)) {
			t.Errorf("entry 0x%x: data %q, want %q", e.Zxid, e.Data, payload(e.Zxid))
		}
		got = append(got, e.Zxid)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(0x%x): %v", after, err)
	}
	return got
}

func after(all []int64, z int64) []int64 {
	var out []int64
	for _, v := range all {
		if v > z {
			out = append(out, v)
		}
	}
	return out
}

func TestEmptyStore(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	if s.LastZxid() != 0 || s.FirstZxid() != 0 {
		t.Fatalf("empty store: first 0x%x last 0x%x, want 0 0", s.FirstZxid(), s.LastZxid())
	}
	if got := replayed(t, s, 0); len(got) != 0 {
		t.Fatalf("Replay of empty log delivered %x", got)
	}
	_, _, ok, err := s.LatestSnapshot()
	if ok || err != nil {
		t.Fatalf("LatestSnapshot on empty dir: ok=%v err=%v, want false nil", ok, err)
	}
	for _, p := range []string{s.LogPath(), s.SnapDir()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Open did not create %s: %v", p, err)
		}
	}
}

func TestAppendReplayAcrossEpochs(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, "")
	var all []int64
	batches := [][]int64{
		seq(1, 1, 1),
		seq(1, 2, 10),
		append(seq(1, 11, 12), seq(3, 1, 4)...), // an epoch change inside one batch
		seq(4, 1, 1),
		seq(4, 2, 2),
		seq(7, 5, 9), // a run that does not start at counter 1
	}
	for _, b := range batches {
		mustAppend(t, s, b...)
		all = append(all, b...)
	}
	if got, want := s.FirstZxid(), zx(1, 1); got != want {
		t.Errorf("FirstZxid = 0x%x, want 0x%x", got, want)
	}
	if got, want := s.LastZxid(), zx(7, 9); got != want {
		t.Errorf("LastZxid = 0x%x, want 0x%x", got, want)
	}
	check := func(s *Store) {
		t.Helper()
		for _, a := range []int64{-1, 0, zx(1, 5), zx(1, 12), zx(2, 0), zx(3, 4), zx(4, 1), zx(5, 0), zx(7, 8), zx(7, 9), zx(9, 0)} {
			if got, want := replayed(t, s, a), after(all, a); !slices.Equal(got, want) {
				t.Errorf("Replay(0x%x) = %x, want %x", a, got, want)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Append(entries(zx(8, 1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}

	s2 := openT(t, dir, "")
	if s2.FirstZxid() != zx(1, 1) || s2.LastZxid() != zx(7, 9) {
		t.Fatalf("after reopen: first 0x%x last 0x%x", s2.FirstZxid(), s2.LastZxid())
	}
	check(s2)
	mustAppend(t, s2, zx(7, 10), zx(8, 1))
	all = append(all, zx(7, 10), zx(8, 1))
	check(s2)
}

func TestAppendRejectsBadZxids(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	mustAppend(t, s, 5, 6)
	tests := []struct {
		name  string
		zxids []int64
	}{
		{"zero", []int64{0}},
		{"negative", []int64{-3}},
		{"equal to last", []int64{6}},
		{"below last", []int64{4}},
		{"not increasing in batch", []int64{7, 9, 8}},
		{"duplicate in batch", []int64{7, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Append(entries(tc.zxids...)); err == nil {
				t.Fatalf("Append(%v) succeeded", tc.zxids)
			}
			if s.LastZxid() != 6 {
				t.Fatalf("LastZxid = %d after a rejected batch, want 6", s.LastZxid())
			}
		})
	}
	if got := replayed(t, s, 0); !slices.Equal(got, []int64{5, 6}) {
		t.Fatalf("log = %v, want [5 6]: a rejected batch must store nothing", got)
	}
}

func TestReplayStopsOnCallbackError(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	mustAppend(t, s, seq(1, 1, 5)...)
	boom := errors.New("boom")
	n := 0
	err := s.Replay(0, func(Entry) error {
		n++
		if n == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 3 {
		t.Fatalf("Replay returned %v after %d calls, want boom after 3", err, n)
	}
}

func TestTruncateAfter(t *testing.T) {
	all := append(append(seq(1, 1, 5), seq(2, 1, 5)...), seq(4, 1, 3)...)
	tests := []struct {
		name   string
		trunc  int64
		last   int64
		first  int64
		next   []int64 // appended after the truncation
		expect []int64 // whole log at the end
	}{
		{"mid run", zx(2, 3), zx(2, 3), zx(1, 1), []int64{zx(2, 4), zx(5, 1)},
			append(append(seq(1, 1, 5), seq(2, 1, 4)...), zx(5, 1))},
		{"end of run", zx(1, 5), zx(1, 5), zx(1, 1), []int64{zx(3, 1)},
			append(seq(1, 1, 5), zx(3, 1))},
		{"in a gap", zx(3, 0), zx(2, 5), zx(1, 1), []int64{zx(3, 1)},
			append(append(seq(1, 1, 5), seq(2, 1, 5)...), zx(3, 1))},
		{"at last", zx(4, 3), zx(4, 3), zx(1, 1), []int64{zx(4, 4)},
			append(all, zx(4, 4))},
		{"beyond last", zx(9, 0), zx(4, 3), zx(1, 1), nil, all},
		{"everything", 0, 0, 0, []int64{zx(6, 1), zx(6, 2)},
			[]int64{zx(6, 1), zx(6, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, "")
			mustAppend(t, s, all...)
			if err := s.TruncateAfter(tc.trunc); err != nil {
				t.Fatal(err)
			}
			if s.LastZxid() != tc.last || s.FirstZxid() != tc.first {
				t.Fatalf("after truncate: first 0x%x last 0x%x, want 0x%x 0x%x", s.FirstZxid(), s.LastZxid(), tc.first, tc.last)
			}
			if len(tc.next) > 0 {
				mustAppend(t, s, tc.next...)
			}
			if got := replayed(t, s, 0); !slices.Equal(got, tc.expect) {
				t.Fatalf("log = %x, want %x", got, tc.expect)
			}
			_ = s.Close()
			s2 := openT(t, dir, "")
			if got := replayed(t, s2, 0); !slices.Equal(got, tc.expect) {
				t.Fatalf("after reopen log = %x, want %x", got, tc.expect)
			}
		})
	}
}

func writeSnap(t testing.TB, s *Store, zxid int64, body []byte) {
	t.Helper()
	err := s.WriteSnapshot(zxid, func(w io.Writer) error {
		// Several writes, as a tree serializer would.
		for len(body) > 0 {
			n := min(len(body), 1000)
			if _, err := w.Write(body[:n]); err != nil {
				return err
			}
			body = body[n:]
		}
		return nil
	})
	if err != nil {
		t.Fatalf("WriteSnapshot(0x%x): %v", zxid, err)
	}
}

func snapBody(zxid int64, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(int64(i)*31 + zxid)
	}
	return b
}

func latest(t testing.TB, s *Store) (int64, []byte, bool) {
	t.Helper()
	z, r, ok, err := s.LatestSnapshot()
	if err != nil {
		t.Fatalf("LatestSnapshot: %v", err)
	}
	if !ok {
		return 0, nil, false
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read snapshot 0x%x: %v", z, err)
	}
	return z, b, true
}

func TestTruncateRemovesNewerSnapshots(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	mustAppend(t, s, seq(1, 1, 20)...)
	writeSnap(t, s, zx(1, 5), snapBody(1, 10))
	writeSnap(t, s, zx(1, 15), snapBody(2, 10))
	if err := s.TruncateAfter(zx(1, 10)); err != nil {
		t.Fatal(err)
	}
	z, _, ok := latest(t, s)
	if !ok || z != zx(1, 5) {
		t.Fatalf("latest snapshot after TruncateAfter(0x%x) = 0x%x ok=%v, want 0x%x", zx(1, 10), z, ok, zx(1, 5))
	}
	if _, err := os.Stat(filepath.Join(s.SnapDir(), snapshotName(zx(1, 15)))); !os.IsNotExist(err) {
		t.Fatalf("snapshot newer than the truncation point still there: %v", err)
	}
}

func TestSetGetInt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, "")
	v, err := s.GetInt("acceptedEpoch")
	if err != nil || v != 0 {
		t.Fatalf("GetInt(absent) = %d, %v, want 0, nil", v, err)
	}
	for k, v := range map[string]int64{"acceptedEpoch": 7, "currentEpoch": 6, "neg": -2} {
		if err := s.SetInt(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetInt("acceptedEpoch", 8); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s2 := openT(t, dir, "")
	for k, want := range map[string]int64{"acceptedEpoch": 8, "currentEpoch": 6, "neg": -2, "other": 0} {
		if got, err := s2.GetInt(k); err != nil || got != want {
			t.Errorf("GetInt(%q) = %d, %v, want %d", k, got, err, want)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, "")
	bodies := map[int64][]byte{
		0:          {},
		zx(1, 3):   snapBody(3, 100),
		zx(2, 500): snapBody(5, 3<<20), // bigger than the write buffer
	}
	for _, z := range []int64{0, zx(1, 3), zx(2, 500)} {
		writeSnap(t, s, z, bodies[z])
		gz, got, ok := latest(t, s)
		if !ok || gz != z || !bytes.Equal(got, bodies[z]) {
			t.Fatalf("LatestSnapshot after writing 0x%x: zxid 0x%x ok=%v len %d, want len %d", z, gz, ok, len(got), len(bodies[z]))
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "version-2", "snapshot.*"))
	slices.Sort(names)
	want := []string{"snapshot.0", "snapshot.100000003", "snapshot.2000001f4"}
	var got []string
	for _, n := range names {
		got = append(got, filepath.Base(n))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("snapshot files %v, want %v (Apache's names)", got, want)
	}
	_ = s.Close()
	s2 := openT(t, dir, "")
	if z, b, ok := latest(t, s2); !ok || z != zx(2, 500) || !bytes.Equal(b, bodies[z]) {
		t.Fatalf("after reopen: latest 0x%x ok=%v", z, ok)
	}
}

// snapshotFiles lists the files of s's snapshot directory that are
// snapshots or temporary snapshots.
func snapshotFiles(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.SnapDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.Contains(e.Name(), "snapshot") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestSnapshotWriteFailureLeavesNothing(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	writeSnap(t, s, 1, []byte("good"))
	boom := errors.New("serializer failed")
	err := s.WriteSnapshot(2, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteSnapshot = %v, want the callback's error", err)
	}
	names := snapshotFiles(t, s)
	if !slices.Equal(names, []string{"snapshot.1"}) {
		t.Fatalf("files after failed write: %v, want [snapshot.1]", names)
	}
	if z, b, ok := latest(t, s); !ok || z != 1 || string(b) != "good" {
		t.Fatalf("latest = 0x%x %q", z, b)
	}
}

// A snapshot whose zxid is known only at its end (one a learner receives)
// is named and framed by the zxid its writer returns; a negative one is
// refused and leaves nothing behind.
func TestWriteSnapshotThen(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	body := snapBody(7, 2<<20)
	err := s.WriteSnapshotThen(func(w io.Writer) (int64, error) {
		for b := body; len(b) > 0; b = b[min(len(b), 64<<10):] {
			if _, err := w.Write(b[:min(len(b), 64<<10)]); err != nil {
				return 0, err
			}
		}
		return zx(3, 9), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if z, got, ok := latest(t, s); !ok || z != zx(3, 9) || !bytes.Equal(got, body) {
		t.Fatalf("latest: zxid 0x%x ok=%v len %d, want 0x%x and %d bytes", z, ok, len(got), zx(3, 9), len(body))
	}
	if err := s.WriteSnapshotThen(func(w io.Writer) (int64, error) { return -1, nil }); err == nil {
		t.Fatal("a negative zxid was accepted")
	}
	names := snapshotFiles(t, s)
	if !slices.Equal(names, []string{"snapshot.300000009"}) {
		t.Fatalf("files: %v, want [snapshot.300000009]", names)
	}
}

func TestStaleTempSnapshotRemovedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, "")
	_ = s.Close()
	tmp := filepath.Join(dir, "version-2", ".snapshot.5.123.tmp")
	if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	openT(t, dir, "")
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("stale temp file survived Open: %v", err)
	}
}

func TestCorruptSnapshotFallsBack(t *testing.T) {
	good := snapBody(1, 5000)
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		reason string // in the Warn line
	}{
		{"body byte flipped", func(t *testing.T, p string) { flipByte(t, p, snapHeaderSize+2500) }, "body checksum mismatch"},
		{"header byte flipped", func(t *testing.T, p string) { flipByte(t, p, 20) }, "header checksum mismatch"},
		{"truncated body", func(t *testing.T, p string) { truncate(t, p, snapHeaderSize+100) }, "truncated"},
		{"truncated header", func(t *testing.T, p string) { truncate(t, p, 10) }, "truncated"},
		{"empty file", func(t *testing.T, p string) { truncate(t, p, 0) }, "truncated"},
		{"trailing bytes", func(t *testing.T, p string) { appendBytes(t, p, []byte("xx")) }, "unexpected bytes"},
		{"not ours", func(t *testing.T, p string) { writeFile(t, p, bytes.Repeat([]byte("ZKSN"), 20)) }, "bad magic"},
		{"renamed", func(t *testing.T, p string) {
			if err := os.Rename(filepath.Join(filepath.Dir(p), snapshotName(zx(1, 9))), p); err != nil {
				t.Fatal(err)
			}
		}, "does not match the file name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := &recorder{}
			s, err := Open(dir, "", Options{Logger: slog.New(rec)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			mustAppend(t, s, seq(1, 1, 30)...)
			writeSnap(t, s, zx(1, 10), good)
			writeSnap(t, s, zx(1, 9), snapBody(9, 10)) // only used by "renamed"
			writeSnap(t, s, zx(1, 20), snapBody(2, 5000))
			newest := filepath.Join(s.SnapDir(), snapshotName(zx(1, 20)))
			tc.damage(t, newest)
			z, b, ok := latest(t, s)
			if !ok || z != zx(1, 10) || !bytes.Equal(b, good) {
				t.Fatalf("LatestSnapshot = 0x%x ok=%v, want the previous one 0x%x", z, ok, zx(1, 10))
			}
			w := rec.warnings()
			if len(w) != 1 || !strings.Contains(w[0], newest) || !strings.Contains(w[0], tc.reason) {
				t.Fatalf("warnings = %q, want one naming %s and %q", w, newest, tc.reason)
			}
		})
	}
}

func TestAllSnapshotsCorrupt(t *testing.T) {
	t.Run("log complete: replay from zero", func(t *testing.T) {
		s := openT(t, t.TempDir(), "")
		mustAppend(t, s, seq(1, 1, 10)...)
		writeSnap(t, s, zx(1, 5), snapBody(1, 100))
		flipByte(t, filepath.Join(s.SnapDir(), snapshotName(zx(1, 5))), snapHeaderSize+1)
		if _, _, ok, err := s.LatestSnapshot(); ok || err != nil {
			t.Fatalf("LatestSnapshot = ok %v err %v, want false nil (the log holds everything)", ok, err)
		}
	})
	t.Run("log purged: refuse", func(t *testing.T) {
		s := openT(t, t.TempDir(), "")
		mustAppend(t, s, seq(1, 1, 50)...)
		for _, c := range []int64{10, 20, 30} {
			writeSnap(t, s, zx(1, c), snapBody(c, 100))
		}
		if err := s.Purge(3); err != nil {
			t.Fatal(err)
		}
		if s.FirstZxid() != zx(1, 11) {
			t.Fatalf("FirstZxid after purge = 0x%x, want 0x%x", s.FirstZxid(), zx(1, 11))
		}
		for _, c := range []int64{10, 20, 30} {
			flipByte(t, filepath.Join(s.SnapDir(), snapshotName(zx(1, c))), snapHeaderSize+1)
		}
		_, _, ok, err := s.LatestSnapshot()
		if err == nil || ok || !strings.Contains(err.Error(), s.SnapDir()) {
			t.Fatalf("LatestSnapshot = ok %v err %v, want an error naming %s", ok, err, s.SnapDir())
		}
	})
	t.Run("log started after a snapshot: refuse", func(t *testing.T) {
		// A learner synced by SNAP: snapshot first, then the log.
		s := openT(t, t.TempDir(), "")
		writeSnap(t, s, zx(3, 7), snapBody(1, 100))
		mustAppend(t, s, seq(3, 8, 12)...)
		flipByte(t, filepath.Join(s.SnapDir(), snapshotName(zx(3, 7))), snapHeaderSize+1)
		if _, _, ok, err := s.LatestSnapshot(); err == nil || ok {
			t.Fatalf("LatestSnapshot = ok %v err %v, want an error: replaying the log alone misses 1..0x%x", ok, err, zx(3, 7))
		}
	})
}

func TestPurge(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, "")
	all := append(seq(1, 1, 40), seq(2, 1, 40)...)
	mustAppend(t, s, all...)
	snaps := []int64{zx(1, 5), zx(1, 15), zx(1, 25), zx(2, 5), zx(2, 15)}
	for _, z := range snaps {
		writeSnap(t, s, z, snapBody(z, 64))
	}
	if err := s.Purge(1); err != nil { // below the minimum: keeps 3
		t.Fatal(err)
	}
	listed, err := s.listSnapshots()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, f := range listed {
		got = append(got, f.zxid)
	}
	if want := []int64{zx(2, 15), zx(2, 5), zx(1, 25)}; !slices.Equal(got, want) {
		t.Fatalf("snapshots after Purge(1) = %x, want %x", got, want)
	}
	if got, want := s.FirstZxid(), zx(1, 26); got != want {
		t.Fatalf("FirstZxid after purge = 0x%x, want 0x%x", got, want)
	}
	if got, want := replayed(t, s, 0), after(all, zx(1, 25)); !slices.Equal(got, want) {
		t.Fatalf("log after purge = %x, want %x", got, want)
	}
	// Recovery from each kept snapshot still has its log.
	_ = s.Close()
	s = openT(t, dir, "")
	if s.FirstZxid() != zx(1, 26) || s.LastZxid() != zx(2, 40) {
		t.Fatalf("after reopen first 0x%x last 0x%x", s.FirstZxid(), s.LastZxid())
	}
	if z, _, ok := latest(t, s); !ok || z != zx(2, 15) {
		t.Fatalf("latest = 0x%x", z)
	}
	// Purging again with the same snapshots changes nothing.
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if s.FirstZxid() != zx(1, 26) {
		t.Fatalf("second purge moved FirstZxid to 0x%x", s.FirstZxid())
	}
	// A snapshot at the last zxid: the last entry stays so LastZxid holds.
	writeSnap(t, s, zx(2, 30), nil)
	writeSnap(t, s, zx(2, 40), nil)
	writeSnap(t, s, zx(2, 40)+1, nil) // newer than the log
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if s.LastZxid() != zx(2, 40) || s.FirstZxid() != zx(2, 31) {
		t.Fatalf("after purge to 0x%x: first 0x%x last 0x%x", zx(2, 30), s.FirstZxid(), s.LastZxid())
	}
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if s.LastZxid() != zx(2, 40) {
		t.Fatalf("purge emptied the log: last 0x%x", s.LastZxid())
	}
}

func TestPurgeWithoutSnapshotsKeepsLog(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	mustAppend(t, s, seq(1, 1, 10)...)
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if s.FirstZxid() != zx(1, 1) {
		t.Fatalf("Purge without snapshots deleted log entries: first 0x%x", s.FirstZxid())
	}
}

func TestDirSizes(t *testing.T) {
	dataDir, logDir := t.TempDir(), t.TempDir()
	s := openT(t, dataDir, logDir)
	mustAppend(t, s, seq(1, 1, 10)...)
	writeSnap(t, s, 10, make([]byte, 1000))
	fi, err := os.Stat(s.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LogDirSize(); got < fi.Size() {
		t.Errorf("LogDirSize = %d, smaller than the log file (%d)", got, fi.Size())
	}
	if got := s.DataDirSize(); got < 1000+snapHeaderSize {
		t.Errorf("DataDirSize = %d, want >= %d", got, 1000+snapHeaderSize)
	}
	if filepath.Dir(s.LogPath()) != filepath.Join(logDir, "version-2") {
		t.Errorf("log at %s, want under %s/version-2", s.LogPath(), logDir)
	}
}

func TestOpenTwiceFailsFast(t *testing.T) {
	tests := []struct {
		name            string
		dataDir, logDir func(data, log string) (string, string)
	}{
		{"same dirs", func(d, l string) (string, string) { return d, l }, nil},
		{"same dataLogDir", func(d, l string) (string, string) { return d + "-other", l }, nil},
		{"same dataDir", func(d, l string) (string, string) { return d, l + "-other" }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			d, l := filepath.Join(base, "data"), filepath.Join(base, "log")
			openT(t, d, l)
			d2, l2 := tc.dataDir(d, l)
			start := time.Now()
			s2, err := Open(d2, l2, Options{Logger: testLogger(t)})
			if err == nil {
				s2.Close()
				t.Fatal("second Open of the same directory succeeded")
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open: %v, want ErrLocked", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			t.Logf("second Open failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

func TestOpenBadDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	writeFile(t, file, []byte("x"))
	tests := []struct {
		name, dataDir, logDir, want string
	}{
		{"dataDir is a file", file, "", "not a directory"},
		{"dataLogDir is a file", base, file, "not a directory"},
		{"empty dataDir", "", "", "dataDir is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.dataDir, tc.logDir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		ro := filepath.Join(base, "ro")
		if err := os.MkdirAll(filepath.Join(ro, "version-2"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(ro, "version-2"), 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(filepath.Join(ro, "version-2"), 0o755) })
		_, err := Open(ro, "", Options{})
		if err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("Open of a read-only dir: %v", err)
		}
	})
}

func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func truncate(t testing.TB, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesApacheDataFiles(t *testing.T) {
	tests := []struct {
		name, file string
		content    []byte
	}{
		{"txn log", "log.100000001", []byte("ZKLG\x00\x00\x00\x02")},
		{"snapshot", "snapshot.0", []byte("ZKSN\x00\x00\x00\x02")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "version-2"), 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "version-2", tc.file)
			writeFile(t, p, tc.content)
			s, err := Open(dir, "", Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a directory with Apache ZooKeeper data")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "Apache") {
				t.Fatalf("Open: %v, want it to name %s as Apache's", err, p)
			}
		})
	}
}
