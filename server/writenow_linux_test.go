//go:build linux

package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// TestWriteNowHandsTheRestToTheWriter: an answer the socket does not take
// at once (the client is not reading and its buffers are full) is neither
// lost nor reordered: writeNow writes what fits and leaves the rest, in
// order, to the connection's writer goroutine, without blocking.
func TestWriteNowHandsTheRestToTheWriter(t *testing.T) {
	s, _, _ := startPipelineServer(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).SetWriteBuffer(16 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(16 << 10)
	c := newConn(s, nc)
	defer c.close()
	s.wg.Add(1)
	go c.writeLoop()

	// Far more than the socket buffers hold, while nobody reads.
	var want bytes.Buffer
	const frames = 64
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for i := range frames {
			f := make([]byte, 4+32<<10)
			for j := 4; j < len(f); j++ {
				f[j] = byte(i + j)
			}
			binary.BigEndian.PutUint32(f, uint32(len(f)-4))
			want.Write(f)
			c.queue(f)
			c.writeNow()
		}
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("writeNow blocked on a client that does not read")
	}
	got := make([]byte, want.Len())
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("reading the answers: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("the answers arrived changed or out of order")
	}
}
