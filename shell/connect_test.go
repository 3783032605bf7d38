package shell

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/servertest"
)

// refusedAddr returns "127.0.0.1:port" of a port nobody listens on, below
// the ephemeral range: a port the kernel hands out for :0 may soon be
// another test's server.
func refusedAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(servertest.FreePorts(t, 1)[0])
}

// TestConnectRefused: with every server refusing, Dial and a command fail
// with a *ConnectError naming the servers and the reason, while an
// interactive session (DialAsync) keeps trying and reads CONNECTING.
func TestConnectRefused(t *testing.T) {
	addr := refusedAddr(t)
	cs, err := ParseConnectString(addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), cs, time.Hour, nil)
	var ce *ConnectError
	if !errors.As(err, &ce) || err.Error() != "cannot connect to "+addr+": connection refused" {
		t.Fatalf("Dial: %v", err)
	}

	sh, err := New(Config{Server: addr, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	sh.startSession()
	if got := sh.Prompt(); !strings.Contains(got, "(CONNECTING)") {
		t.Errorf("prompt %q", got)
	}
	err = sh.Run(testCtx(t), []string{"get", "/"})
	if err == nil || err.Error() != "cannot connect to "+addr+": connection refused" || IsUsage(err) {
		t.Errorf("get: %v", err)
	}
	// A second command waits for a new round of refusals, not an old one.
	err = sh.Run(testCtx(t), []string{"ls", "/"})
	if err == nil || err.Error() != "cannot connect to "+addr+": connection refused" {
		t.Errorf("ls: %v", err)
	}
	if got := sh.Prompt(); !strings.Contains(got, "(CONNECTING) 0]") {
		t.Errorf("prompt %q", got)
	}
}

func TestDialReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", func() error { _, err := net.Dial("tcp", refusedAddr(t)); return err }(), "connection refused"},
		{"no host", &net.DNSError{Name: "x.invalid", Err: "no such host", IsNotFound: true}, "no such host x.invalid"},
		{"timeout", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "h", IsTimeout: true}}, "lookup h: i/o timeout"},
		{"missing port", &net.AddrError{Err: "missing port in address", Addr: "h"}, "missing port in address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dialReason(tc.err); got != tc.want {
				t.Errorf("dialReason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// TestConnectNoAnswer: a server that accepts the connection but never
// answers ends the wait for a first session after ConnectWait, with the
// reason.
func TestConnectNoAnswer(t *testing.T) {
	addr := silentServer(t)
	cs, err := ParseConnectString(addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), cs, time.Second, nil)
	want := "cannot connect to " + addr + ": no session within 1s"
	if err == nil || err.Error() != want {
		t.Fatalf("Dial: %v, want %s", err, want)
	}
	if got := ConnectWait(time.Hour); got != MaxConnectWait {
		t.Errorf("ConnectWait(1h) = %v", got)
	}
}

// silentServer listens on 127.0.0.1, accepts connections and never
// answers; the test's end closes it all.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestConnectSomeDown: a list where some servers refuse still gives a
// session on the one that answers, whatever order they are tried in.
func TestConnectSomeDown(t *testing.T) {
	up := testServer(t)
	cs, err := ParseConnectString(refusedAddr(t) + "," + up + "," + refusedAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // go-zookeeper shuffles the list
		c, err := Dial(testCtx(t), cs, 10*time.Second, nil)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if got := c.Conn.Server(); got != up {
			t.Errorf("connected to %s, want %s", got, up)
		}
		c.Close()
	}
}
