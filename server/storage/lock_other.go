//go:build !unix

package storage

import "os"

// lockDir is a no-op where flock is unavailable; bbolt still locks the log.
func lockDir(dir string) (*os.File, error) { return nil, nil }
