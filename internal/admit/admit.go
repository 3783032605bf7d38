// Package admit accepts connections that must pass a handshake (TLS, a
// login) before they are served. Each handshake runs on a goroutine of its
// own, so that a slow or silent peer holds up no other; Accept hands out
// the connections that passed, in the order they passed.
package admit

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Listener hands out what admit makes of the connections ln accepts.
type Listener[C io.Closer] struct {
	ln    net.Listener
	admit func(net.Conn) (C, bool)
	ready chan C
	done  chan struct{}
	once  sync.Once
	err   error // set before done is closed
}

// New starts accepting on ln. admit runs on its own goroutine for each
// connection and returns what Accept hands out, or false when the
// connection did not pass (admit has closed it). A passed connection that
// the listener's Close leaves unclaimed is closed.
func New[C io.Closer](ln net.Listener, admit func(net.Conn) (C, bool)) *Listener[C] {
	l := &Listener[C]{ln: ln, admit: admit, ready: make(chan C), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *Listener[C]) acceptLoop() {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.stop(err)
			return
		}
		go l.serve(nc)
	}
}

func (l *Listener[C]) serve(nc net.Conn) {
	c, ok := l.admit(nc)
	if !ok {
		return
	}
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *Listener[C]) stop(err error) {
	l.once.Do(func() { l.err = err; close(l.done) })
}

// Accept returns the next connection that passed its handshake, or the
// error that ended the listener.
func (l *Listener[C]) Accept() (C, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		var zero C
		return zero, l.err
	}
}

// Close stops accepting; handshakes in flight are dropped when they end.
func (l *Listener[C]) Close() error {
	err := l.ln.Close()
	l.stop(net.ErrClosed)
	return err
}

// Addr is the address listened on.
func (l *Listener[C]) Addr() net.Addr { return l.ln.Addr() }
