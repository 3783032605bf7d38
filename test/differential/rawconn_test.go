package differential

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/zkgo/zkgo/server/wire"
)

// errClosed is a connection the server closed (or that broke) mid-call.
var errClosed = errors.New("connection closed by the server")

// rawConn is one client session over the raw protocol: calls are
// synchronous, notifications that arrive meanwhile are kept in events.
type rawConn struct {
	addr      string
	nc        net.Conn
	r         *bufio.Reader
	sessionID int64
	passwd    []byte
	xid       int32
	lastZxid  int64
	events    []wire.WatcherEvent
}

const sessionTimeoutMs = 30000

func dial(addr string) (*rawConn, error) {
	c := &rawConn{addr: addr}
	if err := c.connect(); err != nil {
		return nil, err
	}
	return c, nil
}

// connect opens a new session, or resumes c's session when it has one.
func (c *rawConn) connect() error {
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.addr, err)
	}
	req := &wire.ConnectRequest{LastZxidSeen: c.lastZxid, TimeOut: sessionTimeoutMs,
		SessionID: c.sessionID, Passwd: c.passwd, HasReadOnly: true}
	if c.passwd == nil {
		req.Passwd = make([]byte, 16)
	}
	c.nc, c.r = nc, bufio.NewReader(nc)
	if err := c.writeFrame(wire.Marshal(req)); err != nil {
		nc.Close()
		return err
	}
	f, err := c.readFrame()
	if err != nil {
		nc.Close()
		return fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(f, &resp); err != nil {
		nc.Close()
		return fmt.Errorf("connect response: %w", err)
	}
	if resp.SessionID == 0 {
		nc.Close()
		return fmt.Errorf("connect to %s: session refused (expired)", c.addr)
	}
	c.sessionID, c.passwd = resp.SessionID, resp.Passwd
	return nil
}

func (c *rawConn) writeFrame(b []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(append(hdr[:], b...)); err != nil {
		return errClosed
	}
	return nil
}

func (c *rawConn) readFrame() ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("no answer within 20 s: %w", err)
		}
		return nil, errClosed
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, errClosed
	}
	return b, nil
}

// call sends one request and returns the reply header and body; it keeps
// the notifications that come before the reply.
func (c *rawConn) call(op int32, req wire.Record) (wire.ReplyHeader, []byte, error) {
	var xid int32
	switch op {
	case wire.OpAuth:
		xid = wire.XidAuth
	case wire.OpSetWatches, wire.OpSetWatches2:
		xid = wire.XidSetWatches
	default:
		c.xid++
		xid = c.xid
	}
	e := wire.NewEncoder(nil)
	(&wire.RequestHeader{Xid: xid, Type: op}).Encode(e)
	if req != nil {
		req.Encode(e)
	}
	return c.send(xid, e.Bytes())
}

// callRaw sends a request whose body is given as bytes (oversize frames).
func (c *rawConn) callRaw(op int32, body []byte) (wire.ReplyHeader, []byte, error) {
	c.xid++
	e := wire.NewEncoder(nil)
	(&wire.RequestHeader{Xid: c.xid, Type: op}).Encode(e)
	e.Raw(body)
	return c.send(c.xid, e.Bytes())
}

func (c *rawConn) send(xid int32, frame []byte) (wire.ReplyHeader, []byte, error) {
	var h wire.ReplyHeader
	if err := c.writeFrame(frame); err != nil {
		return h, nil, err
	}
	for {
		f, err := c.readFrame()
		if err != nil {
			return h, nil, err
		}
		d := wire.NewDecoder(f)
		h.Decode(d)
		if d.Err() != nil {
			return h, nil, fmt.Errorf("reply header: %w", d.Err())
		}
		switch h.Xid {
		case wire.XidNotification:
			var ev wire.WatcherEvent
			ev.Decode(d)
			c.events = append(c.events, ev)
			continue
		case wire.XidPing:
			continue
		}
		if h.Xid != xid {
			return h, nil, fmt.Errorf("reply xid %d, want %d", h.Xid, xid)
		}
		if h.Zxid > c.lastZxid {
			c.lastZxid = h.Zxid
		}
		return h, d.Rest(), nil
	}
}

// takeEvents returns and forgets the notifications received so far.
func (c *rawConn) takeEvents() []wire.WatcherEvent {
	ev := c.events
	c.events = nil
	return ev
}

func (c *rawConn) closeSession() (wire.ReplyHeader, error) {
	h, _, err := c.call(wire.OpCloseSession, nil)
	c.nc.Close()
	return h, err
}

func (c *rawConn) drop() { c.nc.Close() }
