package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/zkgo/zkgo/server/apachefile"

	"github.com/zkgo/zkgo/internal/metric"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrCorrupt marks damaged on-disk data: a bolt file that cannot be
	// opened or read, an entry whose checksum fails, a missing entry.
	ErrCorrupt = errors.New("corrupt data")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("storage closed")
	// ErrLocked is returned by Open when another process holds the log.
	ErrLocked = errors.New("locked by another process")
)

const (
	// versionDir is the sub-directory Apache uses for its on-disk format 2.
	versionDir = "version-2"
	// logFileName is the bolt file inside <dataLogDir>/version-2.
	logFileName = "log.bolt"
	// lockTimeout bounds how long Open waits for bolt's flock, so a second
	// server on the same directory fails instead of hanging forever.
	lockTimeout = time.Second
)

// Options configure a Store.
type Options struct {
	// ForceSync fsyncs each Append (zoo.cfg forceSync, default yes).
	// SetInt always syncs.
	ForceSync bool
	// Logger receives Info lines for state changes and Warn lines for
	// recovered trouble (corrupt snapshots). Nil discards.
	Logger *slog.Logger
	// FsyncWarning: a synced log write that takes longer is logged and
	// counted (zoo.cfg fsync.warningthresholdms; 0 = never).
	FsyncWarning time.Duration
	// Metrics, when set, gets the time of each synced log write
	// (fsynctime) and the txns of each (sync_processor_batch_size).
	Metrics *metric.Server

	// walChunk and walSegmentMax override the WAL's preallocation step and
	// segment size (tests).
	walChunk, walSegmentMax int64
	// walNoMove keeps the background mover idle, so entries stay in the
	// WAL until something flushes them (tests).
	walNoMove bool
	// boltFault makes every write into bolt fail from the start (tests of
	// an Open on a full disk).
	boltFault error
}

// Entry is one transaction of the log.
type Entry struct {
	// Zxid is the index in the log; > 0; strictly increasing across appends.
	Zxid int64
	// Data is the opaque encoded txn.
	Data []byte
}

// Store is the txn log plus the snapshot directory of one server.
type Store struct {
	logger *slog.Logger
	// fsyncWarn and slowSyncs: Options.FsyncWarning and the synced log
	// writes that took longer.
	fsyncWarn time.Duration
	slowSyncs atomic.Int64
	metrics   *metric.Server // nil: none kept
	snapDir   string         // <dataDir>/version-2
	logDir    string         // <dataLogDir>/version-2
	logPath   string         // <logDir>/log.bolt
	noSync    bool
	dirLock   *os.File // flock on snapDir when it differs from logDir
	closeMu   sync.Once
	closeErr  error

	// walMu serialises WAL writes (Append, TruncateAfter, Close) and
	// guards wal and nextSeq.
	walMu   sync.Mutex
	wal     *walFile // the segment being appended to; nil before the first Append
	nextSeq uint64
	// walChunk is the preallocation step; walSegMax the size at which the
	// WAL rolls to a new segment.
	walChunk, walSegMax int64
	noMove              bool

	// boltMu serialises writes into bolt: the mover, TruncateAfter, Purge;
	// it guards the mover's view of bolt's end below.
	boltMu sync.Mutex
	// lastKey is bolt's last key (0: empty), tail the head block there
	// when the mover may still extend it (see block.go); tailStale is set
	// while they could not be read back after a change.
	lastKey   uint64
	tail      *openBlock
	tailStale bool

	mu     sync.Mutex // guards the fields below
	bolt   *raftboltdb.BoltStore
	runs   []run // contiguous zxid ranges present in the log (bolt and WAL), ascending
	closed bool
	// pending are the entries in the WAL that are not yet in bolt, in
	// order; every one is > boltLast.
	pending      []walEntry
	pendingBytes int
	boltLast     uint64    // last zxid in bolt
	segs         []segment // WAL files on disk, in order (the active one last)
	activeSeq    uint64    // seq of wal (0: none)
	moveErr      error     // last failure of the mover, nil once it succeeds
	// cutPending is set while a TruncateAfter that failed half-way (see
	// truncateBoltMarked) has not been retried: Append refuses, since the
	// next Open finishes the cut and would take appended txns with it.
	cutPending bool
	moved      *sync.Cond

	moveWake chan struct{}
	moveStop chan struct{}
	moveDone chan struct{}

	snapMu sync.Mutex // serialises changes to snapDir

	faults *faults // InjectWriteError (tests); never nil

	// replayMu is read-held by Replay and write-held by the log deletions
	// (TruncateAfter, Purge). Order: replayMu, walMu, boltMu, mu; snapMu is
	// never held with any of them.
	replayMu sync.RWMutex
}

// Dirs returns the directories Open keeps the snapshots and the log in
// for dataDir and dataLogDir: version-2 under each, as Apache; an empty
// dataLogDir means dataDir.
func Dirs(dataDir, dataLogDir string) (snapDir, logDir string) {
	if dataLogDir == "" {
		dataLogDir = dataDir
	}
	return filepath.Join(dataDir, versionDir), filepath.Join(dataLogDir, versionDir)
}

// Open opens (creating if needed) the log in dataLogDir (file
// version-2/log.bolt) and the snapshot directory dataDir
// (version-2/snapshot.<zxid hex>), like Apache's layout. An empty dataLogDir
// means dataDir. Errors are one line naming the path: unreadable or
// unwritable directory, log locked by another process (after one second,
// never hanging), corrupt log file.
func Open(dataDir, dataLogDir string, opts Options) (*Store, error) {
	if dataDir == "" {
		return nil, errors.New("open storage: dataDir is empty")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	snapDir, logDir := Dirs(dataDir, dataLogDir)
	s := &Store{
		logger:    logger,
		snapDir:   snapDir,
		logDir:    logDir,
		noSync:    !opts.ForceSync,
		fsyncWarn: opts.FsyncWarning,
		metrics:   opts.Metrics,
		walChunk:  defaultWALChunk,
		walSegMax: defaultWALChunk,
		nextSeq:   1,
		moveWake:  make(chan struct{}, 1),
		moveStop:  make(chan struct{}),
		moveDone:  make(chan struct{}),
		faults:    &faults{},
	}
	s.moved = sync.NewCond(&s.mu)
	if opts.boltFault != nil {
		s.faults.boltErr.Store(&opts.boltFault)
	}
	s.noMove = opts.walNoMove
	if opts.walChunk > 0 {
		s.walChunk = opts.walChunk
	}
	if opts.walSegmentMax > 0 {
		s.walSegMax = opts.walSegmentMax
	}
	s.logPath = filepath.Join(s.logDir, logFileName)
	for _, d := range []string{s.snapDir, s.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open storage: create directory: %w", err)
		}
		if err := checkWritable(d); err != nil {
			return nil, err
		}
	}
	if err := refuseApacheFiles(s.snapDir, s.logDir); err != nil {
		return nil, err
	}
	if !sameDir(s.snapDir, s.logDir) {
		l, err := lockDir(s.snapDir)
		if err != nil {
			return nil, err
		}
		s.dirLock = l
	}
	if err := s.openLog(); err != nil {
		s.unlockDir()
		return nil, err
	}
	if err := s.recoverWAL(); err != nil {
		_ = s.bolt.Close()
		s.unlockDir()
		return nil, err
	}
	go s.mover()
	s.removeStaleTemps()
	first, last := s.firstLast()
	logger.Info("storage opened", "log", s.logPath, "snap_dir", s.snapDir,
		"first_zxid", fmt.Sprintf("0x%x", first), "last_zxid", fmt.Sprintf("0x%x", last),
		"runs", len(s.runs), "force_sync", opts.ForceSync, "wal_dir", s.logDir)
	return s, nil
}

func (s *Store) openLog() error {
	if fi, err := os.Stat(s.logPath); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("open txn log %s: not a regular file", s.logPath)
	}
	var bs *raftboltdb.BoltStore
	// bbolt can panic while opening a damaged file after it took the
	// flock; the file it opened is closed here then, so the lock does not
	// outlive the failed Open (a later Open would wait for it in vain).
	var opened []*os.File
	mapsBefore := mapsOf(s.logPath)
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err == nil {
			opened = append(opened, f)
		}
		return f, err
	}
	err := s.guard("open", func() error {
		var err error
		bs, err = raftboltdb.New(raftboltdb.Options{
			Path: s.logPath,
			BoltOptions: &bbolt.Options{
				Timeout: lockTimeout,
				// NoFreelistSync stays off: with it, bbolt rebuilds the
				// freelist at open in a goroutine of its own that panics on
				// a damaged file, killing the process with no chance to
				// report the damage in one line.
				FreelistType: bbolt.FreelistMapType,
				OpenFile:     openFile,
			},
			NoSync: s.noSync,
		})
		return err
	})
	if err != nil {
		if bs == nil && errors.Is(err, ErrCorrupt) {
			// bbolt panicked: its mmap holds the file (and the flock).
			unmapLeaked(s.logPath, mapsBefore)
		}
		for _, f := range opened {
			_ = f.Close() // already closed unless bbolt panicked
		}
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return fmt.Errorf("open txn log %s: %w (waited %s)", s.logPath, ErrLocked, lockTimeout)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
			errors.Is(err, bolterrors.ErrVersionMismatch):
			return fmt.Errorf("open txn log %s: %w: %v", s.logPath, ErrCorrupt, err)
		case errors.Is(err, ErrCorrupt):
			return err
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("open txn log %s: %w", s.logPath, err)
		}
		// bbolt reports most damage (short file, bad page) with ad-hoc
		// messages; name the file and treat it as corruption.
		return fmt.Errorf("open txn log %s: %w: %v", s.logPath, ErrCorrupt, err)
	}
	s.bolt = bs
	if err := s.finishTruncate(); err != nil {
		_ = bs.Close()
		s.bolt = nil
		return err
	}
	if err := s.loadRuns(); err != nil {
		_ = bs.Close()
		s.bolt = nil
		return err
	}
	return nil
}

// guard runs a bolt operation so that a panic or memory fault inside bbolt
// (it trusts its pages) becomes an ErrCorrupt error naming the log file.
func (s *Store) guard(op string, f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("txn log %s: %s: %w: bolt failed: %v", s.logPath, op, ErrCorrupt, r)
		}
	}()
	return f()
}

// Close closes the log. It is idempotent; other methods return ErrClosed
// afterwards.
//
// Close moves what is still only in the WAL into bolt and removes the WAL
// segments; if that fails they stay and the next Open recovers them.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		s.walMu.Lock()
		s.mu.Lock()
		s.closed = true
		s.moved.Broadcast()
		s.mu.Unlock()
		s.walMu.Unlock()
		close(s.moveStop)
		<-s.moveDone
		s.walMu.Lock()
		s.boltMu.Lock()
		if err := s.flushLocked(); err != nil {
			s.logger.Warn("txn log: entries left in the WAL at close (recovered at the next open)", "err", err.Error())
		} else {
			_ = s.wal.close()
			s.wal = nil
			s.mu.Lock()
			segs := s.segs
			s.segs, s.activeSeq = nil, 0
			s.mu.Unlock()
			removeSegments(segs)
		}
		_ = s.wal.close()
		s.boltMu.Unlock()
		s.walMu.Unlock()
		s.mu.Lock()
		bs := s.bolt
		s.bolt = nil
		s.mu.Unlock()
		if bs != nil {
			if err := bs.Close(); err != nil {
				s.closeErr = fmt.Errorf("close txn log %s: %w", s.logPath, err)
			}
		}
		s.unlockDir()
	})
	return s.closeErr
}

// LogPath is the bolt file of the txn log.
func (s *Store) LogPath() string { return s.logPath }

// SnapDir is the directory holding the snapshots (<dataDir>/version-2).
func (s *Store) SnapDir() string { return s.snapDir }

// DataDirSize is the total size in bytes of the files in the snapshot
// directory (<dataDir>/version-2): dirs' datadir_size.
func (s *Store) DataDirSize() int64 { return dirSize(s.snapDir) }

// LogDirSize is the total size in bytes of the files in the txn log
// directory (<dataLogDir>/version-2): dirs' logdir_size.
func (s *Store) LogDirSize() int64 { return dirSize(s.logDir) }

func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// checkWritable fails with one line when dir is not a writable directory.
// Root passes permission checks, so this creates and removes a probe file.
func checkWritable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("open storage: %s: not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("open storage: directory %s is not writable: %w", dir, unwrapPathErr(err))
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func sameDir(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}

// removeStaleTemps deletes snapshot temp files left by a crash mid-write.
func (s *Store) removeStaleTemps() {
	ents, err := os.ReadDir(s.snapDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) && strings.HasSuffix(e.Name(), tempSuffix) {
			p := filepath.Join(s.snapDir, e.Name())
			if err := os.Remove(p); err == nil {
				s.logger.Info("removed unfinished snapshot", "file", p)
			}
		}
	}
}

func (s *Store) unlockDir() {
	if s.dirLock != nil {
		_ = s.dirLock.Close() // closing the descriptor releases the flock
		s.dirLock = nil
	}
}

// refuseApacheFiles fails when the directories hold Apache ZooKeeper's own
// data files (txn logs log.<hex>, snapshots with the "ZKSN" magic): zkserver
// serves them only once converted (zkserver convert), and starting empty
// beside them would look like data loss.
func refuseApacheFiles(snapDir, logDir string) error {
	f, err := apachefile.Find(snapDir, logDir)
	if err != nil {
		return nil // Open reports an unreadable directory itself
	}
	if len(f.Logs) > 0 {
		return fmt.Errorf("open storage: %s is an Apache ZooKeeper txn log: stop Apache and run `zkserver convert` with this zoo.cfg to take its data over (or use an empty dataDir/dataLogDir)", f.Logs[0])
	}
	if len(f.Snapshots) > 0 {
		return fmt.Errorf("open storage: %s is an Apache ZooKeeper snapshot: stop Apache and run `zkserver convert` with this zoo.cfg to take its data over (or use an empty dataDir)", f.Snapshots[0])
	}
	return nil
}
