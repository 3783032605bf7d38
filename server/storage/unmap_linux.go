//go:build linux

package storage

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// fileMaps returns the start and length of the process's mappings of the
// file with inode ino (from /proc/self/maps).
func fileMaps(ino uint64) map[uintptr]uintptr {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[uintptr]uintptr{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 {
			continue
		}
		if n, err := strconv.ParseUint(fs[4], 10, 64); err != nil || n != ino {
			continue
		}
		a, b, ok := strings.Cut(fs[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(a, 16, 64)
		end, err2 := strconv.ParseUint(b, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out[uintptr(start)] = uintptr(end - start)
	}
	return out
}

func fileInode(path string) (uint64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}

// unmapLeaked unmaps the mappings of path made since before was taken: a
// bbolt that panicked while opening a damaged file leaves its mmap (and
// with it the file and its flock) behind with no handle to close it.
func unmapLeaked(path string, before map[uintptr]uintptr) {
	ino, ok := fileInode(path)
	if !ok {
		return
	}
	for start, n := range fileMaps(ino) {
		if _, old := before[start]; old {
			continue
		}
		_, _, _ = syscall.Syscall(syscall.SYS_MUNMAP, start, n, 0)
	}
}

// mapsOf returns the current mappings of path, for unmapLeaked.
func mapsOf(path string) map[uintptr]uintptr {
	ino, ok := fileInode(path)
	if !ok {
		return nil
	}
	return fileMaps(ino)
}
