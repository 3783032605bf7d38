// Package integration tests zkserver through github.com/go-zookeeper/zk,
// an independent client, and through a raw client built on server/wire
// (rawclient_test.go) for the opcodes go-zookeeper lacks and for bad input.
// Expectations are Apache ZooKeeper 3.8's: with ZKGO_IT_APACHE=1 the same
// suite runs against a real Apache 3.8.0 (Debian package) instead of zkgo,
// which is how the expected values were checked.
package integration

import (
	"errors"
	"io"
	"log"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/servertest"
)

func init() { zk.DefaultLogger = log.New(io.Discard, "", 0) }

// connect opens a session and waits until it is connected.
func connect(t testing.TB, addr string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c, ev
			}
		case <-deadline:
			t.Fatalf("no session with %s", addr)
		}
	}
}

func start(t testing.TB, opts ...servertest.Option) (testServer, *zk.Conn) {
	t.Helper()
	s := newServer(t, opts...)
	c, _ := connect(t, s.Addr())
	return s, c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// nextEvent returns the next watch event or fails after a deadline.
func nextEvent(t testing.TB, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return zk.Event{}
}

// step runs one named part of a test on the test's own goroutine (the raw
// client fails through the test that created it, so no subtests).
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Logf("step: %s", name)
	f(t)
}
