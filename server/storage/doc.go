// Package storage owns zkserver's durable state on disk: the transaction log
// and the snapshots, laid out like Apache ZooKeeper 3.8's dataLogDir and
// dataDir.
//
// # Layout
//
//	<dataLogDir>/version-2/log.bolt           txn log (hashicorp/raft-boltdb)
//	<dataLogDir>/version-2/wal.<seq, 16 hex>  write-ahead segments in front of it
//	<dataDir>/version-2/snapshot.<zxid hex>   snapshots (suffix as Apache: Long.toHexString)
//
// The txn log is a raft-boltdb LogStore of blocks (see block.go for the
// byte layout). Each range of 256 zxids (zxid>>8 equal; a range never
// spans two epochs) has at most one head block, stored under raft index =
// the range's first zxid (1 for the range of zxids 1..255) and raft term =
// the epoch; it holds the range's txns in order while their data stays
// within 256 KiB. Txns of the range after the head's last one are stored
// one per block under their own zxid ("single" blocks), so a zxid is found
// with at most two GetLogs (its range's head, then itself) and a
// sequential read costs one GetLog per block. The point is the CPU cost of
// the background mover: raft-boltdb encodes every raft.Log with msgpack
// through reflection and inserts it into bbolt's B+tree, and with blocks
// that is paid once per 256 small txns instead of once per txn (about 7x
// less CPU per moved txn at batches of thousands, and Replay reads about
// 20x faster; see BenchmarkMoveToBolt, BenchmarkOpenReplayLarge). The
// byte bound keeps a head's rewrite (below) and its read cheap when txns
// are large; such txns fall back to one block each, whose overhead their
// own bytes dwarf. A fixed-alignment index was chosen over variable blocks
// because raft-boltdb only looks logs up by exact index (no seek).
//
// Every entry in a block carries its own CRC32C over zxid || data, and
// the block's header and table carry one more; a txn that fails its CRC
// is reported as ErrCorrupt naming the file and its zxid (the txns before
// it are still read), a damaged header as ErrCorrupt naming the zxid
// looked for. Nothing that fails is handed to the caller. Zxids are sparse
// (a new epoch restarts the counter), so every block also records the
// first zxid of the contiguous run holding its first txn and the zxid that
// preceded that run (runs inside a block are seen from its zxids); Open
// walks these back from the last txn (one or two block reads per run) to
// rebuild the list of runs that Replay iterates, and reads the first and
// last blocks: it never reads the whole log.
//
// Logs written before blocks (entry format 1: one raft.Log per txn under
// its zxid) are read in place, not converted: a format-1 entry is exactly
// a one-txn block (a head when its zxid starts a range, a single block
// otherwise), so old entries and new blocks mix in one file, and new txns
// after them are written as blocks.
//
// The mover (below) writes whole blocks: a range's head is written when
// the range's first txn is moved and rewritten (bolt's Put replaces it)
// each time the mover adds txns to it, so at most one partly filled block
// is rewritten per move. It keeps that last head in memory (at most 256
// KiB, its own copy) to rewrite it without reading it back. TruncateAfter
// inside a head deletes the later blocks and rewrites the head without the
// cut txns; Purge deletes the blocks before the bound's head and rewrites
// that head without the purged txns.
//
// Snapshots are framed by this package (see snapshot.go for the header:
// magic, version, zxid, body length, CRC32C of the body, CRC32C of the
// header), written to a temporary file, fsynced, renamed into place and the
// directory fsynced. LatestSnapshot falls back to older snapshots when the
// newest is corrupt, logging one Warn line per bad file.
//
// # Write-ahead log
//
// A bolt commit costs two fdatasyncs (data pages, then the meta page) and
// several writes; Apache appends to a preallocated file and fsyncs once. So
// Append does what Apache does: it writes the whole batch as one record
// (magic, length, CRC32C over the segment number, length and body; see
// wal.go) at the end of the current WAL segment with one pwrite and, with
// Options.ForceSync (zoo.cfg forceSync=yes, the default), one fdatasync,
// and returns. Segments are preallocated (fallocate) in 64 MB steps, like
// Apache's preAllocSize, so the write changes no file size, and the
// preallocated space is overwritten with real zeros 1 MB ahead of the
// records (fallocate's unwritten extents would make many fdatasyncs also
// persist an extent conversion), so fdatasync has no metadata to flush; a
// new segment's directory entry is fsynced once. A segment rolls at 64 MB.
//
// A background mover (one goroutine per Store) copies the WAL's entries
// into bolt in rounds (waiting up to 1 s for 64k of them, so bolt's fsyncs
// are few and off the write path; each round moves what was pending when
// it began, not what arrives during its commits, so a steady load gives
// one round per second instead of a stream of small commits) and deletes a
// segment once bolt holds all of it (bolt commits are synced with
// ForceSync). A round is cut into transactions of at most 2048 entries or
// 512 KB with 5 ms between them: the WAL's fdatasyncs wait for whatever
// bolt is writing, and one big transaction a second stalled every write
// for 12-17 ms at 15k writes/s. Until then the
// entries are also kept in memory: LastZxid, FirstZxid and Replay see every
// appended entry wherever it is. Append waits (back-pressure) when more than
// 256k entries or 64 MB wait for the mover, and fails if the mover is
// failing (bolt cannot grow): nothing is then written.
//
// TruncateAfter moves everything into bolt, removes every WAL segment and
// fsyncs the directory (so no segment can bring truncated entries back),
// then records the cut in bolt's stable bucket (sys/truncate), deletes the
// blocks after the cut, rewrites the block holding it, syncs and clears
// the record: durable when it returns. The record makes the two bolt
// transactions one step: an Open that finds it finishes the cut before
// anything else. A TruncateAfter that fails half-way re-reads the runs from
// bolt (so Replay promises nothing bolt lost) and leaves Append refusing
// until TruncateAfter is retried or the store is reopened: that Open would
// finish the cut and take appended txns with it. Purge moves everything into bolt before deleting from it
// (the blocks below the bound's head first, then that head is rewritten:
// a crash between leaves a log that starts earlier, nothing worse); stale
// WAL copies of purged entries are below bolt's last entry (which is
// always kept) and ignored. Close moves everything and removes the WAL.
//
// Open recovers: bolt first (runs as below), then the WAL segments in
// order, taking the entries after bolt's last zxid; they must strictly
// increase. In the last segment, a record that does not verify is a write
// torn by a crash (a batch never acknowledged) when it is the last thing
// written: no valid record after it and, if its whole header reached the
// disk, a length in bounds with only zeros after the length it announces.
// It is cut off with one Info line naming the file and offset. Any other
// bad record (in an earlier segment, followed by a valid one or by more
// data, or with a complete header announcing an impossible length) is
// ErrCorrupt naming the file and offset: Open refuses and changes nothing. The recovered entries are then written into bolt, bolt
// is synced, and the segments are removed: the store starts clean.
//
// # Durability
//
// With ForceSync the batch is on disk when Append returns (the WAL record
// is fdatasynced). A failed Append (full disk: the next preallocation
// fails; an I/O error) returns the error and publishes nothing: LastZxid
// and the runs are unchanged, and a partly written record is zeroed before
// the next write (until that succeeds every Append fails), so nothing
// acknowledged is lost and nothing unacknowledged is reported as stored.
// When a whole preallocation chunk does not fit (a nearly full disk), the
// record's own size is preallocated instead, so Append fails only when the
// disk is really full. The background mover and WriteSnapshot survive a
// full disk too: the mover logs one Warn line and retries every 200 ms (the
// entries stay in the WAL), a failed snapshot leaves no file. Open on a
// full disk succeeds too: when the recovered WAL entries cannot be written
// into bolt, they stay in their segments and in memory for the mover (a
// torn tail is zeroed in place first, so the segment can sit before new
// ones), with one Warn line. Tests make all of these fail on demand with
// InjectWriteError.
//
// With ForceSync off nothing is fsynced: the data reaches the page cache
// only; it survives kill -9, not power loss (a power loss may then even
// leave a hole in the WAL, which Open refuses as corruption).
//
// bbolt can panic or fault on a damaged file; every bolt call is made with
// debug.SetPanicOnFault and a recover that turns such a failure into an
// ErrCorrupt error naming the file. When bbolt panics inside its own open
// (after it took the flock), Open closes the file bbolt opened and unmaps
// its mapping (found in /proc/self/maps on Linux), so the flock does not
// outlive the failed Open.
//
// # Concurrency
//
// A Store is safe for concurrent use. Locks, in the order they are taken:
// replayMu (read-held by Replay, write-held by TruncateAfter and Purge, so
// an entry never vanishes under a replay), walMu (WAL writes: Append,
// TruncateAfter, Close), boltMu (writes into bolt: the mover, TruncateAfter,
// Purge; it also guards the mover's view of bolt's end: the last key and
// the head block being filled), mu (the in-memory view: runs, pending
// entries, segment list; held briefly, never across disk I/O except
// bolt's small stable-bucket commits: SetInt, the log base, the truncate
// record). Purge holds mu only to pick its bound and to publish the
// result, not while it deletes from bolt.
// Append holds mu only to check and to publish, not while it writes and
// syncs, so readers are not held up by the fsync. Replay reads without any
// lock after taking its view, so the leader can stream a DIFF while
// appending; a block the mover rewrites meanwhile only gains txns, and each
// GetLog sees one committed version of it. The mover goroutine is started
// by Open and stopped by Close.
// Snapshot directory changes are serialised by snapMu, never held with the
// others. WriteSnapshot's callback runs without any lock.
//
// This package imports nothing of zkgo's: zab and server depend on it, not
// the other way round.
package storage
