package storage

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// encodeEntryV1 is the format-1 encoder (one txn per raft.Log, before
// blocks), kept to write old logs in tests.
func encodeEntryV1(zxid, runStart, runPrev uint64, data []byte) []byte {
	buf := make([]byte, entryHeaderSizeV1+len(data))
	buf[0] = entryVersionV1
	binary.BigEndian.PutUint64(buf[5:], runStart)
	binary.BigEndian.PutUint64(buf[13:], runPrev)
	copy(buf[entryHeaderSizeV1:], data)
	binary.BigEndian.PutUint32(buf[1:], entryCRC(zxid, buf[5:]))
	return buf
}

// writeV1Log writes a closed log in format 1 holding zxids (ascending),
// as the store wrote it before blocks: one raft.Log per txn, with the run
// bookkeeping in every entry.
func writeV1Log(t *testing.T, dir string, zxids []int64) {
	t.Helper()
	s := openT(t, dir, "")
	var logs []*raft.Log
	var start, prev, p uint64
	for _, zz := range zxids {
		z := uint64(zz)
		if p == 0 || z != p+1 {
			start, prev = z, p
		}
		logs = append(logs, &raft.Log{Index: z, Term: z >> 32, Type: raft.LogCommand,
			Data: encodeEntryV1(z, start, prev, payload(zz))})
		p = z
	}
	if err := s.bolt.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFormat1Log: a log written in format 1 opens, replays, takes new
// txns (in format 2) in the same ranges and in new ones, truncates and
// purges inside the old part, and reopens.
func TestOpenFormat1Log(t *testing.T) {
	dir := t.TempDir()
	// Epoch 1: 1..300 (a head key holding a format-1 entry at 0x100, then
	// format-1 entries after it), a gap, epoch 2: 0x1fe..0x205 across a
	// range boundary.
	old := append(append(seq(1, 1, 300), seq(1, 400, 410)...), seq(2, 0x1fe, 0x205)...)
	writeV1Log(t, dir, old)

	s := openT(t, dir, "")
	if s.FirstZxid() != zx(1, 1) || s.LastZxid() != zx(2, 0x205) {
		t.Fatalf("format-1 log: first 0x%x last 0x%x", s.FirstZxid(), s.LastZxid())
	}
	if got := replayed(t, s, 0); !slices.Equal(got, old) {
		t.Fatalf("format-1 log replayed %x", got)
	}
	if got := replayed(t, s, zx(1, 299)); !slices.Equal(got, after(old, zx(1, 299))) {
		t.Fatalf("Replay(after 0x%x) = %x", zx(1, 299), got)
	}
	// New txns continue the last range (after format-1 entries) and open
	// new ranges.
	more := seq(2, 0x206, 0x320)
	mustAppend(t, s, more...)
	all := append(slices.Clone(old), more...)
	s.flush(t)
	if got := replayed(t, s, 0); !slices.Equal(got, all) {
		t.Fatalf("mixed log replayed %d entries, want %d", len(got), len(all))
	}
	_ = s.Close()
	s = openT(t, dir, "")
	if got := replayed(t, s, zx(1, 5)); !slices.Equal(got, after(all, zx(1, 5))) {
		t.Fatalf("mixed log after reopen replayed %d entries", len(got))
	}
	// Purge inside the format-1 part.
	for _, z := range []int64{zx(1, 150), zx(1, 405), zx(2, 0x300)} {
		writeSnap(t, s, z, snapBody(z, 16))
	}
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if s.FirstZxid() != zx(1, 151) {
		t.Fatalf("FirstZxid after purge = 0x%x, want 0x%x", s.FirstZxid(), zx(1, 151))
	}
	// Truncate inside the format-1 part, then append after the cut.
	if err := s.TruncateAfter(zx(1, 260)); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, seq(3, 1, 5)...)
	want := append(seq(1, 151, 260), seq(3, 1, 5)...)
	if got := replayed(t, s, 0); !slices.Equal(got, want) {
		t.Fatalf("after purge and truncate: %x", got)
	}
	_ = s.Close()
	s = openT(t, dir, "")
	if got := replayed(t, s, 0); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %x", got)
	}
}
