//go:build linux

package storage

import (
	"errors"
	"os"
	"syscall"

	"github.com/zkgo/zkgo/internal/rawio"
)

// preallocate reserves n bytes at off (fallocate), so that later writes
// there neither fail for lack of space nor change the file size: fdatasync
// then has no metadata to write. Falls back to extending the size where
// fallocate is not supported.
func preallocate(f *os.File, off, n int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, off, n)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.Truncate(off + n)
	}
	return err
}

// fdatasync flushes the file's data (and the metadata needed to read it).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// fdatasyncRecord is fdatasync for a record and nothing else written
// since the last flush: a short flush, made raw where it can (rawio).
func fdatasyncRecord(f *os.File) error { return rawio.Fdatasync(f) }
