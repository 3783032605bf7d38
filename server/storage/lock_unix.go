//go:build unix

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive flock on <dir>/.lock so that two servers never
// share a snapshot directory (bbolt's own flock only covers the log file,
// which may live elsewhere when dataLogDir is set). It never blocks.
func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open storage: lock %s: %w", p, unwrapPathErr(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("open storage: snapshot directory %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open storage: lock %s: %w", p, err)
	}
	return f, nil
}
