package storage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The txn log's bolt values are blocks: one raft.Log holds the txns of
// many consecutive zxids, so raft-boltdb's msgpack encoding and bbolt's
// B+tree insert are paid per block instead of per txn.
//
// Zxids are grouped in ranges of blockSpan: the zxids whose zxid>>blockShift
// is equal (a range never spans two epochs: the epoch is zxid>>32). Each
// range holds at most one head block, stored under the range's head key
// (its first zxid; 1 for the range holding zxids 1..255, since raft-boltdb
// cannot tell a key 0 from an empty log). The head takes the range's txns
// in order while its data stays within blockMaxBytes; the range's txns
// after the head's last one are stored one per block, each under its own
// zxid ("single" blocks). So zxid X is found with at most two GetLogs: the
// head of X's range, then X itself; a sequential read needs one per block.
// A log of small txns is one head per 256 txns; a run of large txns (which
// cost their bytes anyway) degrades to one block per txn, as before, and no
// bolt value grows beyond blockMaxBytes plus one txn.
//
// Layout of a block's raft.Log Data (format 2; integers big-endian):
//
//	[0]          format version (2)
//	[1:5]        CRC32C over key (8 bytes) || Data[5:25+10n]
//	[5:13]       runStart: first zxid of the contiguous run holding the block's first entry
//	[13:21]      runPrev: zxid of the entry before runStart (0 if none)
//	[21:25]      n, the number of entries (1..blockSpan)
//	[25:25+10n]  per entry: zxid-key (2) | data length (4) | CRC32C over zxid (8) || data (4)
//	[25+10n:]    the entries' data, back to back
//
// The header CRC protects the framing; each entry keeps its own CRC, so a
// damaged txn is reported by its zxid and the entries before it are still
// read. The raft index is the block's key, the raft term its epoch.
//
// Format 1 (the log before blocks) stored one txn per raft.Log under its
// zxid:
//
//	[0]      entry format version (1)
//	[1:5]    CRC32C over zxid (8 bytes) || Data[5:]
//	[5:13]   runStart
//	[13:21]  runPrev
//	[21:]    the txn bytes
//
// Such an entry reads as a block of one entry: under its zxid, it is a
// single block or, at a head key, a head holding one entry, which is
// exactly how a format-2 log could have stored it. So a format-1 log is
// read in place, and new txns are appended to it in format 2.
const (
	entryVersionV1    = 1
	entryHeaderSizeV1 = 21

	blockVersion    = 2
	blockHeaderSize = 25
	blockEntrySize  = 10
	blockShift      = 8
	blockSpan       = 1 << blockShift
	// blockMaxBytes bounds a head block's data: the mover rewrites the
	// last head every time it adds txns to it.
	blockMaxBytes = 256 << 10
)

// rangeOf is the first zxid of z's range (0 for the first range).
func rangeOf(z uint64) uint64 { return z &^ (blockSpan - 1) }

// headKey is the bolt key of the head block of z's range.
func headKey(z uint64) uint64 { return max(rangeOf(z), 1) }

// isHeadKey reports whether a block stored under key k is its range's head.
func isHeadKey(k uint64) bool { return headKey(k) == k }

type blockEntry struct {
	zxid uint64
	crc  uint32 // CRC32C over zxid || data, as stored
	data []byte
}

// block is a decoded bolt value. Its entries' data is verified by check,
// not by decodeBlock.
type block struct {
	key               uint64
	runStart, runPrev uint64 // of entries[0]
	entries           []blockEntry
}

func (b *block) first() uint64 { return b.entries[0].zxid }
func (b *block) last() uint64  { return b.entries[len(b.entries)-1].zxid }

// find returns the index of zxid z in the block.
func (b *block) find(z uint64) (int, bool) {
	return slices.BinarySearchFunc(b.entries, z, func(e blockEntry, z uint64) int { return cmp.Compare(e.zxid, z) })
}

// runOf returns the run bookkeeping (start of the contiguous run, entry
// before it) of entries[i].
func (b *block) runOf(i int) (start, prev uint64) {
	j := i
	for j > 0 && b.entries[j-1].zxid+1 == b.entries[j].zxid {
		j--
	}
	if j == 0 {
		return b.runStart, b.runPrev
	}
	return b.entries[j].zxid, b.entries[j-1].zxid
}

// check verifies an entry's data against its CRC.
func (e *blockEntry) check() error {
	if got := entryCRC(e.zxid, e.data); got != e.crc {
		return fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", e.crc, got)
	}
	return nil
}

// encodeBlock builds the bolt value of a block. The entries' CRCs are
// written as given (a rewritten block keeps its stored CRCs, so damage
// stays detectable).
func encodeBlock(key, runStart, runPrev uint64, es []blockEntry) []byte {
	n := blockHeaderSize + blockEntrySize*len(es)
	size := n
	for _, e := range es {
		size += len(e.data)
	}
	buf := make([]byte, size)
	buf[0] = blockVersion
	binary.BigEndian.PutUint64(buf[5:], runStart)
	binary.BigEndian.PutUint64(buf[13:], runPrev)
	binary.BigEndian.PutUint32(buf[21:], uint32(len(es)))
	t, d := blockHeaderSize, n
	for _, e := range es {
		binary.BigEndian.PutUint16(buf[t:], uint16(e.zxid-key))
		binary.BigEndian.PutUint32(buf[t+2:], uint32(len(e.data)))
		binary.BigEndian.PutUint32(buf[t+6:], e.crc)
		t += blockEntrySize
		d += copy(buf[d:], e.data)
	}
	binary.BigEndian.PutUint32(buf[1:], entryCRC(key, buf[5:n]))
	return buf
}

// entryCRC is CRC32C over zxid (8 bytes, big-endian) || rest.
func entryCRC(zxid uint64, rest []byte) uint32 {
	return crc32Update(zxidCRC(zxid), rest)
}

// zxidCRC is CRC32C over the 8 bytes of zxid, computed bytewise with the
// table: hashing a [8]byte through hash/crc32 moved it to the heap, one
// allocation per txn.
func zxidCRC(zxid uint64) uint32 {
	crc := ^uint32(0)
	for i := 56; i >= 0; i -= 8 {
		crc = castagnoli[byte(crc)^byte(zxid>>i)] ^ (crc >> 8)
	}
	return ^crc
}

// decodeBlock parses the bolt value stored under key: format 2, or a
// format-1 entry (whose single CRC is checked here). It checks the framing
// and the header CRC; the entries' data is checked by blockEntry.check.
func decodeBlock(key uint64, buf []byte) (block, error) {
	if len(buf) == 0 {
		return block{}, errors.New("empty value")
	}
	switch buf[0] {
	case entryVersionV1:
		return decodeEntryV1(key, buf)
	case blockVersion:
	default:
		return block{}, fmt.Errorf("unknown entry format %d", buf[0])
	}
	if len(buf) < blockHeaderSize {
		return block{}, fmt.Errorf("block too short (%d bytes)", len(buf))
	}
	n := int(binary.BigEndian.Uint32(buf[21:]))
	if n < 1 || n > blockSpan || (n > 1 && !isHeadKey(key)) {
		return block{}, fmt.Errorf("block of %d entries under key 0x%x", n, key)
	}
	tableEnd := blockHeaderSize + blockEntrySize*n
	if tableEnd > len(buf) {
		return block{}, fmt.Errorf("block table overruns the value (%d entries, %d bytes)", n, len(buf))
	}
	if got, want := entryCRC(key, buf[5:tableEnd]), binary.BigEndian.Uint32(buf[1:]); got != want {
		return block{}, fmt.Errorf("block header checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	b := block{
		key:      key,
		runStart: binary.BigEndian.Uint64(buf[5:]),
		runPrev:  binary.BigEndian.Uint64(buf[13:]),
		entries:  make([]blockEntry, n),
	}
	end := rangeOf(key) + blockSpan - 1
	d := tableEnd
	for i := range n {
		t := buf[blockHeaderSize+blockEntrySize*i:]
		delta := uint64(binary.BigEndian.Uint16(t))
		z := key + delta
		l := int(binary.BigEndian.Uint32(t[2:]))
		if delta >= blockSpan || z < key || z > end || (i > 0 && z <= b.entries[i-1].zxid) || (i == 0 && z != key && !isHeadKey(key)) {
			return block{}, fmt.Errorf("block entry %d: zxid 0x%x out of order or outside the block", i, z)
		}
		if l > len(buf)-d {
			return block{}, fmt.Errorf("block entry %d overruns the value", i)
		}
		b.entries[i] = blockEntry{zxid: z, crc: binary.BigEndian.Uint32(t[6:]), data: buf[d : d+l : d+l]}
		d += l
	}
	if d != len(buf) {
		return block{}, fmt.Errorf("%d stray bytes after the block's entries", len(buf)-d)
	}
	return b, nil
}

func decodeEntryV1(zxid uint64, buf []byte) (block, error) {
	if len(buf) < entryHeaderSizeV1 {
		return block{}, fmt.Errorf("entry too short (%d bytes)", len(buf))
	}
	if got, want := entryCRC(zxid, buf[5:]), binary.BigEndian.Uint32(buf[1:]); got != want {
		return block{}, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	data := buf[entryHeaderSizeV1:]
	return block{
		key:      zxid,
		runStart: binary.BigEndian.Uint64(buf[5:]),
		runPrev:  binary.BigEndian.Uint64(buf[13:]),
		entries:  []blockEntry{{zxid: zxid, crc: entryCRC(zxid, data), data: data}},
	}, nil
}

var errNotFound = errors.New("entry not found")

func (s *Store) corrupt(zxid uint64, format string, args ...any) error {
	return fmt.Errorf("txn log %s: entry 0x%x: %w: %s", s.logPath, zxid, ErrCorrupt, fmt.Sprintf(format, args...))
}

// boltLog is the part of raft-boltdb the store reads with.
type boltLog interface {
	GetLog(idx uint64, log *raft.Log) error
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
}

// readBlock reads and decodes the block stored under key. It returns
// errNotFound when there is none, an ErrCorrupt error naming zxid (the txn
// being looked for) when it does not decode.
func (s *Store) readBlock(bs boltLog, key, zxid uint64) (block, error) {
	var l raft.Log
	err := s.guard(fmt.Sprintf("read entry 0x%x", zxid), func() error { return bs.GetLog(key, &l) })
	switch {
	case errors.Is(err, raft.ErrLogNotFound):
		return block{}, errNotFound
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return block{}, ErrClosed
	case errors.Is(err, ErrCorrupt):
		return block{}, err
	case err != nil:
		return block{}, s.corrupt(zxid, "block 0x%x cannot be decoded: %v", key, err)
	}
	if l.Index != key {
		return block{}, s.corrupt(zxid, "block 0x%x stored under index 0x%x", key, l.Index)
	}
	if l.Term != key>>32 {
		return block{}, s.corrupt(zxid, "block 0x%x: term %d is not the epoch %d", key, l.Term, key>>32)
	}
	b, err := decodeBlock(key, l.Data)
	if err != nil {
		return block{}, s.corrupt(zxid, "block 0x%x: %v", key, err)
	}
	return b, nil
}

// findBlock returns the block holding zxid z and z's index in it:
// the head of z's range if z is not after its last entry, else the single
// block under z. errNotFound when z is in neither.
func (s *Store) findBlock(bs boltLog, z uint64) (block, int, error) {
	hk := headKey(z)
	b, err := s.readBlock(bs, hk, z)
	switch {
	case err == nil && z <= b.last():
		i, ok := b.find(z)
		if !ok {
			return block{}, 0, errNotFound
		}
		return b, i, nil
	case err != nil && !errors.Is(err, errNotFound):
		return block{}, 0, err
	case hk == z:
		return block{}, 0, errNotFound
	}
	return s.readSingle(bs, z)
}

func (s *Store) readSingle(bs boltLog, z uint64) (block, int, error) {
	b, err := s.readBlock(bs, z, z)
	if err != nil {
		return block{}, 0, err
	}
	i, ok := b.find(z)
	if !ok {
		return block{}, 0, errNotFound
	}
	return b, i, nil
}

// blockReader reads txns in increasing zxid order, one GetLog per block.
type blockReader struct {
	s  *Store
	bs boltLog
	b  block
	ok bool
}

// data returns the verified data of txn z.
func (r *blockReader) data(z uint64) ([]byte, error) {
	var i int
	switch {
	case r.ok && z >= r.b.first() && z <= r.b.last():
		var found bool
		if i, found = r.b.find(z); !found {
			return nil, errNotFound
		}
	case r.ok && z > r.b.last() && rangeOf(z) == rangeOf(r.b.key):
		// After a block of its range: z can only be a single block.
		b, j, err := r.s.readSingle(r.bs, z)
		if err != nil {
			r.ok = false
			return nil, err
		}
		r.b, i = b, j
	default:
		b, j, err := r.s.findBlock(r.bs, z)
		if err != nil {
			r.ok = false
			return nil, err
		}
		r.b, r.ok, i = b, true, j
	}
	e := &r.b.entries[i]
	if err := e.check(); err != nil {
		return nil, r.s.corrupt(z, "%v", err)
	}
	return e.data, nil
}

// openBlock is the head block at the end of bolt, which the mover extends
// (rewrites) while its range gets txns and its data stays within
// blockMaxBytes. Its data is owned (not shared with the WAL's buffers).
type openBlock struct {
	key               uint64
	runStart, runPrev uint64
	entries           []blockEntry
	bytes             int
}

// resetTail reloads the mover's view of bolt's end (lastKey, tail) after
// Open, TruncateAfter or Purge changed it. boltMu is held (or the store is
// not running yet). Only bolt's last key must be known: a last block that
// cannot be read is not extended (the range's next txns become single
// blocks), which is always correct.
func (s *Store) resetTail() error {
	s.tail, s.tailStale = nil, true
	var last uint64
	err := s.guard("read bounds", func() error {
		var err error
		last, err = s.bolt.LastIndex()
		return err
	})
	if err != nil {
		return fmt.Errorf("txn log %s: read the last block: %w", s.logPath, err)
	}
	s.lastKey, s.tailStale = last, false
	if last == 0 || !isHeadKey(last) {
		return nil
	}
	b, err := s.readBlock(s.bolt, last, last)
	if err != nil {
		return nil
	}
	t := &openBlock{key: last, runStart: b.runStart, runPrev: b.runPrev, entries: b.entries}
	for _, e := range b.entries {
		t.bytes += len(e.data)
	}
	if t.bytes < blockMaxBytes {
		s.tail = t
	}
	return nil
}

// storeInBolt writes entries into bolt in one transaction, as blocks: the
// open head at bolt's end is extended, full ranges become one head each,
// and a range whose head is full (or gone) gets single blocks. boltMu is
// held (or the store is not running yet).
func (s *Store) storeInBolt(es []walEntry) error {
	if err := s.faults.getBolt(); err != nil {
		return fmt.Errorf("store %d entries: %w", len(es), err)
	}
	if s.tailStale {
		if err := s.resetTail(); err != nil {
			return err
		}
	}
	var logs []*raft.Log
	lastKey := s.lastKey
	var cur *openBlock // the head being filled
	dirty := false
	owned := 0 // cur.entries[:owned] have their own copy of the data
	if s.tail != nil {
		t := *s.tail
		t.entries = slices.Clip(t.entries) // appends must not touch s.tail's
		cur, owned = &t, len(t.entries)
	}
	emit := func() {
		if cur != nil && dirty {
			logs = append(logs, &raft.Log{Index: cur.key, Term: cur.key >> 32, Type: raft.LogCommand,
				Data: encodeBlock(cur.key, cur.runStart, cur.runPrev, cur.entries)})
		}
		dirty = false
	}
	for _, e := range es {
		be := blockEntry{zxid: e.zxid, crc: entryCRC(e.zxid, e.data), data: e.data}
		if cur != nil && rangeOf(cur.key) == rangeOf(e.zxid) && cur.bytes+len(e.data) <= blockMaxBytes {
			cur.entries = append(cur.entries, be)
			cur.bytes += len(e.data)
			dirty = true
			continue
		}
		emit()
		if lastKey != 0 && rangeOf(lastKey) == rangeOf(e.zxid) {
			// The range's head is full, or was purged: a single block.
			cur = nil
			logs = append(logs, &raft.Log{Index: e.zxid, Term: e.zxid >> 32, Type: raft.LogCommand,
				Data: encodeBlock(e.zxid, e.runStart, e.runPrev, []blockEntry{be})})
			lastKey = e.zxid
			continue
		}
		cur = &openBlock{key: headKey(e.zxid), runStart: e.runStart, runPrev: e.runPrev,
			entries: make([]blockEntry, 0, blockSpan), bytes: len(e.data)}
		cur.entries = append(cur.entries, be)
		owned, dirty, lastKey = 0, true, cur.key
	}
	emit()
	if err := s.guard("append", func() error { return s.bolt.StoreLogs(logs) }); err != nil {
		return err
	}
	s.lastKey = lastKey
	s.tail = nil
	if cur != nil && cur.key == lastKey && cur.bytes < blockMaxBytes {
		// Keep the head for the next move, with its own copy of the data
		// (the WAL's record buffers are not kept alive by it).
		n := 0
		for _, e := range cur.entries[owned:] {
			n += len(e.data)
		}
		arena := make([]byte, 0, n)
		for i := owned; i < len(cur.entries); i++ {
			d := cur.entries[i].data
			arena = append(arena, d...)
			cur.entries[i].data = arena[len(arena)-len(d) : len(arena) : len(arena)]
		}
		s.tail = cur
	}
	return nil
}
