package integration

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/wire"
)

// rawConn is a minimal ZooKeeper client built on server/wire, for the
// opcodes go-zookeeper/zk lacks and for malformed input. It is synchronous:
// call sends one request and reads frames until its reply, keeping the
// notifications that arrive meanwhile (in order) in events and the order
// of everything received in trace.
type rawConn struct {
	t         testing.TB
	nc        net.Conn
	r         *bufio.Reader
	xid       int32
	SessionID int64
	Passwd    []byte
	Timeout   int32
	lastZxid  int64
	events    []wire.WatcherEvent
	trace     []string
	// eventZxids are the reply-header zxids of every notification received.
	eventZxids []int64
}

// ioTimeout bounds every read so that a hung server fails the test instead
// of hanging it; it is a safety net, not a timing assertion.
const ioTimeout = 15 * time.Second

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	t.Cleanup(func() { nc.Close() })
	return c
}

// rawSession dials and opens a new session (timeout 4 s, readOnly byte sent).
func rawSession(t testing.TB, addr string) *rawConn {
	t.Helper()
	c := dialRaw(t, addr)
	resp, err := c.handshake(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.SessionID == 0 {
		t.Fatalf("no session: %+v", resp)
	}
	return c
}

// reattach dials and re-attaches to an existing session with id and password.
func reattach(t testing.TB, addr string, id int64, passwd []byte) (*rawConn, wire.ConnectResponse) {
	t.Helper()
	c := dialRaw(t, addr)
	resp, err := c.handshake(&wire.ConnectRequest{TimeOut: 4000, SessionID: id, Passwd: passwd, HasReadOnly: true})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c, resp
}

func (c *rawConn) writeFrame(payload []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	_, err := c.nc.Write(append(buf, payload...))
	return err
}

func (c *rawConn) readFrame() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > 4<<20 {
		return nil, fmt.Errorf("frame length %d", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(c.r, buf)
	return buf, err
}

// handshake sends a ConnectRequest and decodes the ConnectResponse frame.
func (c *rawConn) handshake(req *wire.ConnectRequest) (wire.ConnectResponse, error) {
	var resp wire.ConnectResponse
	if err := c.writeFrame(wire.Marshal(req)); err != nil {
		return resp, err
	}
	f, err := c.readFrame()
	if err != nil {
		return resp, err
	}
	if err := wire.Unmarshal(f, &resp); err != nil {
		return resp, err
	}
	c.SessionID, c.Passwd, c.Timeout = resp.SessionID, resp.Passwd, resp.TimeOut
	return resp, nil
}

// send writes a request with the next xid (or the given special xid).
func (c *rawConn) send(xid, op int32, body wire.Record) int32 {
	c.t.Helper()
	if xid == 0 {
		c.xid++
		xid = c.xid
	}
	e := wire.NewEncoder(nil)
	(&wire.RequestHeader{Xid: xid, Type: op}).Encode(e)
	if body != nil {
		body.Encode(e)
	}
	if err := c.writeFrame(e.Bytes()); err != nil {
		c.t.Fatalf("write %s: %v", wire.OpName(op), err)
	}
	return xid
}

// recv reads frames until the reply to xid; notifications are recorded.
func (c *rawConn) recv(xid int32) (wire.ReplyHeader, *wire.Decoder, error) {
	for {
		f, err := c.readFrame()
		if err != nil {
			return wire.ReplyHeader{}, nil, err
		}
		d := wire.NewDecoder(f)
		var h wire.ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			return h, nil, d.Err()
		}
		if h.Xid == wire.XidNotification {
			var ev wire.WatcherEvent
			ev.Decode(d)
			if d.Err() != nil {
				return h, nil, d.Err()
			}
			c.events = append(c.events, ev)
			c.eventZxids = append(c.eventZxids, h.Zxid)
			c.trace = append(c.trace, fmt.Sprintf("event %d %s", ev.Type, ev.Path))
			continue
		}
		c.trace = append(c.trace, fmt.Sprintf("reply %d", h.Xid))
		if h.Xid != xid {
			return h, nil, fmt.Errorf("reply xid %d, want %d", h.Xid, xid)
		}
		if h.Zxid > c.lastZxid {
			c.lastZxid = h.Zxid
		}
		return h, d, nil
	}
}

// call sends op and returns the reply's error code, decoding the body into
// resp when the code is OK and resp is not nil.
func (c *rawConn) call(op int32, body, resp wire.Record) wire.Code {
	c.t.Helper()
	return c.callXid(0, op, body, resp)
}

func (c *rawConn) callXid(xid, op int32, body, resp wire.Record) wire.Code {
	c.t.Helper()
	xid = c.send(xid, op, body)
	h, d, err := c.recv(xid)
	if err != nil {
		c.t.Fatalf("%s: %v", wire.OpName(op), err)
	}
	if h.Err == wire.CodeOK && resp != nil {
		resp.Decode(d)
		if d.Err() != nil {
			c.t.Fatalf("%s: decode reply: %v", wire.OpName(op), d.Err())
		}
	}
	return h.Err
}

// callRaw returns the reply header and the undecoded body bytes.
func (c *rawConn) callRaw(op int32, body wire.Record) (wire.ReplyHeader, []byte) {
	c.t.Helper()
	xid := c.send(0, op, body)
	h, d, err := c.recv(xid)
	if err != nil {
		c.t.Fatalf("%s: %v", wire.OpName(op), err)
	}
	return h, d.Rest()
}

// mustOK fails unless code is OK.
func (c *rawConn) mustOK(what string, code wire.Code) {
	c.t.Helper()
	if code != wire.CodeOK {
		c.t.Fatalf("%s: %v (%d)", what, code, int32(code))
	}
}

// wantCode fails unless got == want.
func wantCode(t testing.TB, what string, got, want wire.Code) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: code %d (%v), want %d (%v)", what, int32(got), got, int32(want), want)
	}
}

// create makes a node with the open ACL and returns its path.
func (c *rawConn) create(path string, data []byte, flags int32) string {
	c.t.Helper()
	var resp wire.CreateResponse
	c.mustOK("create "+path, c.call(wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: openACL, Flags: flags}, &resp))
	return resp.Path
}

// stat returns a node's Stat via exists.
func (c *rawConn) stat(path string) wire.Stat {
	c.t.Helper()
	var resp wire.StatResponse
	c.mustOK("exists "+path, c.call(wire.OpExists, &wire.PathWatchRequest{Path: path}, &resp))
	return resp.Stat
}

// nextEvent returns the next notification, reading frames if none is queued.
func (c *rawConn) nextEvent() wire.WatcherEvent {
	c.t.Helper()
	for len(c.events) == 0 {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("waiting for a notification: %v", err)
		}
		d := wire.NewDecoder(f)
		var h wire.ReplyHeader
		h.Decode(d)
		if h.Xid != wire.XidNotification {
			c.t.Fatalf("unexpected reply xid %d while waiting for a notification", h.Xid)
		}
		var ev wire.WatcherEvent
		ev.Decode(d)
		c.events = append(c.events, ev)
		c.eventZxids = append(c.eventZxids, h.Zxid)
		c.trace = append(c.trace, fmt.Sprintf("event %d %s", ev.Type, ev.Path))
	}
	ev := c.events[0]
	c.events = c.events[1:]
	return ev
}

// noEvent checks that no notification is pending: a ping round trip flushes
// whatever the server queued before it, so nothing may arrive before its reply.
func (c *rawConn) noEvent() {
	c.t.Helper()
	c.ping()
	if len(c.events) > 0 {
		c.t.Fatalf("unexpected notifications %+v", c.events)
	}
}

func (c *rawConn) ping() {
	c.t.Helper()
	xid := c.send(wire.XidPing, wire.OpPing, nil)
	h, _, err := c.recv(xid)
	if err != nil {
		c.t.Fatalf("ping: %v", err)
	}
	if h.Err != wire.CodeOK {
		c.t.Fatalf("ping: %v", h.Err)
	}
}

// expectClosed reads until the server closes the connection. Frames read
// before the close are returned.
func (c *rawConn) expectClosed() [][]byte {
	c.t.Helper()
	var frames [][]byte
	for {
		f, err := c.readFrame()
		if err == nil {
			frames = append(frames, f)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("server did not close the connection")
		}
		return frames
	}
}

func (c *rawConn) close() {
	c.send(0, wire.OpCloseSession, nil)
	c.expectClosed()
}

var openACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

func event(typ int32, path string) wire.WatcherEvent {
	return wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path}
}
