//go:build !linux

package rawio

import (
	"net"
	"os"
)

// Wrap returns c: raw calls are made on Linux only.
func Wrap(c net.Conn) net.Conn { return c }

// Pwrite writes all of p at off in f.
func Pwrite(f *os.File, p []byte, off int64) (int, error) { return f.WriteAt(p, off) }

// Fdatasync flushes f.
func Fdatasync(f *os.File) error { return f.Sync() }
