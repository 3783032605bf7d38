package server_test

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// An idle client session costs the server little heap: a connection's
// reader buffer is 4 KB and its writer borrows a buffer only to write. Both
// were 64 KB each, so 2,000 clients held 220 MB of heap, and under load
// the server's RSS reached 595 MB (Apache's: 489 MB).
func TestIdleConnectionMemory(t *testing.T) {
	const n = 200
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.MaxClientCnxns = 0 }))
	connect := wire.Marshal(&wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)})
	frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(connect))), connect...)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		// The session is established once the server has answered.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("connect answer: %v", err)
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
			t.Fatalf("connect answer: %v", err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d idle sessions: %d bytes of heap each (server and test client)", n, per)
	if per > 32<<10 {
		t.Errorf("an idle session holds %d KB of heap, want at most 32 KB", per>>10)
	}
}
