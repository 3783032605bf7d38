//go:build linux

package main

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"

	"github.com/zkgo/zkgo/internal/rawio"
)

// serveLoop is serveEcho with one event loop for every connection
// (rawio.Poller), as zkserver reads its clients past their handshake.
func serveLoop(ln net.Listener, size int) error {
	p, err := rawio.NewPoller(256)
	if err != nil {
		return err
	}
	defer p.Close()
	answer := make([]byte, size)
	binary.BigEndian.PutUint32(answer, uint32(size-4))
	type echoConn struct {
		rio     *rawio.Conn
		pending []byte
	}
	var (
		mu    sync.Mutex
		conns = map[uint64]*echoConn{}
		next  uint64
	)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				p.Close()
				return
			}
			rio, ok := rawio.Wrap(nc).(*rawio.Conn)
			tc, _ := nc.(*net.TCPConn)
			if !ok || tc == nil {
				nc.Close()
				continue
			}
			rc, err := tc.SyscallConn()
			if err != nil {
				nc.Close()
				continue
			}
			mu.Lock()
			next++
			conns[next] = &echoConn{rio: rio}
			if err := p.Add(rc, next); err != nil {
				delete(conns, next)
				nc.Close()
			}
			mu.Unlock()
		}
	}()
	buf := make([]byte, 64<<10)
	var tokens []uint64
	for {
		tokens, err = p.Wait(tokens)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			mu.Lock()
			c := conns[t]
			mu.Unlock()
			if c == nil {
				continue
			}
			n, err := c.rio.ReadNow(buf)
			if err == nil {
				data := append(c.pending, buf[:n]...)
				for len(data) >= 4 && len(data)-4 >= int(binary.BigEndian.Uint32(data)) {
					data = data[4+int(binary.BigEndian.Uint32(data)):]
					if _, err = c.rio.Write(answer); err != nil {
						break
					}
				}
				c.pending = append(c.pending[:0], data...)
			}
			if err != nil && err != syscall.EAGAIN {
				mu.Lock()
				delete(conns, t)
				mu.Unlock()
				c.rio.Close() // out of the set with its socket
			}
		}
	}
}
