//go:build !linux

package main

import (
	"errors"
	"net"
)

func serveLoop(net.Listener, int) error {
	return errors.New("-server loop: an event loop needs Linux (epoll)")
}
