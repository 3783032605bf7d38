//go:build linux

package storage

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// unwrittenRanges returns the [start, end) ranges of path that the file
// system maps as unwritten extents (FIEMAP), and false when it cannot say.
func unwrittenRanges(t *testing.T, path string) ([][2]int64, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const (
		fsIocFiemap     = 0xC020660B
		fiemapFlagSync  = 0x1
		extentUnwritten = 0x800
		headerSize      = 32
		extentSize      = 56
		maxExtents      = 64
	)
	buf := make([]byte, headerSize+maxExtents*extentSize)
	le := binary.LittleEndian
	le.PutUint64(buf[8:], ^uint64(0)) // fm_length: the whole file
	le.PutUint32(buf[16:], fiemapFlagSync)
	le.PutUint32(buf[24:], maxExtents)
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		if errors.Is(errno, syscall.EOPNOTSUPP) || errors.Is(errno, syscall.ENOTTY) {
			return nil, false
		}
		t.Fatalf("FIEMAP %s: %v", path, errno)
	}
	var out [][2]int64
	n := int(le.Uint32(buf[20:]))
	for i := range n {
		e := buf[headerSize+i*extentSize:]
		if le.Uint32(e[40:])&extentUnwritten != 0 {
			start := int64(le.Uint64(e[0:]))
			out = append(out, [2]int64{start, start + int64(le.Uint64(e[16:]))})
		}
	}
	return out, true
}

// TestWALZeroesAheadOfRecords: the WAL's preallocated space is written with
// real zeros ahead of the records, so that an fdatasync after a small
// record does not also have to persist an unwritten-extent conversion
// (walFile.zeroAhead). Where the file system keeps no unwritten extents
// (or cannot say), there is nothing to check.
func TestWALZeroesAheadOfRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "", Options{ForceSync: true, walNoMove: true, walChunk: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	mustAppend(t, s, seq(1, 1, 3)...)
	segs := segmentsOf(t, dir)
	if len(segs) != 1 {
		t.Fatalf("%d WAL segments, want 1", len(segs))
	}
	ranges, ok := unwrittenRanges(t, segs[0].path)
	if !ok || len(ranges) == 0 {
		t.Skip("the file system reports no unwritten extents for fallocated space")
	}
	for _, r := range ranges {
		if r[0] < walZeroStep {
			t.Fatalf("unwritten extent at [%d, %d): the first %d bytes after a small record should be written zeros", r[0], r[1], walZeroStep)
		}
	}
	// A record that passes the zeroed part extends it past its own end.
	big := make([]byte, walZeroStep)
	if err := s.Append([]Entry{{Zxid: zx(1, 4), Data: big}}); err != nil {
		t.Fatal(err)
	}
	s.walMu.Lock()
	end := s.wal.off
	s.walMu.Unlock()
	ranges, _ = unwrittenRanges(t, segs[0].path)
	for _, r := range ranges {
		if r[0] < end+walZeroStep-4096 {
			t.Fatalf("unwritten extent at [%d, %d), less than %d bytes after the records' end %d", r[0], r[1], walZeroStep, end)
		}
	}
}
