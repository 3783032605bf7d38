//go:build linux

package rawio

import (
	"errors"
	"io"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// waitTokens runs Wait on its own goroutine and returns what it reports,
// failing the test if it reports nothing within the deadline.
func waitTokens(t *testing.T, p *Poller) []uint64 {
	t.Helper()
	type result struct {
		tokens []uint64
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		tokens, err := p.Wait(nil)
		ch <- result{tokens, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Wait: %v", r.err)
		}
		return r.tokens
	case <-time.After(10 * time.Second):
		t.Fatal("Wait reported nothing")
		return nil
	}
}

// TestPoller: a socket is reported, by its token, while it has bytes to
// read; not while paused; at once on Resume when bytes came meanwhile;
// and ReadNow reads without waiting. Close ends a Wait in progress.
func TestPoller(t *testing.T) {
	p, err := NewPoller(8)
	if err != nil {
		t.Fatal(err)
	}
	a, b := tcpPair(t)
	rc := a.(*Conn).rc
	if err := p.Add(rc, 1<<40|7); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if _, err := a.(*Conn).ReadNow(buf); err != syscall.EAGAIN {
		t.Fatalf("ReadNow of an empty socket: %v, want EAGAIN", err)
	}
	if _, err := b.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := waitTokens(t, p); !slices.Equal(got, []uint64{1<<40 | 7}) {
		t.Fatalf("Wait = %v, want the socket's token", got)
	}
	// Level-triggered: still reported until read.
	if got := waitTokens(t, p); len(got) != 1 {
		t.Fatalf("Wait = %v, want the unread socket again", got)
	}
	if n, err := a.(*Conn).ReadNow(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("ReadNow = %q, %v", buf[:n], err)
	}

	if err := p.Pause(rc, 1<<40|7); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	done := make(chan []uint64, 1)
	go func() {
		tokens, _ := p.Wait(nil)
		done <- tokens
	}()
	if err := p.Resume(rc, 1<<40|7); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if len(got) != 1 {
			t.Fatalf("Wait after Resume = %v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bytes that came while paused were not reported on Resume")
	}

	b.Close()
	if n, err := a.(*Conn).ReadNow(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("ReadNow = %q, %v", buf[:n], err)
	}
	if _, err := a.(*Conn).ReadNow(buf); err != io.EOF {
		t.Fatalf("ReadNow after the peer closed: %v, want EOF", err)
	}
	if err := p.Remove(rc); err != nil {
		t.Fatal(err)
	}

	closed := make(chan error, 1)
	go func() {
		_, err := p.Wait(nil)
		closed <- err
	}()
	p.Close()
	select {
	case err := <-closed:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Wait after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end Wait")
	}
	if err := p.Add(rc, 1); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}
