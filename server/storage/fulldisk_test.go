//go:build linux

package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const fullDiskEnv = "ZKGO_STORAGE_FULLDISK_DIR"

// TestFullDisk runs a child process whose file size limit (RLIMIT_FSIZE)
// stops the log from growing, as a full disk would: the WAL cannot
// preallocate its next chunk and bolt cannot grow (the background move
// fails, the entries stay in the WAL). Append must return an error, and
// every entry it acknowledged before must be there on reopen.
//
// Two cases: "prealloc" stops the WAL's preallocation of its next chunk
// (the Append fails before writing); "write" preallocates the WAL past the
// limit before setting it, so a write itself fails part-way and leaves a
// partial record behind (its zeroing fails too): it must never be
// recovered, and the Appends after it must keep failing.
func TestFullDisk(t *testing.T) {
	if v := os.Getenv(fullDiskEnv); v != "" {
		mode, dir, _ := strings.Cut(v, ":")
		fullDiskChild(mode, dir)
		return
	}
	for _, mode := range []string{"prealloc", "write"} {
		t.Run(mode, func(t *testing.T) { testFullDisk(t, mode) })
	}
}

func testFullDisk(t *testing.T, mode string) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDisk$", "-test.count=1")
	cmd.Env = append(os.Environ(), fullDiskEnv+"="+mode+":"+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	var acked int64
	var appendErr string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "acked "); ok {
			acked, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "error "); ok {
			appendErr = v
		}
	}
	if appendErr == "" || acked == 0 {
		t.Fatalf("child did not hit the limit: acked %d error %q\n%s", acked, appendErr, out)
	}
	t.Logf("child acknowledged %d entries, then: %s", acked, appendErr)
	if !strings.Contains(appendErr, "wal.") && !strings.Contains(appendErr, "log.bolt") {
		t.Errorf("Append error %q does not name the log file", appendErr)
	}
	s := openT(t, dir, "")
	if s.LastZxid() < acked {
		t.Fatalf("after reopen LastZxid = %d, but %d were acknowledged", s.LastZxid(), acked)
	}
	var n int64
	err = s.Replay(0, func(e Entry) error {
		n++
		if e.Zxid != n || !bytes.Equal(e.Data, fullDiskPayload(n)) {
			return fmt.Errorf("entry %d: zxid %d data %q", n, e.Zxid, e.Data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < acked {
		t.Fatalf("replayed %d entries, %d were acknowledged", n, acked)
	}
	// The log is usable again once there is room.
	mustAppendData(t, s, n+1)
}

func fullDiskPayload(z int64) []byte { return bytes.Repeat([]byte{byte(z)}, 2000) }

func mustAppendData(t *testing.T, s *Store, z int64) {
	t.Helper()
	if err := s.Append([]Entry{{Zxid: z, Data: fullDiskPayload(z)}}); err != nil {
		t.Fatal(err)
	}
}

// fullDiskChild appends until the file size limit makes Append fail, then
// tries a few more times (each must fail or succeed cleanly) and exits
// without Close, as a crash would.
func fullDiskChild(mode, dir string) {
	// Never a new segment: the limit stops the WAL file itself.
	opts := Options{ForceSync: true, Logger: slog.New(slog.DiscardHandler), walChunk: 64 << 10, walSegmentMax: 1 << 40}
	room := uint64(1 << 20)
	if mode == "write" {
		opts.walChunk = 4 << 20 // preallocated below, before the limit
		room = 256 << 10
	}
	s, err := Open(dir, "", opts)
	if err != nil {
		fmt.Println("open", err)
		os.Exit(1)
	}
	first := int64(1)
	if mode == "write" {
		if err := s.Append([]Entry{{Zxid: 1, Data: fullDiskPayload(1)}}); err != nil {
			fmt.Println("append", err)
			os.Exit(1)
		}
		fmt.Println("acked", 1)
		first = 2
	}
	fi, err := os.Stat(s.LogPath())
	if err != nil {
		fmt.Println("stat", err)
		os.Exit(1)
	}
	limit := uint64(fi.Size()) + room
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Println("setrlimit", err)
		os.Exit(1)
	}
	var acked int64
	failures := 0
	for z := first; z < 100000 && failures < 5; z++ {
		batch := []Entry{{Zxid: z, Data: fullDiskPayload(z)}}
		if err := s.Append(batch); err != nil {
			if failures == 0 {
				fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
			}
			failures++
			z-- // retry the same zxid: nothing of it may be stored
			continue
		}
		acked = z
		fmt.Println("acked", acked)
	}
	os.Exit(0)
}
