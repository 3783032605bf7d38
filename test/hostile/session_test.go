package hostile

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/wire"
)

// expired is Apache's answer to a re-attach with a wrong password or an
// unknown session (ZooKeeperServer.finishSessionInit with valid=false):
// ConnectResponse{timeOut 0, sessionId 0, passwd 16 zero bytes}, then the
// connection is closed.
func expectExpired(t *testing.T, c *raw, resp wire.ConnectResponse, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("re-attach: %v", err)
	}
	if resp.TimeOut != 0 || resp.SessionID != 0 || !bytes.Equal(resp.Passwd, make([]byte, 16)) {
		t.Fatalf("re-attach with a bad password answered %+v, want timeout 0, session 0, zero password", resp)
	}
	if frames := c.expectClosed(); len(frames) > 0 {
		t.Fatalf("%d frames after the expired answer", len(frames))
	}
}

// A client re-attaching to its own session with a wrong password gets the
// expired answer and is closed; the session itself is untouched.
func TestWrongPassword(t *testing.T) {
	e := start(t)
	a := e.session()
	if h, _ := a.call(wire.OpCreate, &wire.CreateRequest{Path: "/mine", Data: []byte("a"), ACL: worldACL, Flags: wire.ModeEphemeral}); h.Err != wire.CodeOK {
		t.Fatalf("create: %v", h.Err)
	}
	a.nc.Close()
	for i, pw := range [][]byte{make([]byte, 16), bytes.Repeat([]byte{0xff}, 16), a.passwd[:15], append(append([]byte(nil), a.passwd...), 0), nil} {
		c := e.dial()
		resp, err := c.connect(&wire.ConnectRequest{TimeOut: 4000, SessionID: a.session, Passwd: pw, HasReadOnly: true})
		expectExpired(t, c, resp, err)
		_ = i
	}
	// The right password still works, and the ephemeral is there.
	b := e.dial()
	resp, err := b.connect(&wire.ConnectRequest{TimeOut: 4000, SessionID: a.session, Passwd: a.passwd})
	if err != nil || resp.SessionID != a.session {
		t.Fatalf("re-attach with the right password: %+v %v", resp, err)
	}
	// Unknown session ids get the same answer.
	for _, id := range []int64{1, -1, a.session + 1000} {
		c := e.dial()
		resp, err := c.connect(&wire.ConnectRequest{TimeOut: 4000, SessionID: id, Passwd: make([]byte, 16)})
		expectExpired(t, c, resp, err)
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), "/mine": strp("a")})
}

// Another client takes the session id of a go-zookeeper client (visible
// to all as its ephemerals' ephemeralOwner) and tries passwords. As
// Apache 3.8 (processConnectRequest: closeSession(id, CLIENT_RECONNECT)
// before reopenSession checks the password), each attempt closes the
// owner's current connection, but the attacker gets the expired answer,
// the owner's client re-attaches with its password, its session and
// ephemeral survive, and the attacker can neither change nor delete the
// ephemeral (it and its parent carry the owner's digest ACL) nor end the
// owner's session.
func TestSessionHijack(t *testing.T) {
	e := start(t)
	owner, ev, err := zk.Connect([]string{e.addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	waitConnected(t, ev)
	if err := owner.AddAuth("digest", []byte("owner:secret")); err != nil {
		t.Fatal(err)
	}
	// Delete needs DELETE on the parent (Apache's PrepRequestProcessor):
	// the lock lives under a parent only its owner may change.
	ownerACL := append(zk.DigestACL(zk.PermAll, "owner", "secret"), zk.WorldACL(zk.PermRead)...)
	if _, err := owner.Create("/locks", nil, 0, ownerACL); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Create("/locks/l", []byte("held"), zk.FlagEphemeral, ownerACL); err != nil {
		t.Fatal(err)
	}
	_, st, err := e.by.Get("/locks/l")
	if err != nil || st.EphemeralOwner != owner.SessionID() {
		t.Fatalf("ephemeral owner %x (%v), want %x", st.EphemeralOwner, err, owner.SessionID())
	}
	victim := st.EphemeralOwner

	// The attacker's own session, to learn a real password of another id.
	mine := e.session()
	for _, pw := range [][]byte{make([]byte, 16), mine.passwd, bytes.Repeat([]byte("x"), 16)} {
		c := e.dial()
		resp, err := c.connect(&wire.ConnectRequest{TimeOut: 4000, SessionID: victim, Passwd: pw, HasReadOnly: true})
		expectExpired(t, c, resp, err)
	}
	// Apache closes the owner's connection on each attempt: its client
	// sees a disconnection (and then re-attaches).
	disconnected := false
	for deadline := time.After(ioTimeout); !disconnected; {
		select {
		case ev := <-ev:
			disconnected = ev.State == zk.StateDisconnected
		case <-deadline:
			t.Fatal("the owner's connection was not closed by the re-attach attempts")
		}
	}
	// The attacker's own session cannot touch the owner's ephemeral.
	if h, _ := mine.call(wire.OpSetData, &wire.SetDataRequest{Path: "/locks/l", Data: []byte("mine"), Version: -1}); h.Err != wire.CodeNoAuth {
		t.Fatalf("attacker setData on the ephemeral: %v, want NOAUTH", h.Err)
	}
	if h, _ := mine.call(wire.OpDelete, &wire.PathVersionRequest{Path: "/locks/l", Version: -1}); h.Err != wire.CodeNoAuth {
		t.Fatalf("attacker delete of the ephemeral: %v, want NOAUTH", h.Err)
	}
	// Ending its own session ends only its own.
	if h, _ := mine.call(wire.OpCloseSession, nil); h.Err != wire.CodeOK {
		t.Fatalf("closeSession: %v", h.Err)
	}
	// The owner's client re-attaches and keeps its session and lock.
	e.eventually("the owner writes again", func() bool {
		_, err := owner.Set("/locks/l", []byte("still"), -1)
		return err == nil
	})
	if owner.SessionID() != victim {
		t.Fatalf("owner's session changed from %x to %x", victim, owner.SessionID())
	}
	_, st, err = e.by.Get("/locks/l")
	if err != nil || st.EphemeralOwner != victim {
		t.Fatalf("ephemeral after the attack: owner %x (%v)", st.EphemeralOwner, err)
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), "/locks": strp(""), "/locks/l": strp("still")})
}

// Clients that vanish mid-request: a multi (create /v/i + setData of
// /counter) is sent and the socket closed at once, sometimes with the
// frame cut short, sometimes reset (linger 0). Each multi is applied
// exactly once or not at all: /counter's version equals the number of
// /v children, and a cut frame is never applied.
func TestVanishingClients(t *testing.T) {
	e := start(t)
	if _, err := e.by.Create("/v", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.by.Create("/counter", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	const rounds = 60
	var cut []string
	for i := range rounds {
		c := e.session()
		p := fmt.Sprintf("/v/%d", i)
		f := c.request(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: p, Data: []byte("x"), ACL: worldACL}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/counter", Data: []byte(p), Version: -1}},
		}})
		switch i % 3 {
		case 0: // whole frame, then close
			_ = c.write(f)
			c.nc.Close()
		case 1: // whole frame, then reset
			_ = c.write(f)
			_ = c.nc.(*net.TCPConn).SetLinger(0)
			c.nc.Close()
		case 2: // cut frame, then reset
			_ = c.write(f[:len(f)-1])
			_ = c.nc.(*net.TCPConn).SetLinger(0)
			c.nc.Close()
			cut = append(cut, p)
		}
	}
	e.check()
	var kids []string
	var st *zk.Stat
	e.eventually("the multis still in the pipeline are applied", func() bool {
		var err error
		kids, _, err = e.by.Children("/v")
		if err != nil {
			t.Fatal(err)
		}
		_, st, err = e.by.Get("/counter")
		if err != nil {
			t.Fatal(err)
		}
		return int(st.Version) == len(kids)
	})
	for _, p := range cut {
		if ok, _, _ := e.by.Exists(p); ok {
			t.Fatalf("%s was created from a cut frame", p)
		}
	}
	if len(kids) == 0 {
		t.Fatalf("no multi was applied: a complete frame sent before the close is a request")
	}
	changes := map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), "/v": strp(""), "/counter": nil}
	for _, k := range kids {
		changes["/v/"+k] = strp("x")
	}
	data, _, _ := e.by.Get("/counter")
	changes["/counter"] = strp(string(data))
	e.expectTree(changes)
}
