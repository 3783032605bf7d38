package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/rawio"
)

// WAL segment files: <dataLogDir>/version-2/wal.<seq, 16 hex digits>. A
// segment has no file header; it is a sequence of records, one per Append,
// followed by zeros (the preallocated space). Record layout (big-endian):
//
//	[0:4]    magic "zkWL"
//	[4:8]    body length L (> 0)
//	[8:12]   CRC32C over seq (8 bytes, from the file name) || [4:8] || body
//	[12:]    body: count (4 bytes), then per entry
//	         zxid (8) | data length (4) | data
//
// A record holds one whole batch: a crash during its write loses the batch
// (it was not acknowledged), never half of it.
const (
	walPrefix       = "wal."
	walMagic        = "zkWL"
	walHeaderSize   = 12
	walEntryHeader  = 12
	walMaxBody      = 1 << 30
	defaultWALChunk = 64 << 20 // preallocation step, as Apache's preAllocSize
	// walZeroStep is how far ahead of the records the segment's
	// preallocated space is overwritten with real zeros (see zeroAhead).
	walZeroStep = 1 << 20
)

// walEntry is an entry in the WAL not yet moved into bolt.
type walEntry struct {
	zxid, runStart, runPrev uint64
	data                    []byte
}

// segment is one WAL file.
type segment struct {
	seq  uint64
	path string
	last uint64 // zxid of the last entry written to it (0: none)
}

func walName(seq uint64) string { return fmt.Sprintf("%s%016x", walPrefix, seq) }

func walCRC(seq uint64, length, body []byte) uint32 {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	c := crc32.Update(crc32.Checksum(k[:], castagnoli), castagnoli, length)
	return crc32.Update(c, castagnoli, body)
}

// encodeWALRecord frames a batch as one record. It points each entry's data
// at its copy inside the record.
func encodeWALRecord(seq uint64, es []walEntry) ([]byte, error) {
	n := 4
	for _, e := range es {
		n += walEntryHeader + len(e.data)
	}
	if n > walMaxBody {
		return nil, fmt.Errorf("batch of %d bytes is larger than the WAL's limit of %d", n, walMaxBody)
	}
	buf := make([]byte, walHeaderSize+n)
	copy(buf, walMagic)
	binary.BigEndian.PutUint32(buf[4:], uint32(n))
	b := buf[walHeaderSize:]
	binary.BigEndian.PutUint32(b, uint32(len(es)))
	p := 4
	for i, e := range es {
		binary.BigEndian.PutUint64(b[p:], e.zxid)
		binary.BigEndian.PutUint32(b[p+8:], uint32(len(e.data)))
		d := b[p+walEntryHeader : p+walEntryHeader+len(e.data) : p+walEntryHeader+len(e.data)]
		copy(d, e.data)
		es[i].data = d // the caller's bytes are not kept
		p += walEntryHeader + len(e.data)
	}
	binary.BigEndian.PutUint32(buf[8:], walCRC(seq, buf[4:8], b))
	return buf, nil
}

// decodeWALRecord parses the record at the start of b and returns its
// entries and its size in bytes, or an error when no valid record starts
// there (magic, bounds, checksum, framing).
func decodeWALRecord(seq uint64, b []byte) (es []walEntry, size int, err error) {
	if len(b) < walHeaderSize {
		return nil, 0, errors.New("record header cut short")
	}
	if string(b[:4]) != walMagic {
		return nil, 0, fmt.Errorf("bad record magic %x", b[:4])
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	if n < 4 || n > walMaxBody || n > len(b)-walHeaderSize {
		return nil, 0, fmt.Errorf("record length %d out of bounds", n)
	}
	body := b[walHeaderSize : walHeaderSize+n]
	if got, want := walCRC(seq, b[4:8], body), binary.BigEndian.Uint32(b[8:]); got != want {
		return nil, 0, fmt.Errorf("record checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	count := int(binary.BigEndian.Uint32(body))
	p := 4
	for range count {
		if len(body)-p < walEntryHeader {
			return nil, 0, errors.New("record entries overrun the body")
		}
		e := walEntry{zxid: binary.BigEndian.Uint64(body[p:])}
		l := int(binary.BigEndian.Uint32(body[p+8:]))
		p += walEntryHeader
		if l > len(body)-p {
			return nil, 0, errors.New("record entries overrun the body")
		}
		e.data = body[p : p+l : p+l]
		p += l
		es = append(es, e)
	}
	if p != len(body) {
		return nil, 0, fmt.Errorf("%d stray bytes after the record's entries", len(body)-p)
	}
	return es, walHeaderSize + n, nil
}

// listSegments returns the WAL files of dir in seq order.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list WAL segments: %w", err)
	}
	var out []segment
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), walPrefix)
		if !ok || len(rest) != 16 || !e.Type().IsRegular() {
			continue
		}
		seq, err := strconv.ParseUint(rest, 16, 64)
		if err != nil {
			continue
		}
		out = append(out, segment{seq: seq, path: filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(out, func(a, b segment) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out, nil
}

// readSegment returns the entries of one segment with zxid > after, in
// order. In the last segment a bad record with nothing valid after it is a
// torn write of an unacknowledged batch: the entries before it are returned
// and cut reports the offset and length of the tail. Anywhere else a bad
// record is ErrCorrupt naming the file and offset.
func readSegment(seg segment, last bool) (es []walEntry, cutAt, cutLen int64, err error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read WAL segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read WAL segment: %w", err)
	}
	size := fi.Size()
	// Records are read one by one and the preallocated zeros after them
	// are checked a chunk at a time: a segment is preallocated to 64 MiB,
	// and a heap copy of all of it stayed in the process's RSS long after
	// the start-up. A bad record is judged on the whole rest of the file.
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for off < size {
		h, perr := r.Peek(int(min(size-off, walHeaderSize)))
		if perr != nil {
			return nil, 0, 0, fmt.Errorf("read WAL segment %s: %w", seg.path, perr)
		}
		if allZero(h) {
			// End of the written part: the rest must be zeros.
			zero, zerr := restIsZero(r)
			if zerr != nil {
				return nil, 0, 0, fmt.Errorf("read WAL segment %s: %w", seg.path, zerr)
			}
			if zero {
				return es, 0, 0, nil
			}
			break
		}
		if len(h) < walHeaderSize || string(h[:4]) != walMagic {
			break
		}
		n := int64(binary.BigEndian.Uint32(h[4:]))
		if n < 4 || n > walMaxBody || n > size-off-walHeaderSize {
			break
		}
		rec := make([]byte, walHeaderSize+n)
		if _, rerr := io.ReadFull(r, rec); rerr != nil {
			return nil, 0, 0, fmt.Errorf("read WAL segment %s: %w", seg.path, rerr)
		}
		recs, _, derr := decodeWALRecord(seg.seq, rec)
		if derr != nil {
			break
		}
		es = append(es, recs...)
		off += int64(len(rec))
	}
	if off >= size {
		return es, 0, 0, nil
	}
	// A record that does not decode at off: read the rest and judge it.
	rest := make([]byte, size-off)
	if _, err := f.ReadAt(rest, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, 0, fmt.Errorf("read WAL segment %s: %w", seg.path, err)
	}
	_, _, derr := decodeWALRecord(seg.seq, rest)
	if derr == nil {
		// Only a read that changed under us gets here.
		return nil, 0, 0, fmt.Errorf("WAL segment %s: %w: record at offset %d read differently twice", seg.path, ErrCorrupt, off)
	}
	if !last {
		return nil, 0, 0, fmt.Errorf("WAL segment %s: %w: bad record at offset %d in a segment followed by others: %v",
			seg.path, ErrCorrupt, off, derr)
	}
	if why := notTorn(seg.seq, rest); why != "" {
		return nil, 0, 0, fmt.Errorf("WAL segment %s: %w: bad record at offset %d (%v) %s",
			seg.path, ErrCorrupt, off, derr, why)
	}
	return es, off, int64(len(rest) - zeroSuffix(rest)), nil
}

// restIsZero reads r to its end and reports whether every byte was zero.
func restIsZero(r *bufio.Reader) (bool, error) {
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if !allZero(buf[:n]) {
			return false, nil
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroSuffix is the number of zero bytes at the end of b.
func zeroSuffix(b []byte) int {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == 0; i-- {
		n++
	}
	return n
}

// notTorn says why the bad record at the start of b (in the last segment)
// cannot be a write torn by a crash, "" if it can. A torn write is the last
// thing written: no valid record follows it, and when its whole header
// made it to disk (the magic and non-zero bytes up to the header's end) its
// length is in bounds and only zeros (the preallocated space) follow the
// length it announces.
func notTorn(seq uint64, b []byte) string {
	if hasValidRecord(seq, b[1:]) {
		return "followed by valid records"
	}
	if len(b)-zeroSuffix(b) < walHeaderSize || string(b[:4]) != walMagic {
		return "" // the header itself did not make it to disk
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	if n < 4 || n > len(b)-walHeaderSize {
		return "although its header is complete"
	}
	if !allZero(b[walHeaderSize+n:]) {
		return "followed by more data"
	}
	return ""
}

// hasValidRecord reports whether a valid record starts anywhere in b.
func hasValidRecord(seq uint64, b []byte) bool {
	magic := []byte(walMagic)
	for off := 0; ; {
		i := bytes.Index(b[off:], magic)
		if i < 0 {
			return false
		}
		if _, _, err := decodeWALRecord(seq, b[off+i:]); err == nil {
			return true
		}
		off += i + 1
	}
}

// walFile is the segment being appended to.
type walFile struct {
	seg   segment
	f     *os.File
	off   int64 // where the next record goes
	alloc int64 // preallocated size
	// zeroed is the end of the part written with real zeros (or records);
	// beyond it, up to alloc, the blocks are fallocate's unwritten extents.
	zeroed int64
	// dirty is set when a write failed part-way: the bytes at off.. must be
	// zeroed before anything else is written.
	dirty  int64
	faults *faults
}

// createSegment creates a new, empty segment file and makes its name
// durable (directory fsync), so that an acknowledged record is never lost
// with the directory entry.
func createSegment(dir string, seq uint64, sync bool) (*walFile, error) {
	p := filepath.Join(dir, walName(seq))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create WAL segment: %w", err)
	}
	if sync {
		if err := SyncDir(dir); err != nil {
			_ = f.Close()
			_ = os.Remove(p)
			return nil, fmt.Errorf("create WAL segment %s: %w", p, err)
		}
	}
	return &walFile{seg: segment{seq: seq, path: p}, f: f}, nil
}

// write writes rec at the end of the segment, preallocating chunk bytes
// more when it does not fit, and fdatasyncs when sync is set. On error the
// segment is left as it was (a partly written record is zeroed, now or
// before the next write).
func (w *walFile) write(rec []byte, chunk int64, sync bool) error {
	// Whether this flush carries more than the record: zeros, or a new
	// extent's metadata, which can take the disk tens of milliseconds.
	long := false
	if w.dirty > 0 {
		if err := w.faults.get(); err != nil {
			return fmt.Errorf("WAL segment %s: clear failed write: %w", w.seg.path, err)
		}
		if err := writeZeros(w.f, w.off, w.dirty); err != nil {
			return fmt.Errorf("WAL segment %s: clear failed write: %w", w.seg.path, err)
		}
		// The next record's fdatasync makes the zeros durable with it:
		// a refused batch never reappears after an acknowledged one.
		w.dirty = 0
		long = true
	}
	end := w.off + int64(len(rec))
	if end > w.alloc {
		size := max(w.alloc+chunk, end)
		err := preallocate(w.f, w.alloc, size-w.alloc)
		if err != nil && size > end {
			// Not room for a whole chunk (a nearly full disk): reserve
			// what this record needs, so the log works until the disk
			// is really full instead of failing 64 MB early.
			if err2 := preallocate(w.f, w.alloc, end-w.alloc); err2 == nil {
				err, size = nil, end
			}
		}
		if err != nil {
			return fmt.Errorf("WAL segment %s: preallocate %d bytes: %w", w.seg.path, size-w.alloc, err)
		}
		w.alloc = size
		long = true
	}
	if zeroed, err := w.zeroAhead(end); err != nil {
		return err
	} else if zeroed {
		long = true
	}
	if err := w.faults.get(); err != nil {
		// As a write cut short by a full disk: half the record is there.
		n, _ := w.f.WriteAt(rec[:len(rec)/2], w.off)
		w.dirty = int64(n)
		return fmt.Errorf("WAL segment %s: write: %w", w.seg.path, err)
	}
	if n, err := rawio.Pwrite(w.f, rec, w.off); err != nil {
		if n > 0 {
			w.dirty = int64(n)
		}
		return fmt.Errorf("WAL segment %s: write: %w", w.seg.path, err)
	}
	if sync {
		flush := fdatasyncRecord
		if long {
			flush = fdatasync
		}
		if err := flush(w.f); err != nil {
			// The record may or may not be on disk: zero it before the
			// next write, so it is never acknowledged afterwards.
			w.dirty = int64(len(rec))
			return fmt.Errorf("WAL segment %s: fdatasync: %w", w.seg.path, err)
		}
	}
	w.off = end
	return nil
}

// zeroAhead, when a record ending at end passes zeroed, overwrites the
// preallocated space from zeroed with real zeros up to walZeroStep past end
// (or to alloc), in the page cache: the next
// fdatasync writes them with the record. fallocate leaves unwritten
// extents, and the first write into each of their blocks makes ext4 and
// XFS convert the extent, which that write's fdatasync must then persist
// as metadata (on ext4 a second, synchronous write of the inode): under a
// steady load of small batches about one fdatasync in three paid it, and
// zkserver wrote ~10% fewer txns per second with 32 clients. Now one
// fdatasync per walZeroStep of log does. The space stays fallocated, so
// these writes cannot fail for lack of space. It reports whether it wrote
// zeros (that fdatasync is then a long one).
func (w *walFile) zeroAhead(end int64) (zeroed bool, err error) {
	if end <= w.zeroed {
		return false, nil
	}
	to := min(end+walZeroStep, w.alloc)
	if err := w.faults.get(); err != nil {
		return false, fmt.Errorf("WAL segment %s: zero preallocated space: %w", w.seg.path, err)
	}
	if err := writeZeros(w.f, w.zeroed, to-w.zeroed); err != nil {
		return false, fmt.Errorf("WAL segment %s: zero preallocated space: %w", w.seg.path, err)
	}
	w.zeroed = to
	return true, nil
}

// zeroBlock is writeZeros's source of zeros (read only).
var zeroBlock = make([]byte, 64<<10)

// writeZeros writes n zero bytes at off, from zeroBlock.
func writeZeros(f *os.File, off, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		if _, err := f.WriteAt(zeroBlock[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// reserve zeroes a failed write's leftovers and makes sure size bytes are
// preallocated after off (CheckWritable).
func (w *walFile) reserve(size int64, sync bool) error {
	if err := w.faults.get(); err != nil {
		return fmt.Errorf("WAL segment %s: %w", w.seg.path, err)
	}
	if w.dirty > 0 {
		if err := writeZeros(w.f, w.off, w.dirty); err != nil {
			return fmt.Errorf("WAL segment %s: clear failed write: %w", w.seg.path, err)
		}
		if sync {
			if err := fdatasync(w.f); err != nil {
				return fmt.Errorf("WAL segment %s: clear failed write: fdatasync: %w", w.seg.path, err)
			}
		}
		w.dirty = 0
	}
	if end := w.off + size; end > w.alloc {
		if err := preallocate(w.f, w.alloc, end-w.alloc); err != nil {
			return fmt.Errorf("WAL segment %s: preallocate %d bytes: %w", w.seg.path, end-w.alloc, err)
		}
		w.alloc = end
	}
	return nil
}

func (w *walFile) close() error {
	if w == nil || w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
