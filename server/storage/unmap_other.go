//go:build !linux

package storage

func unmapLeaked(string, map[uintptr]uintptr) {}

func mapsOf(string) map[uintptr]uintptr { return nil }
