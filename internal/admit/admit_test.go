package admit

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// A peer that says nothing holds up no other; a peer that fails its
// handshake is never handed out; Close ends Accept with net.ErrClosed.
func TestListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The handshake: the peer's first byte, 'y' to pass.
	l := New(ln, func(nc net.Conn) (net.Conn, bool) {
		b := make([]byte, 1)
		if _, err := io.ReadFull(nc, b); err != nil || b[0] != 'y' {
			nc.Close()
			return nil, false
		}
		return nc, true
	})
	dial := func(first string) net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if first != "" {
			if _, err := c.Write([]byte(first)); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	dial("")  // silent
	dial("n") // refused
	ok := dial("y")
	accepted := make(chan net.Conn)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	select {
	case c := <-accepted:
		if c.RemoteAddr().String() != ok.LocalAddr().String() {
			t.Errorf("accepted %v, want the peer that passed (%v)", c.RemoteAddr(), ok.LocalAddr())
		}
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the peer that passed was not handed out while a silent one waited")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
