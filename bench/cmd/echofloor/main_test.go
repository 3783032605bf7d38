package main

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestLoadMeasuresEveryClientAgainstTheEchoServer(t *testing.T) {
	testLoad(t, serveEcho)
}

func testLoad(t *testing.T, serve func(net.Listener, int) error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serve(ln, 200)
	lat, err := load(ln.Addr().String(), 4, 20*time.Millisecond, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) < 4 {
		t.Fatalf("%d requests measured, want at least one per client", len(lat))
	}
	for _, d := range lat {
		if d <= 0 {
			t.Fatalf("latency %v", d)
		}
	}
}

func TestLoadFailsWithoutAServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := load(addr, 2, 0, 50*time.Millisecond); err == nil {
		t.Fatal("load against a closed port succeeded")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-clients", "0"}, {"-clients", "x"}, {"-size", "2"}, {"-server", "threads"}} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
