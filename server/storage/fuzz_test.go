package storage

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzSnapshotFile feeds arbitrary bytes as the newest snapshot: reading it
// must never panic, and a file that is accepted must yield a body whose
// CRC the header vouches for; anything else falls back to the older one.
func FuzzSnapshotFile(f *testing.F) {
	valid := (snapHeader{zxid: 5, bodyLen: 3, bodyCRC: crc32c([]byte("abc"))}).marshal()
	f.Add(append(valid, "abc"...))
	f.Add(valid)
	f.Add([]byte(snapMagic))
	f.Add([]byte{})
	dir := f.TempDir()
	s, err := Open(dir, "", Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteSnapshot(1, func(w io.Writer) error { _, err := w.Write([]byte("old")); return err }); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(s.SnapDir(), snapshotName(5)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		z, r, ok, err := s.LatestSnapshot()
		if err != nil || !ok {
			t.Fatalf("LatestSnapshot: ok %v err %v, want a snapshot (the old one at least)", ok, err)
		}
		body, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch z {
		case 1:
			if string(body) != "old" {
				t.Fatalf("fallback body %q", body)
			}
		case 5:
			if len(b) < snapHeaderSize || !bytes.Equal(body, b[snapHeaderSize:]) {
				t.Fatalf("accepted body %q from file %q", body, b)
			}
		default:
			t.Fatalf("zxid 0x%x", z)
		}
	})
}

// FuzzDecodeBlock: a bolt value (format 2 block or format 1 entry) that
// is not exactly what the encoder wrote for that key must be rejected,
// never panic; one that decodes and whose entries verify re-encodes to the
// same bytes.
func FuzzDecodeBlock(f *testing.F) {
	e := func(z uint64, d string) blockEntry {
		return blockEntry{zxid: z, crc: entryCRC(z, []byte(d)), data: []byte(d)}
	}
	f.Add(uint64(1), encodeBlock(1, 1, 0, []blockEntry{e(1, "a"), e(2, "bc"), e(5, "")}))
	f.Add(uint64(1<<32|256), encodeBlock(1<<32|256, 1<<32|200, 0, []blockEntry{e(1<<32|256, "x"), e(1<<32|257, "y")}))
	f.Add(uint64(1<<32|300), encodeBlock(1<<32|300, 1<<32|290, 0, []blockEntry{e(1<<32|300, "single")}))
	f.Add(uint64(7), encodeEntryV1(7, 1, 0, []byte("data")))
	f.Add(uint64(7), []byte{1, 2, 3})
	f.Add(uint64(7), []byte{2})
	f.Fuzz(func(t *testing.T, key uint64, b []byte) {
		blk, err := decodeBlock(key, b)
		if err != nil {
			return
		}
		if len(blk.entries) == 0 || blk.key != key {
			t.Fatalf("accepted a block with %d entries under 0x%x (key 0x%x)", len(blk.entries), blk.key, key)
		}
		for _, e := range blk.entries {
			if err := e.check(); err != nil {
				return
			}
		}
		var again []byte
		if b[0] == entryVersionV1 {
			again = encodeEntryV1(key, blk.runStart, blk.runPrev, blk.entries[0].data)
		} else {
			again = encodeBlock(key, blk.runStart, blk.runPrev, blk.entries)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
	})
}

func crc32c(b []byte) uint32 {
	var c crcWriter
	c.w = io.Discard
	c.h = newCRC()
	_, _ = c.Write(b)
	return c.h.Sum32()
}

// FuzzWALRecord: a WAL record that is not exactly what encodeWALRecord
// wrote for that segment must be rejected, never panic; readSegment on the
// same bytes never panics either.
func FuzzWALRecord(f *testing.F) {
	rec, err := encodeWALRecord(3, []walEntry{{zxid: 7, data: []byte("data")}, {zxid: 9}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint64(3), rec)
	f.Add(uint64(4), rec)
	f.Add(uint64(3), rec[:walHeaderSize])
	f.Add(uint64(3), []byte(walMagic))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, segSeq uint64, b []byte) {
		es, n, err := decodeWALRecord(segSeq, b)
		if err == nil {
			again, err := encodeWALRecord(segSeq, slices.Clone(es))
			if err != nil || !bytes.Equal(again, b[:n]) {
				t.Fatalf("accepted %x, which re-encodes as %x (%v)", b[:n], again, err)
			}
		}
		p := filepath.Join(dir, walName(segSeq))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, _, _ = readSegment(segment{seq: segSeq, path: p}, true)
		_, _, _, _ = readSegment(segment{seq: segSeq, path: p}, false)
	})
}
