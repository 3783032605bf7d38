package quorumtest

import (
	"bufio"
	"net"
	"testing"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// dialSession opens a raw client connection to addr, resuming session id
// with passwd (0 and nil for a new session), and returns the answer.
func dialSession(t *testing.T, addr string, id int64, passwd []byte, timeoutMs int32) (*rawConn, wire.ConnectResponse) {
	t.Helper()
	return dialSeen(t, addr, id, passwd, timeoutMs, 0)
}

// dialSeen is dialSession for a client that has seen the txn lastZxid.
func dialSeen(t *testing.T, addr string, id int64, passwd []byte, timeoutMs int32, lastZxid int64) (*rawConn, wire.ConnectResponse) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	e := wire.NewEncoder(make([]byte, 4, 64))
	(&wire.ConnectRequest{LastZxidSeen: lastZxid, TimeOut: timeoutMs, SessionID: id, Passwd: passwd}).Encode(e)
	c.send(e.Bytes())
	d, err := c.recv()
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	var resp wire.ConnectResponse
	resp.Decode(d)
	return c, resp
}

// mntr returns one of addr's mntr values.
func mntr(t *testing.T, addr, key string) string {
	t.Helper()
	m, err := servertest.Mntr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return m[key]
}

// leaderZxid is the leader's last zxid, from srvr. A new leader's srvr
// shows its epoch's zxid 0 until it applies a txn of the epoch: tests
// compare after a first write of the epoch (firstWrite).
func leaderZxid(t *testing.T, e *servertest.Ensemble) int64 {
	t.Helper()
	return srvrZxid(t, e.Servers[e.Leader()].Addr())
}

// srvrZxid is the Zxid srvr prints on addr.
func srvrZxid(t *testing.T, addr string) int64 {
	t.Helper()
	st, err := servertest.Srvr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return st.Zxid
}

// waitZxid waits until the leader applied zxid want (the follower that
// answered may apply a commit before the leader does), failing if it
// passes it.
func waitZxid(t *testing.T, e *servertest.Ensemble, want int64, what string) {
	t.Helper()
	var z int64
	testwait.For(t, what, func() bool { z = leaderZxid(t, e); return z >= want })
	if z != want {
		t.Errorf("leader zxid 0x%x, want 0x%x: %s", z, want, what)
	}
}

// firstWrite makes the epoch's first txn through the leader.
func firstWrite(t *testing.T, e *servertest.Ensemble) {
	t.Helper()
	c, _ := dialSession(t, e.Servers[e.Leader()].Addr(), 0, nil, 4000)
	if h := c.call(1, wire.OpCreate, &wire.CreateRequest{Path: "/first", ACL: worldAll}); h.Err != wire.CodeOK {
		t.Fatalf("first write: %d", h.Err)
	}
	c.nc.Close()
}

// followerAndOther returns the index of a follower and of another member.
func followerAndOther(t *testing.T, e *servertest.Ensemble) (int, int) {
	t.Helper()
	l := e.Leader()
	if l < 0 {
		t.Fatal("no leader")
	}
	f := (l + 1) % len(e.Servers)
	return f, (f + 1) % len(e.Servers)
}

var worldAll = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// TestLocalSessions: with localSessionsEnabled a new session lives on the
// member it connected to (no createSession or closeSession txn), its
// writes replicate, it cannot create ephemerals, cannot move to another
// member, and expires on its member alone, as Apache's local sessions.
func TestLocalSessions(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.LocalSessionsEnabled = true
	}))
	f, other := followerAndOther(t, e)
	fAddr, otherAddr := e.Servers[f].Addr(), e.Servers[other].Addr()
	firstWrite(t, e)
	before := leaderZxid(t, e)

	c, resp := dialSession(t, fAddr, 0, nil, 4000)
	if resp.SessionID == 0 || resp.TimeOut == 0 {
		t.Fatalf("no session: %+v", resp)
	}
	if got := mntr(t, fAddr, "zk_local_sessions"); got != "1" {
		t.Errorf("zk_local_sessions on the member = %s, want 1", got)
	}
	if z := leaderZxid(t, e); z != before {
		t.Errorf("a local session took a txn: leader zxid 0x%x -> 0x%x", before, z)
	}

	// Its writes are forwarded and replicate.
	if h := c.call(1, wire.OpCreate, &wire.CreateRequest{Path: "/by-local", Data: []byte("x"), ACL: worldAll}); h.Err != wire.CodeOK {
		t.Fatalf("create through a local session: %d", h.Err)
	}
	w, _ := connect(t, otherAddr)
	if _, err := w.Sync("/by-local"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := w.Exists("/by-local"); err != nil || !ok {
		t.Fatalf("a local session's write is not on another member: %v %v", ok, err)
	}

	// No ephemerals without localSessionsUpgradingEnabled, in a create or
	// in a multi.
	if h := c.call(2, wire.OpCreate, &wire.CreateRequest{Path: "/eph", ACL: worldAll, Flags: wire.ModeEphemeral}); h.Err != wire.CodeEphemeralOnLocalSession {
		t.Errorf("ephemeral create on a local session: %d, want EPHEMERALONLOCALSESSION (-120)", h.Err)
	}
	multi := &wire.MultiRequest{Ops: []wire.Op{{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/eph-multi", ACL: worldAll, Flags: wire.ModeEphemeralSequential}}}}
	if h := c.call(3, wire.OpMulti, multi); h.Err != wire.CodeEphemeralOnLocalSession {
		t.Errorf("multi with an ephemeral create on a local session: %d, want -120", h.Err)
	}

	// It does not move: another member does not know it.
	_, moved := dialSession(t, otherAddr, resp.SessionID, resp.Passwd, 4000)
	if moved.TimeOut != 0 || moved.SessionID != 0 {
		t.Errorf("a local session resumed on another member: %+v", moved)
	}

	// It closes without a txn: one txn in all (the create).
	if h := c.call(4, wire.OpCloseSession, &wire.Empty{}); h.Err != wire.CodeOK {
		t.Errorf("closeSession: %d", h.Err)
	}
	testwait.For(t, "the local session to be gone", func() bool { return mntr(t, fAddr, "zk_local_sessions") == "0" })
	waitZxid(t, e, before+1, "one txn (the create)")

	// One that goes silent expires on its member.
	s2, resp2 := dialSession(t, fAddr, 0, nil, 400)
	if resp2.SessionID == 0 {
		t.Fatal("no second session")
	}
	s2.nc.Close()
	testwait.For(t, "the silent local session to expire", func() bool { return mntr(t, fAddr, "zk_local_sessions") == "0" })
	_, back := dialSession(t, fAddr, resp2.SessionID, resp2.Passwd, 400)
	if back.TimeOut != 0 {
		t.Errorf("an expired local session resumed: %+v", back)
	}
}

// TestLocalSessionUpgrade: with localSessionsUpgradingEnabled an
// ephemeral create makes the session global first; it can then move to
// another member, and its ephemeral goes when it closes.
func TestLocalSessionUpgrade(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.LocalSessionsEnabled = true
		c.LocalSessionsUpgradingEnabled = true
	}))
	f, other := followerAndOther(t, e)
	fAddr, otherAddr := e.Servers[f].Addr(), e.Servers[other].Addr()
	firstWrite(t, e)
	before := leaderZxid(t, e)
	c, resp := dialSession(t, fAddr, 0, nil, 4000)
	if h := c.call(1, wire.OpCreate, &wire.CreateRequest{Path: "/eph", Data: []byte("e"), ACL: worldAll, Flags: wire.ModeEphemeral}); h.Err != wire.CodeOK {
		t.Fatalf("ephemeral create with upgrading on: %d", h.Err)
	}
	waitZxid(t, e, before+2, "two txns (createSession, create)")
	if got := mntr(t, fAddr, "zk_local_sessions"); got != "0" {
		t.Errorf("zk_local_sessions after the upgrade = %s, want 0", got)
	}
	// A second ephemeral does not upgrade again.
	if h := c.call(2, wire.OpCreate, &wire.CreateRequest{Path: "/eph2", ACL: worldAll, Flags: wire.ModeEphemeral}); h.Err != wire.CodeOK {
		t.Fatalf("second ephemeral: %d", h.Err)
	}
	waitZxid(t, e, before+3, "three txns")

	// Global now: it resumes on another member, which sees its ephemeral.
	c.nc.Close()
	moved, r := dialSession(t, otherAddr, resp.SessionID, resp.Passwd, 4000)
	if r.TimeOut == 0 || r.SessionID != resp.SessionID {
		t.Fatalf("the upgraded session did not move: %+v", r)
	}
	w, _ := connect(t, otherAddr)
	if _, err := w.Sync("/eph"); err != nil {
		t.Fatal(err)
	}
	_, st, err := w.Get("/eph")
	if err != nil || st.EphemeralOwner != resp.SessionID {
		t.Fatalf("/eph on another member: owner 0x%x, %v; want 0x%x", st.EphemeralOwner, err, resp.SessionID)
	}
	// Closing it removes its ephemerals everywhere.
	if h := moved.call(3, wire.OpCloseSession, &wire.Empty{}); h.Err != wire.CodeOK {
		t.Fatalf("closeSession: %d", h.Err)
	}
	if _, err := w.Sync("/eph"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := w.Exists("/eph"); err != nil || ok {
		t.Errorf("/eph after its session closed: exists %v, %v", ok, err)
	}
}
