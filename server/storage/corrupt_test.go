package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// markedPayload is easy to find in the bolt file.
func markedPayload(z int64) []byte { return []byte(fmt.Sprintf("MARKER-%08x-PAYLOAD", z)) }

// buildLog writes a closed log with entries 1..n (one batch of 10 per
// commit) and returns its dataDir.
func buildLog(t *testing.T, n int64) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, "", Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for b := int64(1); b <= n; b += 10 {
		var es []Entry
		for z := b; z < b+10 && z <= n; z++ {
			es = append(es, Entry{Zxid: z, Data: markedPayload(z)})
		}
		if err := s.Append(es); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// damageAll flips one byte in every copy of marker in the file (bolt's
// copy-on-write leaves stale copies of pages behind) and returns how many.
func damageAll(t *testing.T, path string, marker []byte) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], marker)
		if i < 0 {
			break
		}
		b[off+i+len(marker)-3] ^= 0x01 // inside "LOAD"
		off += i + len(marker)
		n++
	}
	if n == 0 {
		t.Fatalf("marker %q not found in %s", marker, path)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

func logFile(dir string) string { return filepath.Join(dir, "version-2", "log.bolt") }

func TestCorruptEntryDetectedOnReplay(t *testing.T) {
	dir := buildLog(t, 50)
	damageAll(t, logFile(dir), markedPayload(23))
	s := openT(t, dir, "")
	var seen []int64
	err := s.Replay(0, func(e Entry) error {
		if !bytes.Equal(e.Data, markedPayload(e.Zxid)) {
			t.Errorf("Replay delivered damaged data for 0x%x: %q", e.Zxid, e.Data)
		}
		seen = append(seen, e.Zxid)
		return nil
	})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Replay over a damaged entry: %v, want ErrCorrupt", err)
	}
	for _, want := range []string{logFile(dir), "0x17", "checksum mismatch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(seen) != 22 {
		t.Fatalf("Replay delivered %d entries before the damaged one, want 22", len(seen))
	}
	// Replaying only after the damaged entry works.
	if got := len(replayedMarked(t, s, 23)); got != 27 {
		t.Fatalf("Replay(23) delivered %d entries, want 27", got)
	}
}

func replayedMarked(t *testing.T, s *Store, after int64) []int64 {
	t.Helper()
	var got []int64
	err := s.Replay(after, func(e Entry) error {
		if !bytes.Equal(e.Data, markedPayload(e.Zxid)) {
			t.Errorf("entry 0x%x: data %q", e.Zxid, e.Data)
		}
		got = append(got, e.Zxid)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d): %v", after, err)
	}
	return got
}

func TestCorruptLastEntryFailsOpen(t *testing.T) {
	dir := buildLog(t, 30)
	damageAll(t, logFile(dir), markedPayload(30))
	_, err := Open(dir, "", Options{Logger: testLogger(t)})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), logFile(dir)) {
		t.Fatalf("Open with a damaged last entry: %v, want ErrCorrupt naming %s", err, logFile(dir))
	}
}

func TestCorruptLogFile(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, p string) { writeFile(t, p, bytes.Repeat([]byte("garbage!"), 4096)) }},
		{"both meta pages zeroed", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 2*4096), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated to one page", func(t *testing.T, p string) { truncate(t, p, 4096) }},
		{"truncated to half", func(t *testing.T, p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			truncate(t, p, fi.Size()/2)
		}},
		{"tiny", func(t *testing.T, p string) { writeFile(t, p, []byte("x")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildLog(t, 2000)
			tc.damage(t, logFile(dir))
			s, err := Open(dir, "", Options{Logger: testLogger(t)})
			if err == nil {
				// bbolt may still open a file whose damage is elsewhere; then
				// reading it must fail, never deliver garbage.
				defer s.Close()
				err = s.Replay(0, func(e Entry) error {
					if !bytes.Equal(e.Data, markedPayload(e.Zxid)) {
						t.Fatalf("damaged log delivered wrong data for 0x%x", e.Zxid)
					}
					return nil
				})
				if err == nil && s.LastZxid() == 2000 {
					t.Fatal("damaged log opened and replayed completely")
				}
			}
			if err == nil {
				t.Fatalf("no error from a damaged log (last 0x%x)", s.LastZxid())
			}
			if !strings.Contains(err.Error(), logFile(dir)) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line naming %s", err, logFile(dir))
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestRandomDamageNeverLoadsGarbage flips random bytes of a log file: Open
// and Replay must either deliver exactly the entries written, or fail with
// an error; never panic or deliver other data.
func TestRandomDamageNeverLoadsGarbage(t *testing.T) {
	dir := buildLog(t, 300)
	orig, err := os.ReadFile(logFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	rounds := 200
	if testing.Short() {
		rounds = 30
	}
	rng := rand.New(rand.NewPCG(1, 2))
	failed := 0
	for i := range rounds {
		b := bytes.Clone(orig)
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(logFile(dir), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, "", Options{})
		if err != nil {
			failed++
			continue
		}
		var n int64
		err = s.Replay(0, func(e Entry) error {
			n++
			if e.Zxid != n || !bytes.Equal(e.Data, markedPayload(e.Zxid)) {
				return fmt.Errorf("round %d: delivered 0x%x %q as entry %d", i, e.Zxid, e.Data, n)
			}
			return nil
		})
		_ = s.Close()
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("round %d: %v", i, err)
		}
		if err != nil {
			failed++
		}
	}
	t.Logf("%d of %d damaged files were rejected, the rest were intact where it matters", failed, rounds)
}
