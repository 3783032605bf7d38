//go:build linux

package main

import "testing"

func TestLoadMeasuresEveryClientAgainstTheEventLoop(t *testing.T) {
	testLoad(t, serveLoop)
}
