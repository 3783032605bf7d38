package quorumtest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// rawConn speaks the client protocol directly (go-zookeeper cannot ask
// for read-only sessions).
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (c *rawConn) send(frame []byte) {
	c.t.Helper()
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := c.nc.Write(frame); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) recv() (*wire.Decoder, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var n [4]byte
	if _, err := io.ReadFull(c.r, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, err
	}
	return wire.NewDecoder(b), nil
}

// dialReadOnly connects asking for a read-only session and returns the
// ConnectResponse, or the error when the server closes the connection.
func dialReadOnly(t *testing.T, addr string) (*rawConn, *wire.ConnectResponse, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	e := wire.NewEncoder(make([]byte, 4, 64))
	(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}).Encode(e)
	c.send(e.Bytes())
	d, err := c.recv()
	if err != nil {
		return nil, nil, err
	}
	var resp wire.ConnectResponse
	resp.Decode(d)
	return c, &resp, d.Err()
}

func (c *rawConn) call(xid, op int32, body wire.Record) wire.ReplyHeader {
	c.t.Helper()
	e := wire.NewEncoder(make([]byte, 4, 64))
	(&wire.RequestHeader{Xid: xid, Type: op}).Encode(e)
	body.Encode(e)
	c.send(e.Bytes())
	d, err := c.recv()
	if err != nil {
		c.t.Fatalf("op %d: %v", op, err)
	}
	var h wire.ReplyHeader
	h.Decode(d)
	return h
}

func TestReadOnlyModeWithoutQuorum(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, func(c *config.Config) { c.ReadOnlyModeEnabled = true })
	c, _ := connect(t, e.Addrs()...)
	if _, err := c.Create("/ro", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	l := e.Leader()
	survivor := (l + 1) % 3
	// The survivor must have the write before the others go.
	s, _ := connect(t, e.Addrs()[survivor])
	if _, err := s.Sync("/ro"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := range e.Servers {
		if i != survivor {
			e.Servers[i].Stop()
		}
	}
	addr := e.Addrs()[survivor]
	testwait.For(t, "read-only mode (isro = ro)", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		out, err := fourletter.Query(ctx, addr, "isro")
		return err == nil && strings.TrimSpace(out) == "ro"
	})
	if m := servertest.Mode(addr); m != "read-only" {
		t.Fatalf("srvr Mode = %q, want read-only", m)
	}
	rc, resp, err := dialReadOnly(t, addr)
	if err != nil {
		t.Fatalf("read-only connect: %v", err)
	}
	if !resp.ReadOnly || resp.SessionID == 0 {
		t.Fatalf("ConnectResponse %+v: want readOnly=true and a session", resp)
	}
	if h := rc.call(1, wire.OpGetData, &wire.PathWatchRequest{Path: "/ro"}); h.Err != wire.CodeOK {
		t.Fatalf("getData on a read-only server: %v", h.Err)
	}
	before, err := servertest.Mntr(addr)
	if err != nil {
		t.Fatal(err)
	}
	h := rc.call(2, wire.OpCreate, &wire.CreateRequest{Path: "/new", ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}})
	if h.Err != wire.CodeNotReadOnly {
		t.Fatalf("create on a read-only server: %v, want NOTREADONLY", h.Err)
	}
	if h := rc.call(3, wire.OpSync, &wire.PathRequest{Path: "/"}); h.Err != wire.CodeNotReadOnly {
		t.Fatalf("sync on a read-only server: %v, want NOTREADONLY", h.Err)
	}
	// A top-level check too (on a read-write server it closes the
	// connection as unimplemented).
	if h := rc.call(4, wire.OpCheck, &wire.PathVersionRequest{Path: "/ro", Version: 0}); h.Err != wire.CodeNotReadOnly {
		t.Fatalf("check on a read-only server: %v, want NOTREADONLY", h.Err)
	}
	// Apache's ReadOnlyRequestProcessor answers them itself: they count
	// in no latency, and cons still shows the getData as the session's
	// last operation.
	after, err := servertest.Mntr(addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"zk_cnt_updatelatency", "zk_cnt_readlatency"} {
		if before[k] != after[k] {
			t.Errorf("%s went from %s to %s with a refused create, sync and check", k, before[k], after[k])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := fourletter.Query(ctx, addr, "cons")
	if err != nil {
		t.Fatal(err)
	}
	sid := fmt.Sprintf("sid=0x%x", resp.SessionID)
	found := false
	for _, line := range strings.Split(cons, "\n") {
		if strings.Contains(line, sid) {
			found = true
			if !strings.Contains(line, "lop=GETD") || !strings.Contains(line, "lcxid=0x1,") {
				t.Errorf("cons after a getData (xid 1) and a refused create, sync and check: %s; want lop=GETD, lcxid=0x1", line)
			}
		}
	}
	if !found {
		t.Errorf("cons has no line for %s:\n%s", sid, cons)
	}
	// A client that does not allow read-only is refused.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rw := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	enc := wire.NewEncoder(make([]byte, 4, 64))
	(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true}).Encode(enc)
	rw.send(enc.Bytes())
	if _, err := rw.recv(); err == nil {
		t.Fatal("a read-write client got a session from a read-only server")
	}
}
