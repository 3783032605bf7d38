package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Snapshot file layout (integers big-endian):
//
//	[0:8]    magic "ZKGOSNAP"
//	[8:12]   format version (1)
//	[12:16]  reserved, 0
//	[16:24]  zxid the snapshot was taken at (must match the file name)
//	[24:32]  body length in bytes
//	[32:36]  CRC32C of the body
//	[36:40]  CRC32C of bytes [0:36]
//	[40:]    body, exactly "body length" bytes
//
// Apache's snapshots use another format ("ZKSN"); the file name is the same
// (snapshot.<Long.toHexString(zxid)>), so operators find what they expect.
const (
	snapMagic      = "ZKGOSNAP"
	snapVersion    = 1
	snapHeaderSize = 40
	snapPrefix     = "snapshot."
	tempPrefix     = ".snapshot."
	tempSuffix     = ".tmp"
	// snapBufSize is the write buffer between the callback and the file.
	snapBufSize = 256 << 10
)

type snapHeader struct {
	zxid    int64
	bodyLen int64
	bodyCRC uint32
}

func (h snapHeader) marshal() []byte {
	b := make([]byte, snapHeaderSize)
	copy(b, snapMagic)
	binary.BigEndian.PutUint32(b[8:], snapVersion)
	binary.BigEndian.PutUint64(b[16:], uint64(h.zxid))
	binary.BigEndian.PutUint64(b[24:], uint64(h.bodyLen))
	binary.BigEndian.PutUint32(b[32:], h.bodyCRC)
	binary.BigEndian.PutUint32(b[36:], crc32.Checksum(b[:36], castagnoli))
	return b
}

func parseSnapHeader(b []byte) (snapHeader, error) {
	if string(b[:8]) != snapMagic {
		return snapHeader{}, fmt.Errorf("bad magic %q (not a zkgo snapshot)", b[:8])
	}
	if got, want := crc32.Checksum(b[:36], castagnoli), binary.BigEndian.Uint32(b[36:]); got != want {
		return snapHeader{}, fmt.Errorf("header checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != snapVersion {
		return snapHeader{}, fmt.Errorf("unsupported snapshot format version %d", v)
	}
	h := snapHeader{
		zxid:    int64(binary.BigEndian.Uint64(b[16:])),
		bodyLen: int64(binary.BigEndian.Uint64(b[24:])),
		bodyCRC: binary.BigEndian.Uint32(b[32:]),
	}
	if h.bodyLen < 0 {
		return snapHeader{}, fmt.Errorf("negative body length %d", h.bodyLen)
	}
	return h, nil
}

// snapshotName is Apache's Util.makeSnapshotName.
func snapshotName(zxid int64) string {
	return snapPrefix + strconv.FormatUint(uint64(zxid), 16)
}

type snapFile struct {
	path string
	zxid int64
}

// listSnapshots returns the snapshot files of the directory, newest first.
// Names that do not parse are ignored, as Apache ignores them.
func (s *Store) listSnapshots() ([]snapFile, error) {
	ents, err := os.ReadDir(s.snapDir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []snapFile
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, snapPrefix) || !e.Type().IsRegular() {
			continue
		}
		z, err := strconv.ParseUint(name[len(snapPrefix):], 16, 64)
		if err != nil {
			continue
		}
		out = append(out, snapFile{path: filepath.Join(s.snapDir, name), zxid: int64(z)})
	}
	slices.SortFunc(out, func(a, b snapFile) int {
		switch {
		case a.zxid > b.zxid:
			return -1
		case a.zxid < b.zxid:
			return 1
		}
		return 0
	})
	return out, nil
}

// newestSnapshotBelow returns the zxid of the newest snapshot file (by name)
// older than zxid, 0 if none.
func (s *Store) newestSnapshotBelow(zxid int64) int64 {
	snaps, err := s.listSnapshots()
	if err != nil {
		return 0
	}
	for _, f := range snaps {
		if f.zxid < zxid {
			return f.zxid
		}
	}
	return 0
}

// WriteSnapshot writes a snapshot taken at zxid: write produces the body;
// the store frames it (see the layout above), writes it to a temporary
// file, fsyncs it, renames it to snapshot.<zxid hex> and fsyncs the
// directory. No lock is held while write runs, so appends go on. On error
// nothing is left behind.
func (s *Store) WriteSnapshot(zxid int64, write func(w io.Writer) error) error {
	if zxid < 0 {
		return fmt.Errorf("write snapshot: negative zxid %d", zxid)
	}
	return s.WriteSnapshotThen(func(w io.Writer) (int64, error) { return zxid, write(w) })
}

// WriteSnapshotThen is WriteSnapshot for a body whose zxid is known only
// once it is written, as a snapshot a learner receives from its leader:
// write returns it.
func (s *Store) WriteSnapshotThen(write func(w io.Writer) (zxid int64, err error)) (err error) {
	f, err := os.CreateTemp(s.snapDir, tempPrefix+"*"+tempSuffix)
	if err != nil {
		return fmt.Errorf("write snapshot in %s: %w", s.snapDir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(make([]byte, snapHeaderSize)); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	if err := s.faults.get(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	bw := bufio.NewWriterSize(newFlushBehind(f, snapHeaderSize), snapBufSize)
	cw := &crcWriter{w: bw, h: crc32.New(castagnoli)}
	zxid, err := write(cw)
	if err == nil && zxid < 0 {
		err = fmt.Errorf("negative zxid %d", zxid)
	}
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	final := filepath.Join(s.snapDir, snapshotName(zxid))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	h := snapHeader{zxid: zxid, bodyLen: cw.n, bodyCRC: cw.h.Sum32()}
	if _, err := f.WriteAt(h.marshal(), 0); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write snapshot %s: fsync: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("write snapshot %s: %w", final, err)
	}
	if err := SyncDir(s.snapDir); err != nil {
		return fmt.Errorf("write snapshot %s: %w", final, err)
	}
	s.logger.Debug("snapshot written", "file", final, "zxid", fmt.Sprintf("0x%x", zxid), "bytes", cw.n+snapHeaderSize)
	return nil
}

type crcWriter struct {
	w io.Writer
	h hash.Hash32
	n int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// SyncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// verifySnapshot checks a snapshot file completely: header, size, body
// checksum, zxid against the name. It returns the open file positioned
// nowhere in particular; the caller closes it.
func verifySnapshot(sf snapFile) (*os.File, snapHeader, error) {
	f, err := os.Open(sf.path)
	if err != nil {
		return nil, snapHeader{}, err
	}
	h, err := checkSnapshot(f, sf)
	if err != nil {
		_ = f.Close()
		return nil, snapHeader{}, err
	}
	return f, h, nil
}

func checkSnapshot(f *os.File, sf snapFile) (snapHeader, error) {
	fi, err := f.Stat()
	if err != nil {
		return snapHeader{}, err
	}
	if fi.Size() < snapHeaderSize {
		return snapHeader{}, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", fi.Size(), snapHeaderSize)
	}
	hb := make([]byte, snapHeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		return snapHeader{}, fmt.Errorf("read header: %w", err)
	}
	h, err := parseSnapHeader(hb)
	if err != nil {
		return snapHeader{}, err
	}
	if h.zxid != sf.zxid {
		return snapHeader{}, fmt.Errorf("header zxid 0x%x does not match the file name", h.zxid)
	}
	switch body := fi.Size() - snapHeaderSize; {
	case body < h.bodyLen:
		return snapHeader{}, fmt.Errorf("truncated: body has %d of %d bytes", body, h.bodyLen)
	case body > h.bodyLen:
		return snapHeader{}, fmt.Errorf("%d unexpected bytes after the %d-byte body", body-h.bodyLen, h.bodyLen)
	}
	c := crc32.New(castagnoli)
	if _, err := io.Copy(c, io.NewSectionReader(f, snapHeaderSize, h.bodyLen)); err != nil {
		return snapHeader{}, fmt.Errorf("read body: %w", err)
	}
	if got := c.Sum32(); got != h.bodyCRC {
		return snapHeader{}, fmt.Errorf("body checksum mismatch (stored %08x, computed %08x)", h.bodyCRC, got)
	}
	return h, nil
}

// LatestSnapshot returns the newest snapshot whose checksum verifies. Older
// snapshots are tried when the newest is corrupt; each corrupt file gives one
// Warn line naming the file and what is wrong. ok is false when there is no
// snapshot to load and the log alone holds the whole history. It is an
// error when no valid snapshot remains but the log no longer starts at the
// beginning (purged, or filled after a snapshot): recovering would load a
// state with holes. body yields the snapshot body only and fails at its end
// if the file changed since it was verified; the caller closes it.
func (s *Store) LatestSnapshot() (zxid int64, body io.ReadCloser, ok bool, err error) {
	base, err := s.logBase()
	if err != nil {
		return 0, nil, false, err
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	snaps, err := s.listSnapshots()
	if err != nil {
		return 0, nil, false, err
	}
	bad := 0
	for _, sf := range snaps {
		if uint64(sf.zxid) < base {
			s.logger.Warn("snapshot skipped: the txn log after it was purged", "file", sf.path,
				"zxid", fmt.Sprintf("0x%x", sf.zxid), "log_base", fmt.Sprintf("0x%x", base))
			bad++
			continue
		}
		f, h, err := verifySnapshot(sf)
		if err != nil {
			s.logger.Warn("corrupt snapshot skipped", "file", sf.path, "err", err.Error())
			bad++
			continue
		}
		r := &snapReader{f: f, r: io.NewSectionReader(f, snapHeaderSize, h.bodyLen), h: crc32.New(castagnoli), want: h.bodyCRC, path: sf.path}
		return h.zxid, r, true, nil
	}
	if base > 0 {
		return 0, nil, false, fmt.Errorf("no usable snapshot in %s (%d rejected): the txn log only holds the history after 0x%x",
			s.snapDir, bad, base)
	}
	return 0, nil, false, nil
}

type snapReader struct {
	f    *os.File
	r    io.Reader
	h    hash.Hash32
	want uint32
	path string
}

func (r *snapReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	if errors.Is(err, io.EOF) && r.h.Sum32() != r.want {
		return n, fmt.Errorf("snapshot %s: %w: body changed after verification", r.path, ErrCorrupt)
	}
	return n, err
}

func (r *snapReader) Close() error { return r.f.Close() }

// removeSnapshotsAfter deletes the snapshots newer than zxid.
func (s *Store) removeSnapshotsAfter(zxid int64) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	snaps, err := s.listSnapshots()
	if err != nil {
		return err
	}
	removed := 0
	for _, sf := range snaps {
		if sf.zxid <= zxid {
			break
		}
		if err := os.Remove(sf.path); err != nil {
			return fmt.Errorf("remove snapshot newer than truncation point: %w", err)
		}
		s.logger.Info("snapshot removed: newer than the truncation point", "file", sf.path, "zxid", fmt.Sprintf("0x%x", zxid))
		removed++
	}
	if removed > 0 {
		return SyncDir(s.snapDir)
	}
	return nil
}

// Purge keeps the newest retain valid snapshots (at least 3, as
// autopurge.snapRetainCount), deletes the older snapshot files and deletes
// the log entries the oldest kept snapshot no longer needs (zxid <= its
// zxid; the last entry always stays). With no valid snapshot nothing is
// deleted.
func (s *Store) Purge(retain int) error {
	retain = max(retain, 3)
	s.snapMu.Lock()
	snaps, err := s.listSnapshots()
	if err != nil {
		s.snapMu.Unlock()
		return fmt.Errorf("purge: %w", err)
	}
	var kept []snapFile
	for _, sf := range snaps {
		if len(kept) == retain {
			break
		}
		f, _, err := verifySnapshot(sf)
		if err != nil {
			s.logger.Warn("corrupt snapshot not counted as retained", "file", sf.path, "err", err.Error())
			continue
		}
		_ = f.Close()
		kept = append(kept, sf)
	}
	if len(kept) == 0 {
		s.snapMu.Unlock()
		return nil
	}
	oldest := kept[len(kept)-1].zxid
	removed := 0
	for _, sf := range snaps {
		if sf.zxid >= oldest {
			continue
		}
		if err := os.Remove(sf.path); err != nil {
			s.snapMu.Unlock()
			return fmt.Errorf("purge: %w", err)
		}
		removed++
	}
	if removed > 0 {
		if err := SyncDir(s.snapDir); err != nil {
			s.snapMu.Unlock()
			return fmt.Errorf("purge: %w", err)
		}
	}
	s.snapMu.Unlock()
	n, err := s.purgeLogThrough(uint64(oldest))
	if err != nil {
		return err
	}
	s.logger.Info("purged", "snapshots_kept", len(kept), "snapshots_removed", removed,
		"log_entries_removed", n, "oldest_kept_zxid", fmt.Sprintf("0x%x", oldest))
	return nil
}

func newCRC() hash.Hash32 { return crc32.New(castagnoli) }

// IsSnapshotFile reports whether the file at path starts as zkgo's
// snapshots do (its magic), whatever follows: a file cut short or empty
// is not one.
func IsSnapshotFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(snapMagic))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == snapMagic
}
