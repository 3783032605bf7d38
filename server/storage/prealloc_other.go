//go:build !linux

package storage

import "os"

// preallocate extends the file to off+n bytes.
func preallocate(f *os.File, off, n int64) error { return f.Truncate(off + n) }

// fdatasync flushes the file.
func fdatasync(f *os.File) error { return f.Sync() }

// fdatasyncRecord is fdatasync for a record alone.
func fdatasyncRecord(f *os.File) error { return f.Sync() }
