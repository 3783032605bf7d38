//go:build !unix

package ensemble

import (
	"context"
	"errors"
)

// Local ensembles need Unix process control (sessions, signals, flock).

var errUnsupported = errors.New("zk ensemble needs a Unix system")

type proc struct {
	pid  int
	done chan error
}

func spawn(bin, dir string, id int) (*proc, error) { return nil, errUnsupported }

func alive(pid int, dir string, id int) bool { return false }

type sig int

const (
	sigTerm sig = 15
	sigKill sig = 9
)

func sendSignal(pid int, s sig) error { return errUnsupported }

func lockDir(ctx context.Context, dir string) (func(), error) { return nil, errUnsupported }
