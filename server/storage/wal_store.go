package storage

import (
	"errors"
	"fmt"
	"os"
	"time"
)

const (
	// moveBatch and moveBatchBytes bound one bolt transaction of the mover,
	// and movePause is the mover's pause between two of them (bolt
	// unlocked). A transaction writes its pages and fdatasyncs twice, and
	// the WAL's fdatasyncs made meanwhile wait for that I/O: in one
	// transaction of 8192 txns (two per second with 15k writes/s, ~1.4 MB
	// each) every write stalled for 12-17 ms once a second, the p99.9 of
	// paced writes. In transactions of 2048 with pauses of 5 ms, the p99
	// of set at 15k/s with 32 clients went from 5.9-7.1 to 1.8-3.2 ms, its
	// p99.9 from 13-15 to 3.8-6.4 ms; the closed loop's writes per second
	// stayed the same, its p99.9 halved, and the p99 of set with 8 clients
	// rose from 0.85 to 1.1 ms (more, smaller stalls).
	moveBatch      = 2048
	moveBatchBytes = 512 << 10
	movePause      = 5 * time.Millisecond
	// recoverBatch bounds a transaction of the WAL's recovery at Open.
	recoverBatch = 8192
	// moveMin and moveDelay: the mover waits up to moveDelay for moveMin
	// entries, so that bolt's commits stay few. Each costs two fdatasyncs,
	// which on this kind of VM cost as much CPU (and device flushes) as the
	// WAL's own: at 10 ms they took half of the process's CPU time in
	// BenchmarkAppend (fsync=true, batch=1); at 100 ms they still showed in
	// the p99 latency of 8 clients writing (1.3 ms, 1.05 ms at 1 s).
	moveMin   = 64 << 10
	moveDelay = time.Second
	// moveRetry is the pause after a failed move (full disk).
	moveRetry = 200 * time.Millisecond
	// maxPendingBytes / maxPending bound what is only in the WAL (and in
	// memory): Append waits for the mover beyond them.
	maxPendingBytes = 64 << 20
	maxPending      = 256 << 10
)

// recoverWAL reads the WAL segments after bolt's last entry, moves their
// entries into bolt (synced) and removes the segments. A torn last record of
// the last segment (an unacknowledged batch) is cut off with one Info line;
// anything else that does not verify is ErrCorrupt naming the file.
func (s *Store) recoverWAL() error {
	segs, err := listSegments(s.logDir)
	if err != nil {
		return fmt.Errorf("open txn log %s: %w", s.logDir, err)
	}
	_, s.boltLast = s.firstLastLocked()
	if len(segs) == 0 {
		return nil
	}
	s.nextSeq = segs[len(segs)-1].seq + 1
	var recovered []walEntry
	prev := s.boltLast
	var tornAt, tornLen int64 // in the last segment
	for i, seg := range segs {
		es, cutAt, cutLen, err := readSegment(seg, i == len(segs)-1)
		if err != nil {
			return fmt.Errorf("open txn log: %w", err)
		}
		if cutLen > 0 {
			s.logger.Info("txn log: cut off a torn write at the end of the WAL (a batch never acknowledged)",
				"file", seg.path, "offset", cutAt, "bytes", cutLen)
			tornAt, tornLen = cutAt, cutLen
		}
		for _, e := range es {
			segs[i].last = max(segs[i].last, e.zxid)
		}
		for _, e := range es {
			if e.zxid <= s.boltLast {
				continue // moved into bolt before the crash
			}
			if e.zxid <= prev {
				return fmt.Errorf("open txn log: WAL segment %s: %w: zxid 0x%x does not follow 0x%x",
					seg.path, ErrCorrupt, e.zxid, prev)
			}
			prev = e.zxid
			recovered = append(recovered, e)
		}
	}
	total := len(recovered)
	for len(recovered) > 0 {
		// Nothing is served yet: big transactions, few commits.
		n := min(len(recovered), recoverBatch)
		batch := recovered[:n]
		for i := range batch {
			batch[i].runStart, batch[i].runPrev = s.nextRunFields(batch[i].zxid)
			s.runs = addToRuns(s.runs, batch[i].zxid)
		}
		if err := s.storeInBolt(batch); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return fmt.Errorf("open txn log: move WAL entries into %s: %w", s.logPath, err)
			}
			// Bolt cannot grow (a full disk): start with the entries
			// left in the WAL, as they were before the crash; the mover
			// retries.
			return s.keepWAL(segs, recovered, tornAt, tornLen, fmt.Errorf("move WAL entries into %s: %w", s.logPath, err))
		}
		recovered = recovered[n:]
		s.boltLast = batch[n-1].zxid
		if len(recovered) == 0 {
			s.logger.Info("txn log: recovered entries from the WAL", "entries", total,
				"last_zxid", fmt.Sprintf("0x%x", s.boltLast), "segments", len(segs))
		}
	}
	if s.noSync {
		if err := s.guard("sync", s.bolt.Sync); err != nil {
			return fmt.Errorf("open txn log %s: sync: %w", s.logPath, err)
		}
	}
	// A segment left behind would later sit before new ones, and its torn
	// tail (if any) would then read as corruption: removal must succeed.
	for _, seg := range segs {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open txn log: remove recovered WAL segment: %w", err)
		}
	}
	if err := SyncDir(s.logDir); err != nil {
		return fmt.Errorf("open txn log: %w", err)
	}
	return nil
}

// keepWAL ends a recovery whose move into bolt failed (a full disk): the
// entries not in bolt stay in the WAL segments and in memory, pending for
// the mover, as if the store had run all along. A torn tail is zeroed on
// disk first (overwriting allocated space needs no room), because the
// segment will no longer be the last one once Append opens a new one.
// The entries' run fields must not have been set yet beyond those of
// recovered[0]'s batch, which are recomputed.
func (s *Store) keepWAL(segs []segment, recovered []walEntry, tornAt, tornLen int64, moveErr error) error {
	if tornLen > 0 {
		last := segs[len(segs)-1]
		if err := zeroFileRange(last.path, tornAt, tornLen, !s.noSync); err != nil {
			return fmt.Errorf("open txn log: %w (and zeroing the torn write at offset %d of %s failed: %v)",
				moveErr, tornAt, last.path, err)
		}
	}
	// Rebuild the runs from bolt, then add every entry left.
	if err := s.loadRuns(); err != nil {
		return err
	}
	for i := range recovered {
		recovered[i].runStart, recovered[i].runPrev = s.nextRunFields(recovered[i].zxid)
		s.runs = addToRuns(s.runs, recovered[i].zxid)
		s.pendingBytes += len(recovered[i].data)
	}
	s.pending = recovered
	s.segs = segs
	s.moveErr = moveErr
	s.logger.Warn("txn log: cannot move the WAL's entries into bolt; they stay in the WAL and are moved later",
		"entries", len(recovered), "err", moveErr.Error())
	select {
	case s.moveWake <- struct{}{}:
	default:
	}
	return nil
}

// zeroFileRange overwrites n bytes at off of the file with zeros.
func zeroFileRange(path string, off, n int64, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeZeros(f, off, n); err != nil {
		return err
	}
	if sync {
		if err := fdatasync(f); err != nil {
			return err
		}
	}
	return f.Close()
}

// nextRunFields returns the run bookkeeping of zxid z appended after the
// current runs.
func (s *Store) nextRunFields(z uint64) (start, prev uint64) {
	n := len(s.runs)
	if n > 0 && s.runs[n-1].end+1 == z {
		return s.runs[n-1].start, s.runs[n-1].prev
	}
	if n > 0 {
		return z, s.runs[n-1].end
	}
	return z, 0
}

func removeSegments(segs []segment) {
	for _, seg := range segs {
		_ = os.Remove(seg.path)
	}
}

// Append writes the entries as one CRC-framed record to the WAL (one write
// and, with Options.ForceSync, one fdatasync) and returns; a background
// mover copies them into bolt. The caller batches every waiting write into
// one call (group commit). Zxids must be > 0 and strictly increase, within
// the batch and after LastZxid. On error nothing of the batch is stored.
func (s *Store) Append(entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.walMu.Lock()
	defer s.walMu.Unlock()
	slowDisk(s.logDir)
	s.mu.Lock()
	// Back-pressure: wait while the mover is far behind.
	for !s.closed && (len(s.pending) > maxPending || s.pendingBytes > maxPendingBytes) {
		if s.moveErr != nil {
			err := s.moveErr
			s.mu.Unlock()
			return fmt.Errorf("append to txn log: %d entries wait to be moved into %s: %w", len(s.pending), s.logPath, err)
		}
		s.moved.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.cutPending {
		s.mu.Unlock()
		return fmt.Errorf("append to txn log %s: a truncation failed half-way; it must be retried (TruncateAfter) or finished by reopening", s.logPath)
	}
	_, last := s.firstLastLocked()
	es := make([]walEntry, len(entries))
	p := last
	var start, prev uint64
	if n := len(s.runs); n > 0 {
		start, prev = s.runs[n-1].start, s.runs[n-1].prev
	}
	for i, e := range entries {
		if e.Zxid <= 0 {
			s.mu.Unlock()
			return fmt.Errorf("append to txn log: zxid 0x%x is not positive", e.Zxid)
		}
		z := uint64(e.Zxid)
		if z <= p {
			s.mu.Unlock()
			return fmt.Errorf("append to txn log: zxid 0x%x does not follow 0x%x", z, p)
		}
		if p == 0 || z != p+1 {
			start, prev = z, p
		}
		es[i] = walEntry{zxid: z, runStart: start, runPrev: prev, data: e.Data}
		p = z
	}
	if last == 0 {
		// The log was empty: if snapshots exist, the history before the
		// first entry is only in them (a learner synced by SNAP, or a log
		// truncated to nothing). Remember that older snapshots can no
		// longer serve recovery.
		if base := s.newestSnapshotBelow(entries[0].Zxid); base > 0 {
			if err := s.raiseLogBaseLocked(uint64(base)); err != nil {
				s.mu.Unlock()
				return err
			}
		}
	}
	s.mu.Unlock()

	if err := s.walWrite(es); err != nil {
		return fmt.Errorf("append to txn log: %w", err)
	}

	s.mu.Lock()
	for _, e := range es {
		s.runs = addToRuns(s.runs, e.zxid)
		s.pendingBytes += len(e.data)
	}
	s.pending = append(s.pending, es...)
	for i := range s.segs {
		if s.segs[i].seq == s.activeSeq {
			s.segs[i].last = p
		}
	}
	s.mu.Unlock()
	select {
	case s.moveWake <- struct{}{}:
	default:
	}
	return nil
}

// CheckWritable reports whether Append can store a batch of up to size
// bytes again after it failed (a full disk), without appending anything:
// it zeroes what a failed write left behind, preallocates room for size
// bytes in the active segment (creating one if there is none), and fails
// while the mover is failing with too much waiting for it. Append remains
// the real test; this lets a server leave its refusing state while no
// write comes.
func (s *Store) CheckWritable(size int64) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	s.mu.Lock()
	closed, moveErr, waiting := s.closed, s.moveErr, len(s.pending)
	full := waiting > maxPending || s.pendingBytes > maxPendingBytes
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case moveErr != nil && full:
		return fmt.Errorf("txn log: %d entries wait to be moved into %s: %w", waiting, s.logPath, moveErr)
	}
	if err := s.ensureSegment(); err != nil {
		return err
	}
	return s.wal.reserve(size, !s.noSync)
}

// ensureSegment creates the active WAL segment when there is none.
// walMu is held.
func (s *Store) ensureSegment() error {
	if s.wal != nil {
		return nil
	}
	if err := s.faults.get(); err != nil {
		return fmt.Errorf("create WAL segment: %w", err)
	}
	w, err := createSegment(s.logDir, s.nextSeq, !s.noSync)
	if err != nil {
		return err
	}
	w.faults = s.faults
	s.nextSeq++
	s.wal = w
	s.mu.Lock()
	s.segs = append(s.segs, w.seg)
	s.activeSeq = w.seg.seq
	s.mu.Unlock()
	return nil
}

// walWrite writes es as one record to the active segment, creating or
// rolling it as needed. walMu is held.
func (s *Store) walWrite(es []walEntry) error {
	size := int64(walHeaderSize + 4)
	for _, e := range es {
		size += walEntryHeader + int64(len(e.data))
	}
	if s.wal != nil && s.wal.off > 0 && s.wal.off+size > s.walSegMax && s.wal.dirty == 0 {
		_ = s.wal.close() // its entries stay until the mover has them in bolt
		s.wal = nil
	}
	if err := s.ensureSegment(); err != nil {
		return err
	}
	rec, err := encodeWALRecord(s.wal.seg.seq, es)
	if err != nil {
		return err
	}
	start := time.Now()
	err = s.wal.write(rec, s.walChunk, !s.noSync)
	d := time.Since(start)
	if s.metrics != nil && err == nil {
		s.metrics.BatchSize.Add(int64(len(es)))
		if !s.noSync {
			s.metrics.FsyncTime.Add(d.Milliseconds())
		}
	}
	if !s.noSync && s.fsyncWarn > 0 && d > s.fsyncWarn {
		// As Apache's SyncRequestProcessor (fsync.warningthresholdms).
		s.slowSyncs.Add(1)
		s.logger.Warn(fmt.Sprintf("fsync-ing the write ahead log took %dms which will adversely effect operation latency. File size is %d bytes. See the ZooKeeper troubleshooting guide",
			d.Milliseconds(), s.wal.off), "segment", s.wal.seg.path)
	}
	return err
}

// SlowSyncs is how many synced log writes took longer than
// Options.FsyncWarning (mntr's fsync_threshold_exceed_count).
func (s *Store) SlowSyncs() int64 { return s.slowSyncs.Load() }

// mover copies WAL entries into bolt in the background until Close.
func (s *Store) mover() {
	defer close(s.moveDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.moveStop:
			return
		case <-s.moveWake:
		}
		if s.noMove {
			continue
		}
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n < moveMin {
			timer.Reset(moveDelay)
			select {
			case <-s.moveStop:
				return
			case <-timer.C:
			}
		}
		// Move what is pending now, not what arrives during the move:
		// chasing the appends made meanwhile meant a stream of small
		// commits under a steady load (each move takes milliseconds,
		// enough for a few dozen new txns), and a bolt commit costs about
		// as much CPU as a few hundred txns in blocks. What arrives
		// meanwhile waits for the next round (moveDelay or moveMin).
		s.mu.Lock()
		n = len(s.pending)
		s.mu.Unlock()
		err := s.moveSpread(n)
		if err != nil {
			timer.Reset(moveRetry)
			select {
			case <-s.moveStop:
				return
			case <-timer.C:
			}
			select {
			case s.moveWake <- struct{}{}:
			default:
			}
		}
	}
}

// moveSpread moves n pending entries into bolt one transaction at a time,
// with movePause between transactions and boltMu free during it, so that
// the WAL's fdatasyncs do not wait for all of that I/O at once. A mover
// that falls behind (a quarter of what Append lets wait before it blocks)
// does not pause. It returns early when the store stops (Close moves the
// rest).
func (s *Store) moveSpread(n int) error {
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	for n > 0 {
		s.boltMu.Lock()
		moved, err := s.moveLocked(1) // one transaction
		s.boltMu.Unlock()
		if err != nil || moved == 0 {
			return err
		}
		s.mu.Lock()
		behind := len(s.pending) > maxPending/4 || s.pendingBytes > maxPendingBytes/4
		s.mu.Unlock()
		if n -= moved; n > 0 && !behind {
			pause.Reset(movePause)
			select {
			case <-s.moveStop:
				return nil
			case <-pause.C:
			}
		}
	}
	return nil
}

// moveBatchLen is how many of pending's first entries one bolt transaction
// takes: moveBatch at most, and no more once they hold moveBatchBytes.
func moveBatchLen(pending []walEntry) int {
	n, size := 0, 0
	for n < len(pending) && n < moveBatch && size < moveBatchBytes {
		size += len(pending[n].data)
		n++
	}
	return n
}

// moveLocked moves pending entries into bolt (all of them when limit < 0,
// else at least limit or all there are), one transaction per batch, and
// removes the WAL segments bolt now holds entirely; it returns how many it
// moved. boltMu is held.
func (s *Store) moveLocked(limit int) (int, error) {
	moved := 0
	for limit < 0 || moved < limit {
		s.mu.Lock()
		if s.closed && s.bolt == nil {
			s.mu.Unlock()
			return moved, ErrClosed
		}
		n := moveBatchLen(s.pending)
		batch := s.pending[:n]
		s.mu.Unlock()
		if n == 0 {
			return moved, nil
		}
		if err := s.storeInBolt(batch); err != nil {
			err = fmt.Errorf("move WAL entries into %s: %w", s.logPath, err)
			s.mu.Lock()
			if s.moveErr == nil {
				s.logger.Warn("txn log: cannot move entries from the WAL into bolt; they stay in the WAL", "err", err.Error())
			}
			s.moveErr = err
			s.moved.Broadcast()
			s.mu.Unlock()
			return moved, err
		}
		moved += n
		s.mu.Lock()
		for _, e := range batch {
			s.pendingBytes -= len(e.data)
		}
		s.pending = s.pending[n:]
		if len(s.pending) == 0 {
			s.pending = nil
		}
		s.boltLast = batch[n-1].zxid
		s.moveErr = nil
		var done []segment
		kept := s.segs[:0]
		for _, seg := range s.segs {
			if seg.seq != s.activeSeq && seg.last <= s.boltLast {
				done = append(done, seg)
				continue
			}
			kept = append(kept, seg)
		}
		s.segs = kept
		s.moved.Broadcast()
		s.mu.Unlock()
		removeSegments(done)
	}
	return moved, nil
}

// flushLocked moves every pending entry into bolt and makes bolt durable.
// boltMu is held.
func (s *Store) flushLocked() error {
	if _, err := s.moveLocked(-1); err != nil {
		return err
	}
	if s.noSync {
		if err := s.guard("sync", s.bolt.Sync); err != nil {
			return fmt.Errorf("sync %s: %w", s.logPath, err)
		}
	}
	return nil
}

// dropWALLocked closes and removes every WAL segment, durably (directory
// fsync): used before entries are deleted from bolt, so that no segment can
// bring them back at the next Open. walMu and boltMu are held, and every
// entry has been moved.
func (s *Store) dropWALLocked() error {
	_ = s.wal.close()
	s.wal = nil
	s.mu.Lock()
	segs := s.segs
	s.segs, s.activeSeq = nil, 0
	s.mu.Unlock()
	for _, seg := range segs {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove WAL segment: %w", err)
		}
	}
	return SyncDir(s.logDir)
}
