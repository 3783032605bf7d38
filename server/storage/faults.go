package storage

import (
	"errors"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrInjected is the error InjectWriteError's callers usually pass: a disk
// fault made up by a test.
var ErrInjected = errors.New("injected disk fault")

// faults is the seam tests use to make the store's disk writes fail, as a
// full disk (ENOSPC) or a failing one (EIO) makes them fail, without a
// real full disk. Production code never arms it; the checks cost one
// atomic load.
type faults struct {
	err atomic.Pointer[error]
	// boltErr fails only the moves into bolt (tests of the mover).
	boltErr atomic.Pointer[error]
}

func (f *faults) get() error {
	if f == nil {
		return nil
	}
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *faults) getBolt() error {
	if p := f.boltErr.Load(); p != nil {
		return *p
	}
	return f.get()
}

// InjectWriteError is a test seam: while err is non-nil, every write the
// store makes to disk fails with it: a WAL append fails after writing the
// first half of its record (as a write cut short by a full disk, leaving a
// partial record that must be zeroed before the next write), the
// background move into bolt fails (the entries stay in the WAL and are
// retried), and a snapshot fails after its header. Pass nil to let writes
// succeed again. Reads are never affected.
func (s *Store) InjectWriteError(err error) {
	if err == nil {
		s.faults.err.Store(nil)
		return
	}
	s.faults.err.Store(&err)
}

// appendDelay is the slow-disk seam (SetAppendDelay).
var appendDelay atomic.Pointer[func(logDir string) time.Duration]

// SetAppendDelay is a test seam for a slow disk: while fn is non-nil,
// every Append of every Store in the process first waits fn(logDir)
// (logDir is the store's <dataLogDir>/version-2), holding the WAL as a
// slow write would. It is process-wide because servers open their stores
// themselves (test/nemesis slows one in-process member at a time). Pass
// nil to turn it off; unarmed, it costs one atomic load per Append.
func SetAppendDelay(fn func(logDir string) time.Duration) {
	if fn == nil {
		appendDelay.Store(nil)
		return
	}
	appendDelay.Store(&fn)
}

func slowDisk(logDir string) {
	if p := appendDelay.Load(); p != nil {
		if d := (*p)(logDir); d > 0 {
			time.Sleep(d)
		}
	}
}

// DiskFailed reports whether err (from Append and the like) says the disk
// failed the write: full (ENOSPC, EDQUOT), failing (EIO) or read-only
// (EROFS), rather than, say, a store closed at shutdown.
func DiskFailed(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
