package apachefile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/txn"
)

// The files Apache 3.8.0 wrote in the integration suite's
// TestConvertApacheData.
const testdata = "../integration/testdata/apache-3.8.0"

func TestReadApacheFiles(t *testing.T) {
	f, err := Find(filepath.Join(testdata, "snapshots", "version-2"), filepath.Join(testdata, "snapshots", "version-2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Snapshots) < 2 || len(f.Logs) < 2 {
		t.Fatalf("found %+v", f)
	}
	s, err := ReadSnapshot(f.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes[0].Path != "/" || s.Digest == nil || s.Digest.Digest == 0 {
		t.Errorf("snapshot %s: first node %q, digest %+v", s.Path, s.Nodes[0].Path, s.Digest)
	}
	last := int64(0)
	types := map[int32]int{}
	for _, l := range f.Logs {
		torn, err := ReadLog(l, func(x *txn.Txn) error {
			if x.Zxid <= last {
				t.Errorf("%s: zxid 0x%x after 0x%x", l, x.Zxid, last)
			}
			last = x.Zxid
			types[x.Type]++
			return nil
		})
		if err != nil || torn {
			t.Fatalf("%s: torn %v, %v", l, torn, err)
		}
	}
	for _, typ := range []int32{txn.TypeCreateSession, txn.TypeCreate, txn.TypeMulti, txn.TypeCloseSession, txn.TypeSetACL, txn.TypeCreateTTL, txn.TypeCreateContainer} {
		if types[typ] == 0 {
			t.Errorf("no txn of type %d in the logs: %v", typ, types)
		}
	}
}

// A byte changed anywhere in a snapshot, or a snapshot cut short, is
// ErrCorrupt; so is a log record whose checksum does not match. A log
// whose last record was cut short by a crash ends there (torn).
func TestCorruptApacheFiles(t *testing.T) {
	dir := filepath.Join(testdata, "snapshots", "version-2")
	f, err := Find(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := os.ReadFile(f.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{20, len(snap) / 2, len(snap) - 30} {
		b := append([]byte(nil), snap...)
		b[off] ^= 0x40
		if _, err := parseSnapshot("x", 1, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("snapshot with byte %d changed: %v", off, err)
		}
	}
	if _, err := parseSnapshot("x", 1, snap[:len(snap)/2]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("snapshot cut short: %v", err)
	}

	// The run without snapshots logged every txn in one file.
	log, err := os.ReadFile(filepath.Join(testdata, "log", "version-2", "log.1"))
	if err != nil {
		t.Fatal(err)
	}
	count := func(b []byte) (int, bool, error) {
		n := 0
		torn, err := parseLog("x", b, func(*txn.Txn) error { n++; return nil })
		return n, torn, err
	}
	all, torn, err := count(log)
	if err != nil || torn || all < 2 {
		t.Fatalf("log: %d txns, torn %v, %v", all, torn, err)
	}
	b := append([]byte(nil), log...)
	b[len(b)-5] ^= 0x40 // inside the last record
	if _, _, err := count(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("log record changed: %v", err)
	}
	n, torn, err := count(log[:len(log)-3])
	if err != nil || !torn || n != all-1 {
		t.Errorf("log cut in its last record: %d of %d txns, torn %v, %v", n, all, torn, err)
	}
	padded := append(append([]byte(nil), log...), make([]byte, 4096)...)
	if n, torn, err := count(padded); err != nil || torn || n != all {
		t.Errorf("log with its preallocated zeros: %d of %d txns, torn %v, %v", n, all, torn, err)
	}
}

// FuzzApacheFiles: no input makes the readers panic or hang.
func FuzzApacheFiles(f *testing.F) {
	dir := filepath.Join(testdata, "snapshots", "version-2")
	if files, err := Find(dir, dir); err == nil {
		for _, p := range append(files.Snapshots[:1], files.Logs[:1]...) {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseSnapshot("x", 1, b)
		_, _ = parseLog("x", b, func(*txn.Txn) error { return nil })
		_, _ = DecodeTxn(b)
	})
}

// Snapshots Apache wrote with snapshot.compression.method=gz are read (the
// checksum is the uncompressed stream's); snappy ones are refused by name.
func TestCompressedSnapshots(t *testing.T) {
	src := filepath.Join(testdata, "snapshots", "version-2")
	f, err := Find(src, src)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ReadSnapshot(f.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(b)
	w.Close()
	name := filepath.Base(f.Snapshots[0])
	if err := os.WriteFile(filepath.Join(dir, name+".gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "snapshot.1.snappy"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Find(dir, dir)
	if err != nil || len(got.Snapshots) != 2 {
		t.Fatalf("found %v, %v", got.Snapshots, err)
	}
	s, err := ReadSnapshot(got.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.Zxid != plain.Zxid || len(s.Nodes) != len(plain.Nodes) || *s.Digest != *plain.Digest {
		t.Errorf("gzip: zxid 0x%x, %d nodes, digest %+v; plain: 0x%x, %d, %+v", s.Zxid, len(s.Nodes), s.Digest, plain.Zxid, len(plain.Nodes), plain.Digest)
	}
	if _, err := ReadSnapshot(got.Snapshots[1]); err == nil || !strings.Contains(err.Error(), "snappy") {
		t.Errorf("snappy: %v", err)
	}
}

// What WriteSnapshot writes reads back as the snapshot it was given.
func TestWriteSnapshotRoundTrip(t *testing.T) {
	dir := filepath.Join(testdata, "snapshots", "version-2")
	f, err := Find(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadSnapshot(f.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSnapshot(&b, want); err != nil {
		t.Fatal(err)
	}
	got, err := parseSnapshot("x", want.Zxid, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Sessions) != fmt.Sprint(want.Sessions) || *got.Digest != *want.Digest || len(got.Nodes) != len(want.Nodes) {
		t.Fatalf("sessions %v digest %+v nodes %d; want %v %+v %d", got.Sessions, got.Digest, len(got.Nodes), want.Sessions, want.Digest, len(want.Nodes))
	}
	byPath := map[string]Node{}
	for _, n := range want.Nodes {
		byPath[n.Path] = n
	}
	for _, n := range got.Nodes {
		w, ok := byPath[n.Path]
		if !ok || fmt.Sprintf("%+v %v", *n.Node, n.ACL) != fmt.Sprintf("%+v %v", *w.Node, w.ACL) {
			t.Errorf("%s: %+v %v, want %+v %v", n.Path, *n.Node, n.ACL, *w.Node, w.ACL)
		}
	}
}

// Only the logs that may hold txns after a snapshot are read.
func TestLogsAfter(t *testing.T) {
	logs := []string{"d/log.1", "d/log.20", "d/log.43", "d/log.5e"}
	for _, tc := range []struct {
		zxid int64
		want int // how many of the last logs
	}{{0, 4}, {0x1f, 3}, {0x20, 3}, {0x42, 2}, {0x43, 2}, {0x5d, 1}, {0x100, 1}} {
		if got := LogsAfter(logs, tc.zxid); len(got) != tc.want || got[len(got)-1] != logs[3] {
			t.Errorf("after 0x%x: %v, want the last %d", tc.zxid, got, tc.want)
		}
	}
}

// txn.ApacheSize is the size of each txn as Apache 3.8 wrote it to its
// log: each entry holds the txn and its TxnDigest (12 bytes).
func TestApacheSizeOfLoggedTxns(t *testing.T) {
	logs, err := filepath.Glob(filepath.Join(testdata, "*", "version-2", "log.*"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no Apache logs in %s: %v", testdata, err)
	}
	types := map[int32]int{}
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The records as parseLog reads them: crc, length, entry, 'B'.
		for off := 16; len(b)-off >= 12; {
			n := int(int32(binary.BigEndian.Uint32(b[off+8:])))
			if n <= 0 || off+12+n >= len(b) {
				break
			}
			entry := b[off+12 : off+12+n]
			tx, err := DecodeTxn(entry)
			if err != nil {
				t.Fatalf("%s at %d: %v", path, off, err)
			}
			if got := tx.ApacheSize() + 12; got != len(entry) {
				t.Errorf("%s at %d: txn type %d: ApacheSize+12 = %d, Apache wrote %d bytes", path, off, tx.Type, got, len(entry))
			}
			types[tx.Type]++
			off += 12 + n + 1
		}
	}
	t.Logf("txn types checked (type: count): %v", types)
	if len(types) < 4 {
		t.Errorf("only %d txn types in the logs", len(types))
	}
}
