//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection, the first
// wrapped.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	return Wrap(c), peer
}

func TestConnCarriesMoreThanTheSocketHolds(t *testing.T) {
	c, peer := tcpPair(t)
	// Several MB: Write must wait for the reader while the socket is full.
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	werr := make(chan error, 1)
	go func() {
		n, err := c.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		werr <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the peer read other bytes than were written")
	}

	// And back: Read waits for data and returns what came.
	go peer.Write(want)
	back := make([]byte, len(want))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !bytes.Equal(back, want) {
		t.Fatal("Read returned other bytes than the peer wrote")
	}
}

func TestConnEndOfStreamAndDeadline(t *testing.T) {
	c, peer := tcpPair(t)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var buf [16]byte
	_, err := c.Read(buf[:])
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	peer.Write([]byte("last"))
	peer.Close()
	n, err := c.Read(buf[:])
	if err != nil || string(buf[:n]) != "last" {
		t.Fatalf("Read = %q, %v; want \"last\"", buf[:n], err)
	}
	if _, err := c.Read(buf[:]); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(buf[:]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(buf[:]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("Wrap changed a connection that is not TCP")
	}
}

func TestWritevWritesTheBuffersInOrder(t *testing.T) {
	c, peer := tcpPair(t)
	rc := c.(*Conn).rc
	bufs := [][]byte{[]byte("one "), nil, []byte("two "), []byte("three")}
	var n int
	var werr error
	var iov []syscall.Iovec
	if err := rc.Write(func(fd uintptr) bool {
		n, iov, werr = Writev(fd, bufs, iov)
		return true
	}); err != nil || werr != nil {
		t.Fatalf("Writev: %v %v", err, werr)
	}
	if n != len("one two three") {
		t.Fatalf("Writev wrote %d bytes, want %d", n, len("one two three"))
	}
	for _, v := range iov[:cap(iov)] {
		if v.Base != nil {
			t.Fatal("Writev's scratch still points at a buffer")
		}
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "one two three" {
		t.Fatalf("peer read %q, %v", got, err)
	}
}

func TestPwriteAndFdatasync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := Pwrite(f, []byte("world"), 6); err != nil || n != 5 {
		t.Fatalf("Pwrite = %d, %v", n, err)
	}
	if _, err := Pwrite(f, []byte("hello "), 0); err != nil {
		t.Fatal(err)
	}
	// Both ways of flushing: raw (GOMAXPROCS >= 2) and the usual call.
	for _, procs := range []int{2, 1} {
		old := runtime.GOMAXPROCS(procs)
		err := Fdatasync(f)
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatalf("Fdatasync with GOMAXPROCS=%d: %v", procs, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("file holds %q, %v", got, err)
	}
	closed, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := Fdatasync(closed); err == nil {
		t.Fatal("Fdatasync of a closed file succeeded")
	}

	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = Pwrite(ro, []byte("x"), 0)
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != path {
		t.Fatalf("Pwrite to a read-only file: %v, want a PathError naming it", err)
	}
}
