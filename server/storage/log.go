package storage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Keys in raft-boltdb's stable ("conf") bucket.
const (
	intKeyPrefix = "int/"
	// logBaseKey holds the zxid after which the log is complete: every txn
	// in (logBase, LastZxid] is present. A snapshot older than logBase can
	// no longer be used for recovery. Raised by Purge and when a log that
	// was empty receives entries after a snapshot (see Append).
	logBaseKey = "sys/logBase"
	// truncateKey holds 1 + the zxid TruncateAfter is cutting the log at
	// while it changes bolt (0: none), so that Open finishes a cut that a
	// crash interrupted.
	truncateKey = "sys/truncate"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// run is a range of consecutive zxids all present in the log.
type run struct {
	start, end uint64
	prev       uint64 // zxid before start when the run was created (0: none)
}

func crc32Update(c uint32, b []byte) uint32 { return crc32.Update(c, castagnoli, b) }

// loadRuns rebuilds s.runs by walking back from the last txn, one block
// read per run (two when a run ends after its range's head), and checks
// the structure on the way. It also loads the mover's view of bolt's end.
func (s *Store) loadRuns() error {
	var firstKey, lastKey uint64
	err := s.guard("read bounds", func() error {
		var err error
		if firstKey, err = s.bolt.FirstIndex(); err != nil {
			return err
		}
		lastKey, err = s.bolt.LastIndex()
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		return fmt.Errorf("txn log %s: %w: %v", s.logPath, ErrCorrupt, err)
	}
	s.runs = nil
	s.tail, s.lastKey = nil, lastKey
	if lastKey == 0 {
		return nil
	}
	fb, err := s.readBlock(s.bolt, firstKey, firstKey)
	if errors.Is(err, errNotFound) {
		return s.corrupt(firstKey, "first block missing")
	}
	if err != nil {
		return err
	}
	first := fb.first()
	b, err := s.readBlock(s.bolt, lastKey, lastKey)
	if errors.Is(err, errNotFound) {
		return s.corrupt(lastKey, "last block missing")
	}
	if err != nil {
		return err
	}
	i := len(b.entries) - 1
	cur := b.entries[i].zxid
	if err := b.entries[i].check(); err != nil {
		return s.corrupt(cur, "%v", err)
	}
	var runs []run
	for {
		start, prev := b.runOf(i)
		if start > cur || start == 0 {
			return s.corrupt(cur, "run start 0x%x is after the entry", start)
		}
		r := run{start: max(start, first), end: cur, prev: prev}
		if start <= first {
			r.prev = 0
			runs = append(runs, r)
			break
		}
		runs = append(runs, r)
		if prev >= start || prev < first {
			return s.corrupt(cur, "entries before its run (0x%x..) are missing: previous entry 0x%x, first entry 0x%x",
				start, prev, first)
		}
		cur = prev
		b, i, err = s.findBlock(s.bolt, cur)
		if errors.Is(err, errNotFound) {
			return s.corrupt(cur, "missing (the log's runs are inconsistent)")
		}
		if err != nil {
			return err
		}
	}
	slices.Reverse(runs)
	s.runs = runs
	return s.resetTail()
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
// file and the zxid; fn never sees it. The Entry's Data is owned by fn: a
// slice (capped, so appending to it copies) of the buffer of the block it
// was read from, which stays in memory while fn keeps any of its entries
// (at most 256 KiB or one txn; decode what you keep long).
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
	rd := blockReader{s: s, bs: bs}
	for _, r := range runs {
		if r.end <= a {
			continue
		}
		for z := max(r.start, a+1); z <= r.end; z++ {
			if z > boltLast {
				i, found := slices.BinarySearchFunc(pending, z, func(e walEntry, z uint64) int { return cmp.Compare(e.zxid, z) })
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
			d, err := rd.data(z)
			if errors.Is(err, errNotFound) {
				if s.present(z) {
					return s.corrupt(z, "missing")
				}
				return fmt.Errorf("replay txn log %s: entry 0x%x was removed (truncated or purged) during replay", s.logPath, z)
			}
			if err != nil {
				return err
			}
			if err := fn(Entry{Zxid: int64(z), Data: d}); err != nil {
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
	closed, cutPending := s.closed, s.cutPending
	_, last := s.firstLastLocked()
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if z >= last && !cutPending {
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
	if err := s.truncateBoltMarked(z); err != nil {
		s.mu.Lock()
		s.cutPending = true
		s.mu.Unlock()
		s.reloadRuns()
		return fmt.Errorf("truncate txn log %s after 0x%x: %w", s.logPath, z, err)
	}
	rerr := s.resetTail()
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
	s.cutPending = false
	s.logger.Info("txn log truncated", "zxid", fmt.Sprintf("0x%x", z), "previous_last_zxid", fmt.Sprintf("0x%x", last))
	return rerr
}

// reloadRuns rebuilds the runs from bolt and the pending entries after a
// deletion failed half-way (its two bolt transactions), so that the
// in-memory view does not promise txns bolt no longer has. boltMu is held.
func (s *Store) reloadRuns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadRuns(); err != nil {
		s.logger.Warn("txn log: cannot re-read the log after a failed deletion", "err", err.Error())
		return
	}
	_, s.boltLast = s.firstLastLocked()
	for _, e := range s.pending {
		s.runs = addToRuns(s.runs, e.zxid)
	}
}

// truncateBoltMarked deletes every txn > z from bolt, durably. It takes two
// bolt transactions (the deletion of the blocks after z's, then the
// rewrite of z's head block without the txns after z), so the cut is first
// recorded under truncateKey: a crash between them is finished by the next
// Open. boltMu and mu are not held by the caller's callers otherwise.
func (s *Store) truncateBoltMarked(z uint64) error {
	s.mu.Lock()
	err := s.setStableLocked(truncateKey, z+1)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("record the cut: %w", err)
	}
	if err := s.truncateBolt(z); err != nil {
		return err
	}
	if s.noSync {
		if err := s.guard("sync", s.bolt.Sync); err != nil {
			return err
		}
	}
	s.mu.Lock()
	err = s.setStableLocked(truncateKey, 0)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("clear the recorded cut: %w", err)
	}
	return nil
}

// finishTruncate completes a TruncateAfter cut short by a crash (Open).
func (s *Store) finishTruncate() error {
	m, err := s.getStableLocked(truncateKey)
	if err != nil {
		return fmt.Errorf("txn log %s: read the recorded cut: %w", s.logPath, err)
	}
	if m == 0 {
		return nil
	}
	if err := s.truncateBoltMarked(m - 1); err != nil {
		return fmt.Errorf("txn log %s: finish the truncation after 0x%x: %w", s.logPath, m-1, err)
	}
	s.logger.Info("txn log: finished a truncation cut short by a crash", "zxid", fmt.Sprintf("0x%x", m-1))
	return nil
}

// truncateBolt deletes every txn > z from bolt (not synced): the blocks
// after z's head (or after z when z is past its range's head), then z's
// head block is rewritten without its txns after z.
func (s *Store) truncateBolt(z uint64) error {
	hk := headKey(z)
	b, err := s.readBlock(s.bolt, hk, max(z, 1))
	if err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	if err != nil || b.last() <= z {
		return s.guard("truncate", func() error { return s.bolt.DeleteRange(z+1, math.MaxUint64) })
	}
	n, _ := slices.BinarySearchFunc(b.entries, z+1, func(e blockEntry, z uint64) int { return cmp.Compare(e.zxid, z) })
	kept := b.entries[:n]
	from := hk
	if len(kept) > 0 {
		from = hk + 1
	}
	if err := s.guard("truncate", func() error { return s.bolt.DeleteRange(from, math.MaxUint64) }); err != nil {
		return err
	}
	if len(kept) == 0 {
		return nil
	}
	if err := s.faults.getBolt(); err != nil {
		return fmt.Errorf("rewrite block 0x%x: %w", hk, err)
	}
	l := &raft.Log{Index: hk, Term: hk >> 32, Type: raft.LogCommand, Data: encodeBlock(hk, b.runStart, b.runPrev, kept)}
	return s.guard("truncate", func() error { return s.bolt.StoreLogs([]*raft.Log{l}) })
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
	if _, err := s.moveLocked(n); err != nil {
		return 0, fmt.Errorf("purge txn log %s: %w", s.logPath, err)
	}
	s.mu.Lock()
	_, last := s.firstLastLocked()
	if last == 0 {
		s.mu.Unlock()
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
		s.mu.Unlock()
		return 0, nil
	}
	// Raise the base first: a crash between the two steps then only makes
	// old snapshots unusable that were about to lose their log anyway.
	err = s.raiseLogBaseLocked(hp)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	// Appends go on meanwhile (they only add after last > hp); the mover
	// waits for boltMu.
	err = s.purgeBolt(hp)
	if rerr := s.resetTail(); err == nil {
		err = rerr
	}
	if err != nil {
		s.reloadRuns()
		return 0, fmt.Errorf("purge txn log %s through 0x%x: %w", s.logPath, hp, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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

// purgeBolt deletes every txn <= hp from bolt: the blocks before hp's
// range head (or through hp when hp is past its range's head), then the
// head is rewritten without its txns <= hp. A crash between the two bolt
// transactions leaves a log that starts earlier, nothing worse.
func (s *Store) purgeBolt(hp uint64) error {
	hk := headKey(hp)
	b, err := s.readBlock(s.bolt, hk, hp)
	if err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	if err != nil || b.last() <= hp {
		return s.guard("purge", func() error { return s.bolt.DeleteRange(0, hp) })
	}
	if err := s.guard("purge", func() error { return s.bolt.DeleteRange(0, hk-1) }); err != nil {
		return err
	}
	i, _ := slices.BinarySearchFunc(b.entries, hp+1, func(e blockEntry, z uint64) int { return cmp.Compare(e.zxid, z) })
	start, prev := b.runOf(i)
	if err := s.faults.getBolt(); err != nil {
		return fmt.Errorf("rewrite block 0x%x: %w", hk, err)
	}
	l := &raft.Log{Index: hk, Term: hk >> 32, Type: raft.LogCommand, Data: encodeBlock(hk, start, prev, b.entries[i:])}
	return s.guard("purge", func() error { return s.bolt.StoreLogs([]*raft.Log{l}) })
}
