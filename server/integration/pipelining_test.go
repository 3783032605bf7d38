package integration

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// frames encodes requests as one byte stream, xids from first on.
func frames(first int32, ops []int32, bodies []wire.Record) []byte {
	var out []byte
	for i, op := range ops {
		e := wire.NewEncoder(nil)
		(&wire.RequestHeader{Xid: first + int32(i), Type: op}).Encode(e)
		bodies[i].Encode(e)
		out = binary.BigEndian.AppendUint32(out, uint32(len(e.Bytes())))
		out = append(out, e.Bytes()...)
	}
	return out
}

// bothReaders runs f with each of the two ways zkserver reads its
// clients: event loops (the default on Linux) and a goroutine per
// connection (nio.numSelectorThreads=0; TLS connections, other systems).
func bothReaders(t *testing.T, f func(t *testing.T, opts ...servertest.Option)) {
	for _, r := range []struct {
		name  string
		loops int
	}{{"loops", -1}, {"goroutines", 0}} {
		t.Run(r.name, func(t *testing.T) {
			if r.loops == 0 {
				zkgoOnly(t)
			}
			f(t, servertest.WithConfig(func(c *config.Config) { c.ClientEventLoops = r.loops }))
		})
	}
}

// recvData reads the reply to xid, which must be OK, and returns its data.
func (c *rawConn) recvData(xid int32) []byte {
	c.t.Helper()
	h, d, err := c.recv(xid)
	if err != nil {
		c.t.Fatalf("reply %d: %v", xid, err)
	}
	if h.Err != wire.CodeOK {
		c.t.Fatalf("reply %d: %v", xid, h.Err)
	}
	var r wire.GetDataResponse
	r.Decode(d)
	return r.Data
}

// TestRequestsSplitAnywhere: a client's bytes may reach the server cut
// anywhere, a request's length prefix included. Pipelined sets and gets
// of one znode, written a few bytes at a time, are all answered, in
// order, each get seeing the set before it (a session's requests are
// handled in order).
func TestRequestsSplitAnywhere(t *testing.T) { bothReaders(t, testRequestsSplitAnywhere) }

func testRequestsSplitAnywhere(t *testing.T, opts ...servertest.Option) {
	s := newServer(t, opts...)
	c := rawSession(t, s.Addr())
	c.create("/split", []byte("v0"), 0)
	var ops []int32
	var bodies []wire.Record
	for i := 1; i <= 40; i++ {
		ops = append(ops, wire.OpSetData, wire.OpGetData)
		bodies = append(bodies,
			&wire.SetDataRequest{Path: "/split", Data: fmt.Appendf(nil, "v%d", i), Version: -1},
			&wire.PathWatchRequest{Path: "/split"})
	}
	first := c.xid + 1
	stream := frames(first, ops, bodies)
	c.xid += int32(len(ops))
	for i, n := 0, 0; i < len(stream); i += n {
		n = min(1+i%7, len(stream)-i) // 1 to 7 bytes per write
		if _, err := c.nc.Write(stream[i : i+n]); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	for i := range 40 {
		xid := first + int32(2*i)
		if h, _, err := c.recv(xid); err != nil || h.Err != wire.CodeOK {
			t.Fatalf("set %d: %v %v", i+1, err, h.Err)
		}
		if got, want := string(c.recvData(xid+1)), fmt.Sprintf("v%d", i+1); got != want {
			t.Fatalf("get after set %d read %q, want %q", i+1, got, want)
		}
	}
}

// TestClientThatReadsLateGetsEveryReply: a client may send many requests
// before it reads any reply. Forty-eight pipelined reads of a 512 KB
// znode (24 MB of replies, far more than the sockets hold) in one write
// are all answered, in order, once the client reads: the server stops
// reading a client whose replies pile up instead of dropping it.
func TestClientThatReadsLateGetsEveryReply(t *testing.T) {
	bothReaders(t, testClientThatReadsLateGetsEveryReply)
}

func testClientThatReadsLateGetsEveryReply(t *testing.T, opts ...servertest.Option) {
	s := newServer(t, opts...)
	c := rawSession(t, s.Addr())
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(64 << 10)
	}
	big := bytes.Repeat([]byte("z"), 512<<10)
	c.create("/big", big, 0)
	const n = 48
	ops := make([]int32, n)
	bodies := make([]wire.Record, n)
	for i := range ops {
		ops[i], bodies[i] = wire.OpGetData, &wire.PathWatchRequest{Path: "/big"}
	}
	first := c.xid + 1
	if _, err := c.nc.Write(frames(first, ops, bodies)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.xid += n
	for i := range int32(n) {
		if got := c.recvData(first + i); !bytes.Equal(got, big) {
			t.Fatalf("reply %d: %d bytes, want the znode's %d", i, len(got), len(big))
		}
	}
	c.ping() // and the session goes on
}

// TestThrottledClientsGetEveryReply: with globalOutstandingLimit low,
// clients that pipeline a write and hundreds of reads behind it (which
// wait for the write: a session's requests are answered in order) are
// held back by Apache's throttle, not refused: every request is answered,
// in order, the reads seeing the write. The first client only writes, so
// that the others' writes find one in flight and queue for the log.
func TestThrottledClientsGetEveryReply(t *testing.T) {
	bothReaders(t, testThrottledClientsGetEveryReply)
}

func testThrottledClientsGetEveryReply(t *testing.T, opts ...servertest.Option) {
	opts = append(opts, servertest.WithConfig(func(c *config.Config) { c.GlobalOutstandingLimit = 4 }))
	s := newServer(t, opts...)
	const n = 300
	var clients []*rawConn
	for range 4 {
		clients = append(clients, rawSession(t, s.Addr()))
	}
	firsts := make([]int32, len(clients))
	reads := make([]int, len(clients))
	streams := make([][]byte, len(clients))
	for k, c := range clients {
		path := fmt.Sprintf("/t%d", k)
		c.create(path, nil, 0)
		ops := []int32{wire.OpSetData}
		bodies := []wire.Record{&wire.SetDataRequest{Path: path, Data: []byte("data"), Version: -1}}
		if k > 0 {
			reads[k] = n
		}
		for range reads[k] {
			ops, bodies = append(ops, wire.OpGetData), append(bodies, &wire.PathWatchRequest{Path: path})
		}
		firsts[k] = c.xid + 1
		c.xid += int32(len(ops))
		streams[k] = frames(firsts[k], ops, bodies)
	}
	for k, c := range clients { // back to back
		if _, err := c.nc.Write(streams[k]); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	for k, c := range clients {
		if h, _, err := c.recv(firsts[k]); err != nil || h.Err != wire.CodeOK {
			t.Fatalf("client %d set: %v %v", k, err, h.Err)
		}
		for i := range int32(reads[k]) {
			if got := string(c.recvData(firsts[k] + 1 + i)); got != "data" {
				t.Fatalf("client %d read %d: %q", k, i, got)
			}
		}
	}
}
