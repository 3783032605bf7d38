package crash

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// state is every /crash node the writers made: data, version, zxids.
type state struct {
	zxid  int64 // the server's last zxid (srvr)
	nodes map[string]zk.Stat
	data  map[string]string
}

func dumpState(addr string) (*state, error) {
	resp, err := srvr(addr)
	if err != nil {
		return nil, err
	}
	st := &state{nodes: map[string]zk.Stat{}, data: map[string]string{}}
	for _, l := range strings.Split(resp, "\n") {
		if v, ok := strings.CutPrefix(l, "Zxid: "); ok {
			st.zxid, err = strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("srvr Zxid %q: %w", v, err)
			}
		}
	}
	c, err := connect(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for w := range writers {
		dir := writerDir(w)
		kids, _, err := c.Children(dir)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("children of %s: %w", dir, err)
		}
		for _, k := range kids {
			p := dir + "/" + k
			d, s, err := c.Get(p)
			if err != nil {
				return nil, fmt.Errorf("get %s: %w", p, err)
			}
			st.nodes[p], st.data[p] = *s, string(d)
		}
	}
	return st, nil
}

// prefixOf checks that got is the state of want's history as of got.zxid,
// and that got.zxid >= atLeast: no change after got.zxid is there, and
// every one before it is (the writers only create and set).
func (got *state) prefixOf(want *state, atLeast int64) error {
	if got.zxid < atLeast {
		return fmt.Errorf("LOST: recovered up to zxid 0x%x; everything up to 0x%x was intact on disk (undamaged: 0x%x)",
			got.zxid, atLeast, want.zxid)
	}
	if got.zxid > want.zxid {
		return fmt.Errorf("recovered zxid 0x%x is beyond the undamaged copy's 0x%x", got.zxid, want.zxid)
	}
	for p, ws := range want.nodes {
		gs, ok := got.nodes[p]
		switch {
		case ws.Mzxid <= got.zxid && (!ok || gs.Mzxid != ws.Mzxid || got.data[p] != want.data[p]):
			return fmt.Errorf("LOST: %s (mzxid 0x%x <= recovered zxid 0x%x) is %v %q, undamaged copy %q",
				p, ws.Mzxid, got.zxid, ok, got.data[p], want.data[p])
		case ws.Czxid > got.zxid && ok:
			return fmt.Errorf("%s exists but was created at 0x%x, after the recovered zxid 0x%x", p, ws.Czxid, got.zxid)
		case ok && gs.Mzxid > got.zxid:
			return fmt.Errorf("%s changed at 0x%x, after the recovered zxid 0x%x", p, gs.Mzxid, got.zxid)
		}
	}
	for p := range got.nodes {
		if _, ok := want.nodes[p]; !ok {
			return fmt.Errorf("%s exists, but not in the undamaged copy", p)
		}
	}
	return nil
}

// lastWALRecord finds the last record of a WAL segment (zkgo's format:
// "zkWL", 4-byte body length, CRC, body = count then entries starting with
// an 8-byte zxid) and returns its offset, length and first zxid.
func lastWALRecord(b []byte) (off, size int, first int64, ok bool) {
	for p := 0; p+16+8 <= len(b) && string(b[p:p+4]) == "zkWL"; {
		n := int(binary.BigEndian.Uint32(b[p+4:]))
		if p+12+n > len(b) {
			break
		}
		off, size, first, ok = p, 12+n, int64(binary.BigEndian.Uint64(b[p+16:])), true
		p += 12 + n
	}
	return
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDamagedTailRecoversOrRefuses cuts or flips the last bytes of the txn
// log's files (the last record of the WAL segment, the end of the bolt
// file) and of the newest snapshot, at several offsets, in copies of the
// dataDir a SIGKILL left behind. Against the undamaged copy's state:
//   - a damaged last WAL record is a torn write: the server starts with
//     everything up to the record before it (a crash mid-write of that
//     batch looks the same, and the batch's writes were the newest), or,
//     where a crash cannot have left it so (a complete record header with
//     a length past the end of the file), refuses with a line naming it;
//   - a damaged newest snapshot: it starts from an older one plus the log,
//     with everything;
//   - a damaged bolt file: it starts with everything or refuses with a line
//     naming the file;
//
// and never a panic, a stack trace, or a state with a hole.
func TestDamagedTailRecoversOrRefuses(t *testing.T) {
	track(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := buildServer(t)
	work := t.TempDir()
	orig := filepath.Join(work, "orig")
	m := newModel()
	var walSeg string
	var recOff, recSize int
	var recFirst int64
	// Kill under load until the WAL's last record has not been moved into
	// bolt yet (the mover waits up to 100 ms): that is the torn-tail case.
	for try := 1; ; try++ {
		srv := startServerCfg(t, bin, work, orig, try, "snapCount=150\n")
		if err := srv.waitReady(ctx); err != nil {
			t.Fatalf("%v\n%s", err, srv.logTail())
		}
		if err := m.verify(srv.addr); err != nil {
			t.Fatalf("%v\n%s", err, srv.logTail())
		}
		if _, err := m.load(ctx, srv, try, 300+rand.IntN(300), rand.Uint64()); err != nil {
			t.Fatalf("%v\n%s", err, srv.logTail())
		}
		srv.waitKilled(t)
		segs, _ := filepath.Glob(filepath.Join(orig, "version-2", "wal.*"))
		if len(segs) > 0 {
			walSeg = segs[len(segs)-1]
			b, err := os.ReadFile(walSeg)
			if err != nil {
				t.Fatal(err)
			}
			var ok bool
			if recOff, recSize, recFirst, ok = lastWALRecord(b); ok {
				break
			}
		}
		if try == 10 {
			t.Fatalf("no WAL record left after %d kills", try)
		}
	}
	if len(snapshots(t, orig)) < 2 {
		t.Fatalf("want >= 2 snapshots to damage the newest, have %v", snapshots(t, orig))
	}
	t.Logf("last WAL record: %s at %d, %d bytes, first zxid 0x%x", filepath.Base(walSeg), recOff, recSize, recFirst)

	run := 100
	start := func(dir string) (*server, error) {
		run++
		srv := startServerCfg(t, bin, work, dir, run, "snapCount=1000000\n")
		return srv, srv.waitReady(ctx)
	}
	srv, err := start(copyOf(t, work, orig, "truth"))
	if err != nil {
		t.Fatalf("undamaged copy: %v\n%s", err, srv.logTail())
	}
	truth, err := dumpState(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.verify(srv.addr); err != nil { // the harness's model agrees
		t.Fatalf("undamaged copy: %v\n%s", err, srv.logTail())
	}
	_ = srv.stop(10 * time.Second)
	t.Logf("undamaged copy: zxid 0x%x, %d nodes", truth.zxid, len(truth.nodes))

	type damage struct {
		name string
		file func(dir string) string
		do   func(t *testing.T, path string)
		// must: "recover" (everything up to atLeast) or "either".
		must    string
		atLeast int64
	}
	walFile := func(dir string) string { return filepath.Join(dir, "version-2", filepath.Base(walSeg)) }
	boltFile := func(dir string) string { return filepath.Join(dir, "version-2", "log.bolt") }
	newestSnap := func(dir string) string { return snapshots(t, dir)[0] }
	cut := func(size int64) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			if err := os.Truncate(p, size); err != nil {
				t.Fatal(err)
			}
		}
	}
	cutLast := func(n int64) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			cut(max(fi.Size()-n, 0))(t, p)
		}
	}
	flipAt := func(off func(size int64) int64) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			flip(t, p, off(fi.Size()))
		}
	}
	end := int64(recOff + recSize)
	tornOK := recFirst - 1 // the record before the last one is intact
	var cases []damage
	for _, k := range []int64{1, 11, 12, int64(recSize) / 2, int64(recSize) - 1} {
		// The WAL is preallocated: a crash leaves zeros after a torn
		// write, never a shorter file. Cut inside the 12-byte header it
		// still reads as a torn write; a complete header whose record
		// runs past the end of the file is damage the storage refuses.
		must := "recover"
		if k >= 12 {
			must = "either"
		}
		cases = append(cases, damage{fmt.Sprintf("WAL last record cut to %d of %d bytes", k, recSize), walFile,
			cut(int64(recOff) + k), must, tornOK})
	}
	cases = append(cases,
		damage{"WAL last record's last byte flipped", walFile, flipAt(func(int64) int64 { return end - 1 }), "recover", tornOK},
		damage{"WAL last record's length flipped", walFile, flipAt(func(int64) int64 { return int64(recOff) + 7 }), "either", tornOK},
		damage{"WAL cut after its last record", walFile, cut(end), "recover", truth.zxid},
	)
	for _, n := range []int64{1, 4096, 12288} {
		cases = append(cases, damage{fmt.Sprintf("bolt file: last %d bytes cut", n), boltFile, cutLast(n), "either", truth.zxid})
	}
	cases = append(cases,
		damage{"bolt file: last byte flipped", boltFile, flipAt(func(s int64) int64 { return s - 1 }), "either", truth.zxid},
		damage{"bolt file: byte 4096 from the end flipped", boltFile, flipAt(func(s int64) int64 { return s - 4096 }), "either", truth.zxid},
	)
	for _, n := range []int64{1, 1000} {
		cases = append(cases, damage{fmt.Sprintf("newest snapshot: last %d bytes cut", n), newestSnap, cutLast(n), "recover", truth.zxid})
	}
	cases = append(cases,
		damage{"newest snapshot: last byte flipped", newestSnap, flipAt(func(s int64) int64 { return s - 1 }), "recover", truth.zxid},
		damage{"newest snapshot: cut to its header", newestSnap, cut(40), "recover", truth.zxid},
		damage{"newest snapshot: empty", newestSnap, cut(0), "recover", truth.zxid},
	)

	// Two at a time (go test's -parallel is GOMAXPROCS): each case is a
	// server start, mostly waiting.
	t.Run("damage", func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				track(t)
				dir := copyOf(t, work, orig, fmt.Sprintf("case-%d", i))
				target := tc.file(dir)
				tc.do(t, target)
				srv := startServerCfg(t, bin, work, dir, 1000+i, "snapCount=1000000\n")
				err := srv.waitReady(ctx)
				out, _ := os.ReadFile(srv.logPath)
				if bytes.Contains(out, []byte("panic:")) || bytes.Contains(out, []byte("goroutine ")) {
					t.Fatalf("stack trace in the server output:\n%s", out)
				}
				if err != nil {
					<-srv.exited
					if tc.must == "recover" {
						t.Fatalf("did not start: %v\n%s", err, srv.logTail())
					}
					if srv.cmd.ProcessState.ExitCode() == 0 {
						t.Errorf("exit status 0 without serving")
					}
					lines := strings.Split(strings.TrimSpace(string(out)), "\n")
					last := lines[len(lines)-1]
					if !strings.Contains(last, filepath.Base(target)) {
						t.Fatalf("refused to start, but the last line does not name %s:\n%s", filepath.Base(target), out)
					}
					t.Logf("refused: %s", last)
					return
				}
				defer func() { _ = srv.stop(10 * time.Second) }()
				got, err := dumpState(srv.addr)
				if err != nil {
					t.Fatal(err)
				}
				if err := got.prefixOf(truth, tc.atLeast); err != nil {
					t.Fatalf("%v\n%s", err, srv.logTail())
				}
				t.Logf("started at zxid 0x%x of 0x%x (must reach 0x%x)", got.zxid, truth.zxid, tc.atLeast)
			})
		}
	})
}

// copyOf copies the dataDir orig to a fresh directory under work.
func copyOf(t *testing.T, work, orig, name string) string {
	t.Helper()
	dir := filepath.Join(work, name)
	copyDir(t, orig, dir)
	return dir
}
