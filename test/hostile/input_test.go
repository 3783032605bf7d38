package hostile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// Garbage on a fresh connection and after a handshake: the server closes
// the connection or answers an error, never writes anything, keeps serving.
func TestGarbageBytes(t *testing.T) {
	e := start(t)
	rng := rand.New(rand.NewPCG(7, 11))
	sessionsBefore := e.mntr()["zk_global_sessions"]
	for i := range 40 {
		b := make([]byte, 1+rng.IntN(4096))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			b[0] = 0x80 | b[0] // a negative length: closed at once
		}
		c := e.dial()
		_ = c.write(b)
		_ = c.nc.(*net.TCPConn).CloseWrite()
		c.expectClosed()
	}
	e.check()
	if got := e.mntr()["zk_global_sessions"]; got != sessionsBefore {
		t.Fatalf("garbage opened sessions: %s before, %s after", sessionsBefore, got)
	}

	// After a handshake: frames of random bytes are requests with random
	// opcodes (UNIMPLEMENTED, the connection closes) or malformed bodies
	// of known ones (MARSHALLINGERROR).
	for i := range 40 {
		c := e.session()
		payload := make([]byte, 8+rng.IntN(512))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			// A known read opcode with a garbage body.
			binary.BigEndian.PutUint32(payload[4:], uint32(wire.OpGetData))
		}
		_ = c.write(frame(payload))
		_ = c.nc.(*net.TCPConn).CloseWrite()
		c.expectClosed()
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))})
	e.expectHeap(32 << 20)
}

// A frame cut short, then the client goes away or stalls: nothing of it
// is applied, no session is opened by half a handshake, other clients are
// served meanwhile.
func TestTruncatedFrames(t *testing.T) {
	e := start(t)
	sessionsBefore := e.mntr()["zk_global_sessions"]

	// Half a ConnectRequest, then close.
	c := e.dial()
	f := frame(wire.Marshal(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}))
	_ = c.write(f[:len(f)/2])
	c.nc.Close()
	// Half a ConnectRequest, then silence: the server waits, others go on.
	stalled := e.dial()
	_ = stalled.write(f[:len(f)/2])
	e.check()

	// Half a create, then close; half a create, then silence.
	a := e.session()
	create := a.request(wire.OpCreate, &wire.CreateRequest{Path: "/half", Data: []byte("x"), ACL: worldACL})
	_ = a.write(create[:len(create)-3])
	a.nc.Close()
	b := e.session()
	create = b.request(wire.OpCreate, &wire.CreateRequest{Path: "/half2", Data: []byte("x"), ACL: worldACL})
	_ = b.write(create[:7])
	e.check()
	// Only the length of a frame, part of it.
	d := e.session()
	_ = d.write([]byte{0, 0})
	e.check()

	// Sessions a, b and d were opened; closing a connection keeps its session.
	if got, want := e.mntr()["zk_global_sessions"], atoi(t, sessionsBefore)+3; atoi(t, got) != want {
		t.Fatalf("sessions: %s, want %d", got, want)
	}
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))})
	// The stalled ones still hold their connections; finish them.
	_ = stalled.write(f[len(f)/2:])
	if _, err := stalled.readFrame(); err != nil {
		t.Fatalf("the rest of a stalled handshake: %v", err)
	}
	_ = b.write(create[7:])
	if _, err := b.readFrame(); err != nil {
		t.Fatalf("the rest of a stalled create: %v", err)
	}
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), "/half2": strp("x")})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// A frame length over jute.maxbuffer or negative closes the connection
// without a reply, before and after the handshake (NIOServerCnxn.
// readLength: "Len error", IOException, connection closed); the session
// survives a closed connection. A length within the limit whose bytes
// never come costs no buffer of that length.
func TestFrameLengths(t *testing.T) {
	e := start(t)
	for _, n := range []uint32{wire.DefaultMaxBuffer + 1, math.MaxInt32, 0xffffffff, 0x80000000} {
		c := e.dial()
		_ = c.write(binary.BigEndian.AppendUint32(nil, n))
		if frames := c.expectClosed(); len(frames) > 0 {
			t.Fatalf("length %#x before the handshake: %d frames answered", n, len(frames))
		}
		s := e.session()
		_ = s.write(binary.BigEndian.AppendUint32(nil, n))
		if frames := s.expectClosed(); len(frames) > 0 {
			t.Fatalf("length %#x after the handshake: %d frames answered", n, len(frames))
		}
		again := e.dial()
		resp, err := again.connect(&wire.ConnectRequest{TimeOut: 4000, SessionID: s.session, Passwd: s.passwd})
		if err != nil || resp.SessionID != s.session {
			t.Fatalf("session after a bad length: %+v %v", resp, err)
		}
	}
	e.check()

	// 50 connections announce a maximal frame and send 10 bytes of it.
	for range 50 {
		c := e.session()
		_ = c.write(append(binary.BigEndian.AppendUint32(nil, wire.DefaultMaxBuffer), make([]byte, 10)...))
	}
	e.check()
	e.expectHeap(16 << 20) // 50 MiB if each announced frame were allocated
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))})
}

// The ConnectRequest's fields a client controls. Apache 3.8's
// ZooKeeperServer.processConnectRequest never looks at protocolVersion;
// it clamps the timeout into [minSessionTimeout, maxSessionTimeout]; it
// refuses (closes, no reply) a client that has seen a newer zxid; a
// request without the trailing readOnly byte is an old client, served.
func TestConnectRequestFields(t *testing.T) {
	e := start(t)
	minT, maxT := int32(e.cfg.MinSessionTimeout.Milliseconds()), int32(e.cfg.MaxSessionTimeout.Milliseconds())
	for _, tc := range []struct {
		name    string
		req     wire.ConnectRequest
		timeout int32
	}{
		{"protocol version 1", wire.ConnectRequest{ProtocolVersion: 1, TimeOut: 1000}, 1000},
		{"protocol version -1", wire.ConnectRequest{ProtocolVersion: -1, TimeOut: 1000}, 1000},
		{"protocol version max", wire.ConnectRequest{ProtocolVersion: math.MaxInt32, TimeOut: 1000}, 1000},
		{"huge timeout", wire.ConnectRequest{TimeOut: math.MaxInt32}, maxT},
		{"zero timeout", wire.ConnectRequest{TimeOut: 0}, minT},
		{"negative timeout", wire.ConnectRequest{TimeOut: -5}, minT},
		{"min int timeout", wire.ConnectRequest{TimeOut: math.MinInt32}, minT},
		{"no readOnly byte", wire.ConnectRequest{TimeOut: 1000}, 1000},
		{"passwd of 1000 bytes", wire.ConnectRequest{TimeOut: 1000, Passwd: bytes.Repeat([]byte{1}, 1000)}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.HasReadOnly = tc.name != "no readOnly byte"
			c := e.dial()
			resp, err := c.connect(&req)
			if err != nil || resp.SessionID == 0 || len(resp.Passwd) != 16 {
				t.Fatalf("connect: %+v %v", resp, err)
			}
			if resp.TimeOut != tc.timeout {
				t.Fatalf("negotiated timeout %d, want %d", resp.TimeOut, tc.timeout)
			}
			if h, _ := c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/bystander"}); h.Err != wire.CodeOK {
				t.Fatalf("exists on the new session: %v", h.Err)
			}
		})
	}
	// A client that has seen a zxid the server has not: closed, no reply.
	c := e.dial()
	_ = c.write(frame(wire.Marshal(&wire.ConnectRequest{LastZxidSeen: 1 << 40, TimeOut: 1000, Passwd: make([]byte, 16)})))
	if frames := c.expectClosed(); len(frames) > 0 {
		t.Fatalf("zxid from the future: %d frames answered", len(frames))
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))})
}

// A request sent as the first frame is read as a ConnectRequest (Apache's
// NIOServerCnxn reads the first frame with readConnectRequest whatever it
// holds): either it is too short to be one (EOF in deserialize), or its
// opcode lands in the high word of lastZxidSeen, a zxid from the future
// (CLIENT_ZXID_AHEAD). Either way the connection closes without a reply
// and without a session.
func TestRequestBeforeConnect(t *testing.T) {
	e := start(t)
	sessionsBefore := e.mntr()["zk_global_sessions"]
	c := &raw{}
	for _, f := range [][]byte{
		c.request(wire.OpCreate, &wire.CreateRequest{Path: "/early", Data: []byte("x"), ACL: worldACL}),
		c.request(wire.OpGetData, &wire.PathWatchRequest{Path: "/"}),
		c.request(wire.OpPing, nil),
		c.request(wire.OpCloseSession, nil),
		c.request(wire.OpSetData, &wire.SetDataRequest{Path: "/bystander", Data: []byte("evil"), Version: -1}),
	} {
		d := e.dial()
		_ = d.write(f)
		if frames := d.expectClosed(); len(frames) > 0 {
			t.Fatalf("request before connect answered with %d frames", len(frames))
		}
	}
	e.check()
	if got := e.mntr()["zk_global_sessions"]; got != sessionsBefore {
		t.Fatalf("sessions: %s before, %s after", sessionsBefore, got)
	}
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))})
}

// maxClientCnxns bounds the connections of one client address. Apache
// 3.8's NIOServerCnxnFactory.AcceptThread.doAccept closes each extra
// connection at once ("Too many connections from /ip - max is N",
// fastCloseSock: linger 0) and keeps the others; observed on 3.8.0 with
// maxClientCnxns=8: the extra connections get no answer to their
// ConnectRequest and see a reset or an end of stream. Another address is
// not affected, and a freed slot can be taken again.
func TestMaxClientCnxns(t *testing.T) {
	const max = 10
	e := start(t, func(c *config.Config) { c.MaxClientCnxns = max })
	// The bystander holds one of the ten.
	var held []*raw
	for range max - 1 {
		held = append(held, e.session())
	}
	connect := frame(wire.Marshal(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true}))
	for i := range 1000 {
		// The reset may even beat the dial's return.
		nc, err := net.DialTimeout("tcp", e.addr, ioTimeout)
		if err == nil {
			_, werr := nc.Write(connect)
			nc.SetReadDeadline(time.Now().Add(ioTimeout))
			n, rerr := nc.Read(make([]byte, 1))
			nc.Close()
			if n > 0 {
				t.Fatalf("connection over maxClientCnxns was answered")
			}
			// The write or the read reports the reset, whichever meets it first.
			err = rerr
			if errors.Is(werr, syscall.ECONNRESET) {
				err = werr
			}
		}
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
			t.Fatalf("attempt %d over maxClientCnxns: %v, want the connection closed", i, err)
		}
	}
	if !e.log.has("too many connections") {
		t.Error("no log line for refused connections")
	}
	for _, c := range held {
		if h, _ := c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/bystander"}); h.Err != wire.CodeOK {
			t.Fatalf("held connection: %v", h.Err)
		}
	}
	e.check()
	// Another address is counted apart.
	other := e.dialFrom("127.0.0.2", 0)
	if resp, err := other.connect(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}); err != nil || resp.SessionID == 0 {
		t.Fatalf("connection from 127.0.0.2: %+v %v", resp, err)
	}
	// A freed slot is taken again (the server notices the close first:
	// until then a dial may still be reset).
	held[0].nc.Close()
	e.eventually("a freed connection slot is reusable", func() bool {
		c, err := e.tryDial()
		if err != nil {
			return false
		}
		resp, err := c.connect(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
		c.nc.Close()
		return err == nil && resp.SessionID != 0
	})
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))})
	e.expectHeap(32 << 20)
}
