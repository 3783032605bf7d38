package nemesis

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// echo serves frames back to their sender.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, payload string) (string, error) {
	b := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	copy(b[4:], payload)
	if _, err := c.Write(b); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.ReadFull(c, b); err != nil {
		return "", err
	}
	return string(b[4:]), nil
}

func TestNetPartitionAndDrop(t *testing.T) {
	n := NewNet(1)
	t.Cleanup(n.Close)
	port, err := n.Link(1, 2, echo(t))
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	if got, err := roundTrip(c, "hello"); err != nil || got != "hello" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	n.Partition([]int{1}, []int{2})
	if _, err := roundTrip(c, "cut"); err == nil {
		t.Fatal("a frame crossed a partition")
	}
	if _, err := roundTrip(dial(), "cut"); err == nil {
		t.Fatal("a new connection crossed a partition")
	}
	n.Heal()
	c = dial()
	if got, err := roundTrip(c, "again"); err != nil || got != "again" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
	n.SetFaults(Faults{Drop: 1})
	if got, err := roundTrip(c, "lost"); err == nil {
		t.Fatalf("a dropped frame arrived: %q", got)
	}
}
