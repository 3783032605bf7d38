package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// setDataFrame returns a setData request payload of exactly size bytes.
func setDataFrame(xid int32, path string, size int) []byte {
	// header 8 + path 4+len + buffer 4+n + version 4
	n := size - 8 - 4 - len(path) - 4 - 4
	e := wire.NewEncoder(make([]byte, 0, size))
	(&wire.RequestHeader{Xid: xid, Type: wire.OpSetData}).Encode(e)
	(&wire.SetDataRequest{Path: path, Data: bytes.Repeat([]byte{'z'}, n), Version: -1}).Encode(e)
	return e.Bytes()
}

// jute.maxbuffer (1 MiB - 1 byte of payload by default): a frame of
// exactly that size is accepted, one byte more closes that connection
// without a reply; the session survives, nothing is written and the server
// keeps serving the other connections.
func TestFrameSizeLimit(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	other := rawSession(t, s.Addr())
	c.create("/big", nil, wire.ModePersistent)

	c.xid++
	frame := setDataFrame(c.xid, "/big", wire.DefaultMaxBuffer)
	if len(frame) != 1048575 {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	if err := c.writeFrame(frame); err != nil {
		t.Fatal(err)
	}
	h, _, err := c.recv(c.xid)
	if err != nil || h.Err != wire.CodeOK {
		t.Fatalf("setData of a maximal frame: %+v %v", h, err)
	}
	data, st := c.getData("/big")
	if len(data) != 1048575-24 || st.DataLength != int32(len(data)) || st.Version != 1 {
		t.Fatalf("read back %d bytes, stat %+v", len(data), st)
	}

	c.xid++
	// The server may close while the frame is still being written.
	c.writeFrame(setDataFrame(c.xid, "/big", wire.DefaultMaxBuffer+1))
	if frames := c.expectClosed(); len(frames) != 0 {
		t.Fatalf("server answered an oversized frame with %d frames", len(frames))
	}
	// The other connection is unaffected, nothing was written.
	if _, st := other.getData("/big"); st.Version != 1 {
		t.Fatalf("oversized write applied: %+v", st)
	}
	c2, resp := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	if resp.SessionID != c.SessionID {
		t.Fatalf("session lost after an oversized frame: %+v", resp)
	}
	c2.stat("/big")

	// A length that is negative, or too large in the handshake, closes too.
	for _, n := range []uint32{0xffffffff, 0x80000000, wire.DefaultMaxBuffer + 1, 0x7fffffff} {
		g := dialRaw(t, s.Addr())
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], n)
		g.nc.Write(hdr[:])
		g.expectClosed()
	}
	// An oversized length right behind the handshake, in the same write,
	// closes too (Apache's ConnectResponse does not get through either).
	g := dialRaw(t, s.Addr())
	connect := wire.Marshal(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
	stream := binary.BigEndian.AppendUint32(nil, uint32(len(connect)))
	stream = append(stream, connect...)
	stream = binary.BigEndian.AppendUint32(stream, wire.DefaultMaxBuffer+1)
	g.nc.Write(stream)
	g.expectClosed()
	other.stat("/big")
}

// A configured jute.maxbuffer is honoured.
func TestFrameSizeLimitConfigured(t *testing.T) {
	s := newServer(t, servertest.WithConfig(func(c *config.Config) { c.JuteMaxBuffer = 4096 }))
	c := rawSession(t, s.Addr())
	c.create("/n", nil, wire.ModePersistent)
	c.xid++
	if err := c.writeFrame(setDataFrame(c.xid, "/n", 4096)); err != nil {
		t.Fatal(err)
	}
	if h, _, err := c.recv(c.xid); err != nil || h.Err != wire.CodeOK {
		t.Fatalf("4096-byte frame: %+v %v", h, err)
	}
	c.xid++
	c.writeFrame(setDataFrame(c.xid, "/n", 4097))
	c.expectClosed()
}

// getsSession reports whether a new connection to addr gets a session; a
// refusal may surface at dial time or as a closed handshake.
func getsSession(t *testing.T, addr string) bool {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return false
	}
	defer nc.Close()
	c := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	_, err = c.handshake(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
	return err == nil
}

// maxClientCnxns limits the connections of one IP; a refused connection is
// closed at once, and a slot frees up when a connection goes away.
func TestMaxClientCnxns(t *testing.T) {
	testConnectionLimit(t, 3, func(c *config.Config) { c.MaxClientCnxns = 3 })
}

// maxCnxns limits the server's connections in all, whatever their
// address: the third of two allowed gets no session, and a slot frees up
// when a connection goes away.
func TestMaxCnxns(t *testing.T) {
	testConnectionLimit(t, 2, func(c *config.Config) { c.MaxCnxns = 2 })
}

// testConnectionLimit opens limit sessions on a server configured by set,
// checks that one more gets none while they all still serve, and that
// closing one frees a slot.
func testConnectionLimit(t *testing.T, limit int, set func(*config.Config)) {
	s := newServer(t, servertest.WithConfig(set))
	var conns []*rawConn
	for range limit {
		conns = append(conns, rawSession(t, s.Addr()))
	}
	if getsSession(t, s.Addr()) {
		t.Fatalf("connection %d got a session with a limit of %d", limit+1, limit)
	}
	for _, c := range conns {
		c.stat("/")
	}
	conns[0].close()
	// The server forgets the closed connection asynchronously: poll.
	testwait.For(t, "a free connection slot", func() bool { return getsSession(t, s.Addr()) })
}

// Garbage on the client port never crashes or hangs the server: random
// bytes before and after the handshake, random frames with random opcodes,
// truncated frames left open. Afterwards the server still serves.
func TestGarbageInput(t *testing.T) {
	s := newServer(t)
	keeper := rawSession(t, s.Addr())
	keeper.create("/keep", []byte("k"), wire.ModePersistent)
	rng := rand.New(rand.NewPCG(1, 2))
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	var payloads [][]byte
	// Raw noise of various sizes (also where a handshake is expected).
	for i := 0; i < 20; i++ {
		payloads = append(payloads, randBytes(1+rng.IntN(300)))
	}
	// Well-framed garbage handshakes.
	for i := 0; i < 20; i++ {
		body := randBytes(rng.IntN(60))
		f := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		payloads = append(payloads, append(f, body...))
	}
	// Handshakes whose password length lies.
	for _, l := range []int32{-2, 16 << 20, 1 << 30, 17} {
		e := wire.NewEncoder(nil)
		e.Int(0)
		e.Long(0)
		e.Int(4000)
		e.Long(0)
		e.Int(l)
		f := binary.BigEndian.AppendUint32(nil, uint32(e.Len()))
		payloads = append(payloads, append(f, e.Bytes()...))
	}
	var wg sync.WaitGroup
	for _, p := range payloads {
		wg.Add(1)
		go func(p []byte) {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", s.Addr(), ioTimeout)
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(ioTimeout))
			nc.Write(p)
		}(p)
	}
	wg.Wait()

	// After a valid handshake: random well-framed requests with random
	// opcodes and bodies, on fresh sessions.
	ops := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102, 103, 104, 105, 106, 107, -10, -11, 999}
	for round := 0; round < 10; round++ {
		c := rawSession(t, s.Addr())
		for i := 0; i < 30; i++ {
			e := wire.NewEncoder(nil)
			e.Int(int32(i + 1))
			e.Int(ops[rng.IntN(len(ops))])
			e.Raw(randBytes(rng.IntN(80)))
			if c.writeFrame(e.Bytes()) != nil {
				break
			}
		}
		c.nc.Close()
	}
	// Half a frame, left hanging.
	hang := dialRaw(t, s.Addr())
	hang.nc.Write([]byte{0, 0, 0, 100, 1, 2, 3})

	// The server still serves, old and new sessions alike.
	if data, _ := keeper.getData("/keep"); string(data) != "k" {
		t.Fatalf("/keep = %q", data)
	}
	fresh := rawSession(t, s.Addr())
	fresh.create("/after", nil, wire.ModePersistent)
	keeper.stat("/after")
}

// A zero-length frame after the handshake (no request header) must not
// break the server either.
func TestEmptyFrame(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	if err := c.writeFrame(nil); err != nil {
		t.Fatal(err)
	}
	// Whatever the answer, the connection ends or goes on; the server lives.
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	rawSession(t, s.Addr()).stat("/")
}
