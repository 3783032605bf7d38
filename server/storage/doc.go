// Package storage owns zkserver's durable state on disk: the transaction log
// and the snapshots, laid out like Apache ZooKeeper 3.8's dataLogDir and
// dataDir.
//
// # Layout
//
//	<dataLogDir>/version-2/log.bolt           txn log (hashicorp/raft-boltdb)
//	<dataDir>/version-2/snapshot.<zxid hex>   snapshots (suffix as Apache: Long.toHexString)
//
// The txn log is a raft-boltdb LogStore whose raft index is the zxid and
// whose raft term is the epoch (zxid>>32), so order, truncation (ZAB TRUNC)
// and purge are range operations. The bolt value of every entry carries a
// CRC32C over the zxid, the run bookkeeping and the txn bytes; an entry that
// fails it is reported as ErrCorrupt naming the file, never handed to the
// caller. Zxids are sparse (a new epoch restarts the counter), so every entry
// also records the first zxid of its contiguous run and the zxid that
// preceded that run; Open walks these back from the last entry (one read per
// run) to rebuild the list of runs that Replay iterates.
//
// Snapshots are framed by this package (see snapshot.go for the header:
// magic, version, zxid, body length, CRC32C of the body, CRC32C of the
// header), written to a temporary file, fsynced, renamed into place and the
// directory fsynced. LatestSnapshot falls back to older snapshots when the
// newest is corrupt, logging one Warn line per bad file.
//
// # Durability
//
// Append commits one bolt transaction per call (the caller group-commits by
// passing every waiting entry at once). With Options.ForceSync (zoo.cfg
// forceSync=yes, the default) the commit is on disk when Append returns;
// bbolt syncs the data pages and then the meta page (two fdatasyncs per
// commit, the barrier bolt needs to survive power loss). A failed commit (full
// disk, I/O error) rolls back: Append returns the error and the in-memory
// view (LastZxid, runs) is unchanged, so nothing acknowledged is lost and
// nothing unacknowledged is reported as stored. With ForceSync off the data
// reaches the page cache only: it survives kill -9, not power loss.
//
// bbolt can panic or fault on a damaged file; every bolt call is made with
// debug.SetPanicOnFault and a recover that turns such a failure into an
// ErrCorrupt error naming the file.
//
// # Concurrency
//
// A Store is safe for concurrent use. Log writes (Append, TruncateAfter,
// the log part of Purge, SetInt) are serialised by one mutex; Replay reads
// without holding it, so the leader can stream a DIFF while appending;
// TruncateAfter and Purge wait for running replays (a read-write lock taken
// before the log mutex), so an entry never vanishes under a replay.
// Snapshot directory changes are serialised by a third mutex, never held
// with the other two. WriteSnapshot's callback runs without any lock.
//
// This package imports nothing of zkgo's: zab and server depend on it, not
// the other way round.
package storage
