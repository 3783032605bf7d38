//go:build unix

package server

import "syscall"

// maxFDs is the process's limit on open files (RLIMIT_NOFILE's soft
// limit, which Go raises to the hard limit at start), as the JVM reports
// it for Apache's max_file_descriptor_count; -1 when unknown.
func maxFDs() int64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<62 {
		return -1
	}
	return int64(l.Cur)
}
