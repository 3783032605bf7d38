package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Layout of the raft.Log Data of one entry (all integers big-endian):
//
//	[0]      entry format version (1)
//	[1:5]    CRC32C over zxid (8 bytes) || Data[5:]
//	[5:13]   runStart: first zxid of the contiguous run holding this entry
//	[13:21]  runPrev: zxid of the entry before runStart (0 if none)
//	[21:]    the caller's txn bytes
const (
	entryVersion    = 1
	entryHeaderSize = 21
)

// Keys in raft-boltdb's stable ("conf") bucket.
const (
	intKeyPrefix = "int/"
	// logBaseKey holds the zxid after which the log is complete: every txn
	// in (logBase, LastZxid] is present. A snapshot older than logBase can
	// no longer be used for recovery. Raised by Purge and when a log that
	// was empty receives entries after a snapshot (see Append).
	logBaseKey = "sys/logBase"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// run is a range of consecutive zxids all present in the log.
type run struct {
	start, end uint64
	prev       uint64 // zxid before start when the run was created (0: none)
}

func encodeEntry(zxid, runStart, runPrev uint64, data []byte) []byte {
	buf := make([]byte, entryHeaderSize+len(data))
	buf[0] = entryVersion
	binary.BigEndian.PutUint64(buf[5:], runStart)
	binary.BigEndian.PutUint64(buf[13:], runPrev)
	copy(buf[entryHeaderSize:], data)
	binary.BigEndian.PutUint32(buf[1:], entryCRC(zxid, buf[5:]))
	return buf
}

func entryCRC(zxid uint64, rest []byte) uint32 {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], zxid)
	return crc32.Update(crc32.Checksum(k[:], castagnoli), castagnoli, rest)
}

type decodedEntry struct {
	runStart, runPrev uint64
	data              []byte
}

func decodeEntry(zxid uint64, buf []byte) (decodedEntry, error) {
	if len(buf) < entryHeaderSize {
		return decodedEntry{}, fmt.Errorf("entry too short (%d bytes)", len(buf))
	}
	if buf[0] != entryVersion {
		return decodedEntry{}, fmt.Errorf("unknown entry format %d", buf[0])
	}
	if got, want := entryCRC(zxid, buf[5:]), binary.BigEndian.Uint32(buf[1:]); got != want {
		return decodedEntry{}, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	return decodedEntry{
		runStart: binary.BigEndian.Uint64(buf[5:]),
		runPrev:  binary.BigEndian.Uint64(buf[13:]),
		data:     buf[entryHeaderSize:],
	}, nil
}

var errNotFound = errors.New("entry not found")

func (s *Store) corrupt(zxid uint64, format string, args ...any) error {
	return fmt.Errorf("txn log %s: entry 0x%x: %w: %s", s.logPath, zxid, ErrCorrupt, fmt.Sprintf(format, args...))
}

// readEntry reads and verifies the entry at zxid. It returns errNotFound
// when there is none, an ErrCorrupt error when it does not verify.
func (s *Store) readEntry(bs boltLog, zxid uint64) (decodedEntry, error) {
	var l raft.Log
	err := s.guard(fmt.Sprintf("read entry 0x%x", zxid), func() error { return bs.GetLog(zxid, &l) })
	switch {
	case errors.Is(err, raft.ErrLogNotFound):
		return decodedEntry{}, errNotFound
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return decodedEntry{}, ErrClosed
	case errors.Is(err, ErrCorrupt):
		return decodedEntry{}, err
	case err != nil:
		return decodedEntry{}, s.corrupt(zxid, "cannot decode: %v", err)
	}
	if l.Index != zxid {
		return decodedEntry{}, s.corrupt(zxid, "stored under index 0x%x", l.Index)
	}
	if l.Term != zxid>>32 {
		return decodedEntry{}, s.corrupt(zxid, "term %d is not the epoch %d", l.Term, zxid>>32)
	}
	e, err := decodeEntry(zxid, l.Data)
	if err != nil {
		return decodedEntry{}, s.corrupt(zxid, "%v", err)
	}
	return e, nil
}

// boltLog is the part of raft-boltdb the store uses.
type boltLog interface {
	GetLog(idx uint64, log *raft.Log) error
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
}

// loadRuns rebuilds s.runs by walking back from the last entry, one read per
// run, and checks the structure on the way.
func (s *Store) loadRuns() error {
	var first, last uint64
	err := s.guard("read bounds", func() error {
		var err error
		if first, err = s.bolt.FirstIndex(); err != nil {
			return err
		}
		last, err = s.bolt.LastIndex()
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		return fmt.Errorf("txn log %s: %w: %v", s.logPath, ErrCorrupt, err)
	}
	s.runs = nil
	if last == 0 {
		return nil
	}
	var runs []run
	cur := last
	for {
		e, err := s.readEntry(s.bolt, cur)
		if errors.Is(err, errNotFound) {
			return s.corrupt(cur, "missing (the log's runs are inconsistent)")
		}
		if err != nil {
			return err
		}
		if e.runStart > cur || e.runStart == 0 {
			return s.corrupt(cur, "run start 0x%x is after the entry", e.runStart)
		}
		r := run{start: max(e.runStart, first), end: cur, prev: e.runPrev}
		if e.runStart <= first {
			r.prev = 0
			runs = append(runs, r)
			break
		}
		runs = append(runs, r)
		if e.runPrev >= e.runStart || e.runPrev < first {
			return s.corrupt(cur, "entries before its run (0x%x..) are missing: previous entry 0x%x, first entry 0x%x",
				e.runStart, e.runPrev, first)
		}
		cur = e.runPrev
	}
	slices.Reverse(runs)
	s.runs = runs
	return nil
}

func (s *Store) firstLast() (first, last uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstLastLocked()
}

func (s *Store) firstLastLocked() (first, last uint64) {
	if len(s.runs) == 0 {
		return 0, 0
	}
	return s.runs[0].start, s.runs[len(s.runs)-1].end
}

// LastZxid is the zxid of the last entry in the log, 0 when it is empty.
func (s *Store) LastZxid() int64 {
	_, l := s.firstLast()
	return int64(l)
}

// FirstZxid is the zxid of the first entry in the log, 0 when it is empty.
func (s *Store) FirstZxid() int64 {
	f, _ := s.firstLast()
	return int64(f)
}

func addToRuns(runs []run, z uint64) []run {
	if n := len(runs); n > 0 && runs[n-1].end+1 == z {
		runs[n-1].end = z
		return runs
	}
	var prev uint64
	if n := len(runs); n > 0 {
		prev = runs[n-1].end
	}
	return append(runs, run{start: z, end: z, prev: prev})
}

// Replay calls fn for every entry with Zxid > after, in order, up to the
// LastZxid at the time of the call (entries appended meanwhile are not
// delivered). Appends go on meanwhile; TruncateAfter and Purge wait for it,
// so fn must not call them. It stops at, and returns, the first error of fn. An entry
// that fails its checksum or is missing gives an ErrCorrupt error naming the
// file and the zxid; fn never sees it. The Entry's Data is owned by fn.
func (s *Store) Replay(after int64, fn func(Entry) error) error {
	// Hold off TruncateAfter and Purge, so that no entry disappears
	// under a replay (a leader streaming a DIFF while autopurge runs).
	s.replayMu.RLock()
	defer s.replayMu.RUnlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	runs := slices.Clone(s.runs)
	bs := s.bolt
	// Entries after boltLast are read from memory: pending is only ever
	// appended to or cut from the front, so this view stays valid.
	boltLast, pending := s.boltLast, s.pending
	s.mu.Unlock()
	var a uint64
	if after > 0 {
		a = uint64(after)
	}
	for _, r := range runs {
		if r.end <= a {
			continue
		}
		for z := max(r.start, a+1); z <= r.end; z++ {
			if z > boltLast {
				i, found := slices.BinarySearchFunc(pending, z, func(e walEntry, z uint64) int {
					switch {
					case e.zxid < z:
						return -1
					case e.zxid > z:
						return 1
					}
					return 0
				})
				if !found {
					return s.corrupt(z, "missing from the WAL's entries in memory")
				}
				d := slices.Clone(pending[i].data)
				pending = pending[i+1:]
				if err := fn(Entry{Zxid: int64(z), Data: d}); err != nil {
					return err
				}
				continue
			}
			e, err := s.readEntry(bs, z)
			if errors.Is(err, errNotFound) {
				if s.present(z) {
					return s.corrupt(z, "missing")
				}
				return fmt.Errorf("replay txn log %s: entry 0x%x was removed (truncated or purged) during replay", s.logPath, z)
			}
			if err != nil {
				return err
			}
			if err := fn(Entry{Zxid: int64(z), Data: e.data}); err != nil {
				return err
			}
		}
	}
	return nil
}

// present reports whether z is in the current runs.
func (s *Store) present(z uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		if z >= r.start && z <= r.end {
			return true
		}
	}
	return false
}

// TruncateAfter deletes every entry with Zxid > zxid (ZAB TRUNC). Snapshots
// taken after zxid are deleted too: they hold state being discarded, and
// loading one would resurrect it (Apache's ZOOKEEPER-1549).
func (s *Store) TruncateAfter(zxid int64) error {
	if zxid < 0 {
		zxid = 0
	}
	if err := s.truncateLog(uint64(zxid)); err != nil {
		return err
	}
	if err := s.removeSnapshotsAfter(zxid); err != nil {
		return err
	}
	// A cut below the log base leaves the log empty: the base comes down
	// to the cut, so that the snapshot written next is usable (a learner's
	// SNAP cuts to 0, then writes the leader's snapshot, which can be older
	// than an earlier SNAP's). Lowered last: a crash before keeps the old.
	return s.lowerLogBase(uint64(zxid))
}

func (s *Store) lowerLogBase(z uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	cur, err := s.getStableLocked(logBaseKey)
	if err != nil {
		return fmt.Errorf("txn log %s: read log base: %w", s.logPath, err)
	}
	if cur <= z {
		return nil
	}
	if err := s.setStableLocked(logBaseKey, z); err != nil {
		return fmt.Errorf("txn log %s: store log base: %w", s.logPath, err)
	}
	return nil
}

func (s *Store) truncateLog(z uint64) error {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	s.walMu.Lock()
	defer s.walMu.Unlock()
	s.boltMu.Lock()
	defer s.boltMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	_, last := s.firstLastLocked()
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if z >= last {
		return nil
	}
	// Everything into bolt (durably), then the WAL removed durably, then
	// the deletion in bolt: no WAL segment can bring the entries back, and
	// a crash half-way leaves the log as it was or truncated.
	if err := s.flushLocked(); err != nil {
		return fmt.Errorf("truncate txn log %s after 0x%x: %w", s.logPath, z, err)
	}
	if err := s.dropWALLocked(); err != nil {
		return fmt.Errorf("truncate txn log %s after 0x%x: %w", s.logPath, z, err)
	}
	err := s.guard("truncate", func() error {
		if err := s.bolt.DeleteRange(z+1, last); err != nil {
			return err
		}
		if s.noSync {
			return s.bolt.Sync()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("truncate txn log %s after 0x%x: %w", s.logPath, z, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.runs[:0]
	for _, r := range s.runs {
		if r.start > z {
			break
		}
		r.end = min(r.end, z)
		kept = append(kept, r)
	}
	s.runs = kept
	_, s.boltLast = s.firstLastLocked()
	s.logger.Info("txn log truncated", "zxid", fmt.Sprintf("0x%x", z), "previous_last_zxid", fmt.Sprintf("0x%x", last))
	return nil
}

// SetInt stores a value that must survive crashes (ZAB acceptedEpoch,
// currentEpoch). It is fsynced even when Options.ForceSync is off.
func (s *Store) SetInt(key string, v int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.setStableLocked(intKeyPrefix+key, uint64(v)); err != nil {
		return fmt.Errorf("store %s in %s: %w", key, s.logPath, err)
	}
	return nil
}

// GetInt returns the value stored by SetInt; 0, nil when absent.
func (s *Store) GetInt(key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	v, err := s.getStableLocked(intKeyPrefix + key)
	if err != nil {
		return 0, fmt.Errorf("read %s from %s: %w", key, s.logPath, err)
	}
	return int64(v), nil
}

func (s *Store) setStableLocked(key string, v uint64) error {
	val := make([]byte, 12)
	binary.BigEndian.PutUint64(val, v)
	binary.BigEndian.PutUint32(val[8:], crc32.Update(crc32.Checksum([]byte(key), castagnoli), castagnoli, val[:8]))
	return s.guard("set "+key, func() error {
		if err := s.bolt.Set([]byte(key), val); err != nil {
			return err
		}
		if s.noSync {
			return s.bolt.Sync()
		}
		return nil
	})
}

func (s *Store) getStableLocked(key string) (uint64, error) {
	var val []byte
	err := s.guard("get "+key, func() error {
		var err error
		val, err = s.bolt.Get([]byte(key))
		return err
	})
	if err != nil {
		if errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return 0, nil
		}
		return 0, err
	}
	if len(val) != 12 {
		return 0, fmt.Errorf("%w: value of %s has %d bytes, want 12", ErrCorrupt, key, len(val))
	}
	want := binary.BigEndian.Uint32(val[8:])
	if got := crc32.Update(crc32.Checksum([]byte(key), castagnoli), castagnoli, val[:8]); got != want {
		return 0, fmt.Errorf("%w: value of %s: checksum mismatch", ErrCorrupt, key)
	}
	return binary.BigEndian.Uint64(val), nil
}

func (s *Store) raiseLogBaseLocked(base uint64) error {
	cur, err := s.getStableLocked(logBaseKey)
	if err != nil {
		return fmt.Errorf("txn log %s: read log base: %w", s.logPath, err)
	}
	if base <= cur {
		return nil
	}
	if err := s.setStableLocked(logBaseKey, base); err != nil {
		return fmt.Errorf("txn log %s: store log base: %w", s.logPath, err)
	}
	return nil
}

// logBase returns the zxid after which the log is complete.
func (s *Store) logBase() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	b, err := s.getStableLocked(logBaseKey)
	if err != nil {
		return 0, fmt.Errorf("txn log %s: read log base: %w", s.logPath, err)
	}
	return b, nil
}

// purgeLogThrough deletes the entries with zxid <= bound, always keeping the
// last entry so that LastZxid stays meaningful, and raises the log base.
func (s *Store) purgeLogThrough(bound uint64) (deleted uint64, err error) {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	s.boltMu.Lock()
	defer s.boltMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	// The entries to delete must all be in bolt; stale copies in the WAL
	// are below bolt's last entry (which stays) and are ignored by Open.
	s.mu.Lock()
	n := len(s.pending) // not more: appends go on meanwhile
	s.mu.Unlock()
	if err := s.moveLocked(n); err != nil {
		return 0, fmt.Errorf("purge txn log %s: %w", s.logPath, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last := s.firstLastLocked()
	if last == 0 {
		return 0, nil
	}
	bound = min(bound, last-1)
	// hp: highest present zxid <= bound.
	var hp uint64
	for _, r := range s.runs {
		if r.start > bound {
			break
		}
		hp = min(r.end, bound)
	}
	hp = min(hp, s.boltLast) // only what is in bolt (always all of it, see above)
	if hp == 0 {
		return 0, nil
	}
	// Raise the base first: a crash between the two steps then only makes
	// old snapshots unusable that were about to lose their log anyway.
	if err := s.raiseLogBaseLocked(hp); err != nil {
		return 0, err
	}
	if err := s.guard("purge", func() error { return s.bolt.DeleteRange(first, hp) }); err != nil {
		return 0, fmt.Errorf("purge txn log %s through 0x%x: %w", s.logPath, hp, err)
	}
	kept := s.runs[:0]
	for _, r := range s.runs {
		if r.end <= hp {
			deleted += r.end - r.start + 1
			continue
		}
		if r.start <= hp {
			deleted += hp - r.start + 1
			r.start = hp + 1
		}
		kept = append(kept, r)
	}
	s.runs = kept
	return deleted, nil
}
