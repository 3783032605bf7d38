package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/server/wire"
)

// client is the load generator's own ZooKeeper client: one session with
// one request in flight, used by one goroutine only. It encodes with
// server/wire (no reflection), reuses its buffers, starts no goroutine and
// makes one write and usually one read system call per request, so that
// the generator's CPU per request stays well below the server's and does
// not hide it on a machine whose cores both share. A general client
// (go-zookeeper: a send and a receive goroutine per session, reflection in
// its codec) costs about as much CPU per request as the server.
//
// It re-attaches its session after a lost connection (Reconnect) and
// answers notifications only through WaitEvent; it sends no pings, since a
// closed loop keeps the session busy.
type client struct {
	addr           string
	sessionTimeout time.Duration
	connectTimeout time.Duration
	dial           DialFunc // nil: plain TCP

	conn      net.Conn
	br        *bufio.Reader
	enc       wire.Encoder
	frame     []byte
	xid       int32
	sessionID int64
	passwd    []byte
	lastZxid  int64
	broken    bool
	events    []wire.WatcherEvent // notifications read while waiting for a reply
	// deadline, when set, bounds every call (RoundTrip's whole budget).
	deadline time.Time
}

// maxFrame bounds a reply frame: Apache's default jute.maxbuffer plus room
// for the headers.
const maxFrame = 1<<20 + 1024

// errConnectionLoss is ZooKeeper's CONNECTIONLOSS: the connection broke
// while a request was in flight (it may or may not have been applied).
var errConnectionLoss = &wire.Error{Code: wire.CodeConnectionLoss}

// dialClient opens a new session on addr, its connections opened by dial
// (nil: plain TCP).
func dialClient(ctx context.Context, addr string, sessionTimeout, connectTimeout time.Duration, dial DialFunc) (*client, error) {
	c := &client{addr: addr, sessionTimeout: sessionTimeout, connectTimeout: connectTimeout, dial: dial, broken: true}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// connect dials and shakes hands, re-attaching the session when the
// client has one (a new one when the server says it expired).
func (c *client) connect(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if c.dial != nil {
		conn, err = c.dial(dctx, c.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", c.addr)
	}
	if err != nil {
		return err
	}
	passwd := c.passwd
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	req := wire.ConnectRequest{
		LastZxidSeen: c.lastZxid,
		TimeOut:      int32(c.sessionTimeout / time.Millisecond),
		SessionID:    c.sessionID,
		Passwd:       passwd,
		HasReadOnly:  true,
	}
	c.enc.Reset()
	c.enc.Int(0)
	req.Encode(&c.enc)
	c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
	c.broken = false
	_ = conn.SetDeadline(time.Now().Add(c.connectTimeout))
	body, err := c.roundTrip()
	if err != nil {
		c.fail()
		return err
	}
	var resp wire.ConnectResponse
	dec := wire.NewDecoder(body)
	resp.Decode(dec)
	if err := dec.Err(); err != nil {
		c.fail()
		return fmt.Errorf("handshake with %s: %w", c.addr, err)
	}
	if resp.TimeOut <= 0 {
		c.fail()
		c.sessionID, c.passwd, c.lastZxid = 0, nil, 0
		return wire.ErrSessionExpired
	}
	c.sessionID, c.passwd = resp.SessionID, resp.Passwd
	return nil
}

// reconnect re-attaches the session on a new connection, or opens a new
// session when the old one expired.
func (c *client) reconnect(ctx context.Context) error {
	err := c.connect(ctx)
	if errors.Is(err, wire.ErrSessionExpired) {
		err = c.connect(ctx)
	}
	return err
}

// roundTrip sends the frame in c.enc (its first four bytes are the length
// to fill in) and returns the next frame read.
func (c *client) roundTrip() ([]byte, error) {
	b := c.enc.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := c.conn.Write(b); err != nil {
		c.fail()
		return nil, fmt.Errorf("%w: %v", errConnectionLoss, err)
	}
	return c.readFrame()
}

func (c *client) readFrame() ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(c.br, n[:]); err != nil {
		c.fail()
		if !isNetErr(err) {
			// The dialer's own failure, such as a refused SASL login
			// (Config.Dial): say it as it is.
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errConnectionLoss, err)
	}
	size := int(binary.BigEndian.Uint32(n[:]))
	if size < 0 || size > maxFrame {
		c.fail()
		return nil, fmt.Errorf("%w: reply frame of %d bytes", errConnectionLoss, size)
	}
	if cap(c.frame) < size {
		c.frame = make([]byte, size)
	}
	c.frame = c.frame[:size]
	if _, err := io.ReadFull(c.br, c.frame); err != nil {
		c.fail()
		return nil, fmt.Errorf("%w: %v", errConnectionLoss, err)
	}
	return c.frame, nil
}

// isNetErr reports whether err is the connection's: closed, reset, timed
// out, cut short.
func isNetErr(err error) bool {
	var ne net.Error
	var op *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) || errors.As(err, &op) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *client) fail() {
	if c.conn != nil {
		c.conn.Close()
	}
	c.broken = true
}

// call sends one request and waits for its reply, decoding the body into
// resp when resp is not nil. A reply with an error code returns the
// matching *wire.Error; a broken connection returns errConnectionLoss.
func (c *client) call(op int32, req wire.Record, resp wire.Record) error {
	if c.broken {
		return errConnectionLoss
	}
	c.xid++
	if c.xid <= 0 {
		c.xid = 1
	}
	c.enc.Reset()
	c.enc.Int(0)
	c.enc.Int(c.xid)
	c.enc.Int(op)
	if req != nil {
		req.Encode(&c.enc)
	}
	dl := time.Now().Add(c.sessionTimeout)
	if !c.deadline.IsZero() && c.deadline.Before(dl) {
		dl = c.deadline
	}
	_ = c.conn.SetDeadline(dl)
	body, err := c.roundTrip()
	for err == nil {
		var h wire.ReplyHeader
		dec := wire.NewDecoder(body)
		h.Decode(dec)
		if dec.Err() != nil {
			c.fail()
			return fmt.Errorf("%w: short reply header", errConnectionLoss)
		}
		switch h.Xid {
		case c.xid:
			if h.Zxid > 0 {
				c.lastZxid = h.Zxid
			}
			if h.Err != wire.CodeOK {
				return wire.ErrorOf(h.Err)
			}
			if resp != nil {
				resp.Decode(dec)
				if err := dec.Err(); err != nil {
					return fmt.Errorf("decode reply to op %d: %w", op, err)
				}
			}
			return nil
		case wire.XidNotification:
			var ev wire.WatcherEvent
			ev.Decode(dec)
			c.events = append(c.events, ev)
		case wire.XidPing, wire.XidAuth:
		default:
			c.fail()
			return fmt.Errorf("%w: reply xid %d, want %d", errConnectionLoss, h.Xid, c.xid)
		}
		body, err = c.readFrame()
	}
	return err
}

// waitEvent returns the next notification, waiting up to timeout.
func (c *client) waitEvent(timeout time.Duration) (wire.WatcherEvent, error) {
	for len(c.events) == 0 {
		if c.broken {
			return wire.WatcherEvent{}, errConnectionLoss
		}
		_ = c.conn.SetDeadline(time.Now().Add(timeout))
		body, err := c.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return wire.WatcherEvent{}, errWatchTimeout
			}
			return wire.WatcherEvent{}, err
		}
		var h wire.ReplyHeader
		dec := wire.NewDecoder(body)
		h.Decode(dec)
		if h.Xid == wire.XidNotification {
			var ev wire.WatcherEvent
			ev.Decode(dec)
			c.events = append(c.events, ev)
		}
	}
	ev := c.events[0]
	c.events = c.events[:copy(c.events, c.events[1:])]
	return ev, nil
}

// RoundTrip opens a session on addr, reads path with getData (with write:
// sets it to an empty value, any version) and closes the session, all
// within timeout: nil means the server served the request. A server's
// error code comes back as "getData PATH: error code N". The comparison
// harness (bench/compare) times start-up and fail-over with it, probing
// every few milliseconds, which this client does with no goroutine and a
// few hundred microseconds of CPU.
func RoundTrip(ctx context.Context, addr, path string, write bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c, err := dialClient(ctx, addr, timeout, timeout, nil)
	if err != nil {
		return err
	}
	defer c.close()
	c.deadline = deadline
	name := "getData"
	if write {
		name = "setData"
		err = c.set(path, nil)
	} else {
		err = c.get(path)
	}
	var ze *wire.Error
	if errors.As(err, &ze) && ze.Code != wire.CodeConnectionLoss {
		return fmt.Errorf("%s %s: error code %d", name, path, int32(ze.Code))
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, path, err)
	}
	return nil
}

var worldACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

func (c *client) get(path string) error {
	req := wire.PathWatchRequest{Path: path}
	return c.call(wire.OpGetData, &req, nil)
}

func (c *client) getW(path string) error {
	req := wire.PathWatchRequest{Path: path, Watch: true}
	return c.call(wire.OpGetData, &req, nil)
}

func (c *client) set(path string, data []byte) error {
	req := wire.SetDataRequest{Path: path, Data: data, Version: -1}
	return c.call(wire.OpSetData, &req, nil)
}

func (c *client) create(path string, data []byte) error {
	req := wire.CreateRequest{Path: path, Data: data, ACL: worldACL}
	return c.call(wire.OpCreate, &req, nil)
}

func (c *client) delete(path string) error {
	req := wire.PathVersionRequest{Path: path, Version: -1}
	return c.call(wire.OpDelete, &req, nil)
}

// multi runs ops as one transaction and returns the error of the op that
// failed, if any.
func (c *client) multi(ops []wire.Op) error {
	var resp wire.MultiResponse
	if err := c.call(wire.OpMulti, &wire.MultiRequest{Ops: ops}, &resp); err != nil {
		return err
	}
	var first error
	for _, r := range resp.Results {
		switch {
		case r.Err == wire.CodeOK:
		case r.Err == wire.CodeRuntimeInconsistency:
			// An op rolled back because another failed.
			if first == nil {
				first = wire.ErrorOf(r.Err)
			}
		default:
			return wire.ErrorOf(r.Err)
		}
	}
	return first
}

// close ends the session (best effort, bounded by a short deadline) and
// the connection.
func (c *client) close() {
	if c.broken {
		return
	}
	c.xid++
	c.enc.Reset()
	c.enc.Int(0)
	c.enc.Int(c.xid)
	c.enc.Int(wire.OpCloseSession)
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.roundTrip()
	c.fail()
}
