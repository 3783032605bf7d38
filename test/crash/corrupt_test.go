package crash

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeSome writes n acknowledged values with one client and returns them.
func writeSome(t *testing.T, m *model, srv *server, n int) {
	t.Helper()
	if err := m.verify(srv.addr); err != nil { // creates /crash/w*
		t.Fatalf("%v\n%s", err, srv.logTail())
	}
	c, err := connect(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	acked := 0
	if err := m.writer(c, 0, rand.New(rand.NewPCG(3, 4)), stop, func() {
		if acked++; acked == n {
			close(stop)
		}
	}); err != nil {
		t.Fatalf("%v\n%s", err, srv.logTail())
	}
	if acked != n {
		t.Fatalf("only %d of %d writes acknowledged\n%s", acked, n, srv.logTail())
	}
}

func snapshots(t *testing.T, dataDir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dataDir, "version-2", "snapshot.*"))
	if err != nil {
		t.Fatal(err)
	}
	zxid := func(p string) uint64 {
		z, _ := strconv.ParseUint(strings.TrimPrefix(filepath.Base(p), "snapshot."), 16, 64)
		return z
	}
	sort.Slice(names, func(i, j int) bool { return zxid(names[i]) > zxid(names[j]) })
	return names
}

func flip(t *testing.T, path string, off int64) {
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
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptSnapshotFallsBack: with the newest snapshot damaged, zkserver
// starts from the previous one plus the log, says which file was bad, and
// has every acknowledged write.
func TestCorruptSnapshotFallsBack(t *testing.T) {
	track(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildServer(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	m := newModel()
	srv := startServer(t, bin, work, dataDir, 1, true)
	if err := srv.waitReady(ctx); err != nil {
		t.Fatalf("%v\n%s", err, srv.logTail())
	}
	// snapCount=200: a snapshot every 101..200 txns, so 700 writes leave
	// several behind.
	writeSome(t, m, srv, 700)
	srv.kill()
	srv.waitKilled(t)
	snaps := snapshots(t, dataDir)
	if len(snaps) < 2 {
		t.Fatalf("zkserver wrote %d snapshots for 700 txns with snapCount=200, want >= 2: %v\n%s", len(snaps), snaps, srv.logTail())
	}
	fi, err := os.Stat(snaps[0])
	if err != nil {
		t.Fatal(err)
	}
	flip(t, snaps[0], fi.Size()/2)

	srv = startServer(t, bin, work, dataDir, 2, true)
	if err := srv.waitReady(ctx); err != nil {
		t.Fatalf("did not start with a corrupt newest snapshot (an older one is valid): %v\n%s", err, srv.logTail())
	}
	if err := m.verify(srv.addr); err != nil {
		t.Fatalf("%v\n%s", err, srv.logTail())
	}
	log, _ := os.ReadFile(srv.logPath)
	var warned []string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, filepath.Base(snaps[0])) && strings.Contains(strings.ToLower(l), "corrupt") {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 {
		t.Fatalf("server log has %d lines naming the corrupt %s, want 1\n%s", len(warned), snaps[0], srv.logTail())
	}
	t.Logf("server said: %s", warned[0])
	_ = srv.stop(10 * time.Second)
}

// TestCorruptLogRefusesToStart: a damaged txn log entry or a cut log file
// makes zkserver exit non-zero with one line naming the file, no stack
// trace, and never serve a partial state.
func TestCorruptLogRefusesToStart(t *testing.T) {
	track(t)
	bin := buildServer(t)
	tests := []struct {
		name string
		// damage returns the files it damaged.
		damage func(t *testing.T, logFile string, m *model) []string
	}{
		{"entry checksum", func(t *testing.T, logFile string, m *model) []string {
			// The data of a write in the middle of the log: flip it in
			// every copy in the log files (bolt leaves stale copies of
			// pages; zkserver's storage also keeps recent entries in
			// wal.* segments before moving them into the main file).
			val := []byte(fmt.Sprintf("v%08d", m.next/2))
			var damaged []string
			for _, f := range logFiles(t, filepath.Dir(logFile)) {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for off := 0; ; {
					i := bytes.Index(b[off:], val)
					if i < 0 {
						break
					}
					b[off+i+len(val)-1] ^= 0x01
					off += i + len(val)
					n++
				}
				if n == 0 {
					continue
				}
				if err := os.WriteFile(f, b, 0o600); err != nil {
					t.Fatal(err)
				}
				damaged = append(damaged, f)
			}
			if len(damaged) == 0 {
				t.Fatalf("value %s not found in the log files of %s", val, filepath.Dir(logFile))
			}
			return damaged
		}},
		{"file cut in half", func(t *testing.T, logFile string, _ *model) []string {
			fi, err := os.Stat(logFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(logFile, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			return []string{logFile}
		}},
		{"garbage", func(t *testing.T, logFile string, _ *model) []string {
			if err := os.WriteFile(logFile, bytes.Repeat([]byte("not bolt"), 8192), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{logFile}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			track(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			work := t.TempDir()
			dataDir := filepath.Join(work, "data")
			m := newModel()
			srv := startServerCfg(t, bin, work, dataDir, 1, "snapCount=1000000\n")
			if err := srv.waitReady(ctx); err != nil {
				t.Fatalf("%v\n%s", err, srv.logTail())
			}
			writeSome(t, m, srv, 300)
			srv.kill()
			srv.waitKilled(t)
			logFile := findLogFile(t, dataDir)
			damaged := tc.damage(t, logFile, m)

			srv = startServerCfg(t, bin, work, dataDir, 2, "snapCount=1000000\n")
			err := srv.waitReady(ctx)
			if err == nil {
				verr := m.verify(srv.addr)
				t.Fatalf("zkserver started on a damaged log (verify: %v)\n%s", verr, srv.logTail())
			}
			select {
			case <-srv.exited:
			case <-ctx.Done():
				t.Fatal("zkserver neither served nor exited")
			}
			out, _ := os.ReadFile(srv.logPath)
			text := string(out)
			if srv.cmd.ProcessState == nil || srv.cmd.ProcessState.ExitCode() == 0 {
				t.Errorf("exit status %v, want non-zero", srv.waitErr)
			}
			if strings.Contains(text, "goroutine ") || strings.Contains(text, "panic:") {
				t.Errorf("output has a Go stack trace:\n%s", text)
			}
			var naming []string
			for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
				if slices.ContainsFunc(damaged, func(f string) bool { return strings.Contains(l, filepath.Base(f)) }) {
					naming = append(naming, l)
				}
			}
			if len(naming) == 0 {
				t.Errorf("no output line names %v:\n%s", damaged, text)
			} else {
				t.Logf("zkserver said: %s", naming[len(naming)-1])
			}
		})
	}
}

// logFiles returns the txn log files of a version-2 directory: log.* (ours:
// log.bolt; Apache's log.<zxid>) and zkserver's wal.* segments.
func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") || strings.HasPrefix(e.Name(), "wal.") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// findLogFile returns the txn log file: the one file in version-2 that is
// not a snapshot (the storage package's bolt file).
func findLogFile(t *testing.T, dataDir string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "version-2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") {
			return filepath.Join(dataDir, "version-2", e.Name())
		}
	}
	t.Fatalf("no log.* file in %s/version-2", dataDir)
	return ""
}

// TestSecondServerOnSameDataDir: a second zkserver on a dataDir in use exits
// at once with one line saying so, instead of hanging or sharing the files.
func TestSecondServerOnSameDataDir(t *testing.T) {
	track(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := buildServer(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	first := startServerCfg(t, bin, work, dataDir, 1, "")
	if err := first.waitReady(ctx); err != nil {
		t.Fatalf("%v\n%s", err, first.logTail())
	}
	second := startServerCfg(t, bin, work, dataDir, 2, "")
	select {
	case <-second.exited:
	case <-ctx.Done():
		t.Fatalf("second zkserver on the same dataDir neither failed nor exited\n%s", second.logTail())
	}
	if second.cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("second zkserver exited with status 0")
	}
	out, _ := os.ReadFile(second.logPath)
	if !strings.Contains(string(out), "locked") || strings.Contains(string(out), "goroutine ") {
		t.Fatalf("second zkserver output does not say the directory is locked (or has a stack trace):\n%s", out)
	}
	t.Logf("second zkserver said: %s", strings.TrimSpace(string(out)))
	if _, err := srvr(first.addr); err != nil {
		t.Fatalf("first server hurt by the second: %v", err)
	}
	_ = first.stop(10 * time.Second)
}
