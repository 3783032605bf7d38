package integration

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// The ConnectResponse carries the readOnly byte only when the request did
// (ZooKeeperServer.processConnectRequest: clients before 3.4 omit it).
func TestHandshakeReadOnlyByte(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		name    string
		hasRO   bool
		wantLen int
	}{
		{"with readOnly", true, 4 + 4 + 8 + 4 + 16 + 1},
		{"without readOnly", false, 4 + 4 + 8 + 4 + 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			req := &wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: tc.hasRO}
			if err := c.writeFrame(wire.Marshal(req)); err != nil {
				t.Fatal(err)
			}
			f, err := c.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != tc.wantLen {
				t.Fatalf("ConnectResponse is %d bytes, want %d", len(f), tc.wantLen)
			}
			var resp wire.ConnectResponse
			if err := wire.Unmarshal(f, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.ProtocolVersion != 0 || resp.SessionID == 0 || len(resp.Passwd) != 16 || resp.ReadOnly {
				t.Fatalf("response %+v", resp)
			}
			c.SessionID = resp.SessionID
			// The session works.
			var st wire.StatResponse
			c.mustOK("exists /", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/"}, &st))
		})
	}
}

// The session timeout is clamped into [minSessionTimeout, maxSessionTimeout]
// = [2, 20] × tickTime (200 ms here).
func TestSessionTimeoutNegotiation(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct{ ask, want int32 }{
		{-5, 400}, {0, 400}, {1, 400}, {399, 400}, {400, 400}, {1000, 1000}, {4000, 4000}, {4001, 4000}, {100000, 4000},
	} {
		c := dialRaw(t, s.Addr())
		resp, err := c.handshake(&wire.ConnectRequest{TimeOut: tc.ask, Passwd: make([]byte, 16), HasReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if resp.TimeOut != tc.want {
			t.Errorf("asked %d ms: negotiated %d, want %d", tc.ask, resp.TimeOut, tc.want)
		}
		c.close()
	}
	// Explicit bounds from zoo.cfg are honoured too.
	s2 := newServer(t, servertest.WithConfig(func(c *config.Config) {
		c.MinSessionTimeout = time.Second
		c.MaxSessionTimeout = 3 * time.Second
	}))
	for _, tc := range []struct{ ask, want int32 }{{400, 1000}, {2000, 2000}, {4000, 3000}} {
		c := dialRaw(t, s2.Addr())
		resp, err := c.handshake(&wire.ConnectRequest{TimeOut: tc.ask, Passwd: make([]byte, 16), HasReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if resp.TimeOut != tc.want {
			t.Errorf("min 1000/max 3000, asked %d: negotiated %d, want %d", tc.ask, resp.TimeOut, tc.want)
		}
		c.close()
	}
}

func TestPingAndSync(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/p", nil, wire.ModePersistent)
	c.ping()
	// A ping sent with a normal xid is answered with xid -2 all the same.
	c.send(7, wire.OpPing, nil)
	h, d, err := c.recv(wire.XidPing)
	if err != nil || h.Err != wire.CodeOK || d.Remaining() != 0 {
		t.Fatalf("ping with xid 7: %+v %v", h, err)
	}
	var sr wire.PathResponse
	c.mustOK("sync", c.call(wire.OpSync, &wire.PathRequest{Path: "/p"}, &sr))
	if sr.Path != "/p" {
		t.Fatalf("sync path %q", sr.Path)
	}
}

// Reply headers carry the last processed zxid; reads do not advance it.
func TestReplyZxid(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	var cr wire.Create2Response
	c.mustOK("create2", c.call(wire.OpCreate2, &wire.CreateRequest{Path: "/z", ACL: openACL}, &cr))
	h, _ := c.callRaw(wire.OpGetData, &wire.PathWatchRequest{Path: "/z"})
	if h.Zxid != cr.Stat.Czxid {
		t.Fatalf("getData reply zxid 0x%x, want the last write's 0x%x", h.Zxid, cr.Stat.Czxid)
	}
}

func TestCreateVariantsReplies(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())

	// create (1): CreateResponse{path} only.
	h, body := c.callRaw(wire.OpCreate, &wire.CreateRequest{Path: "/c1", Data: []byte("x"), ACL: openACL})
	if h.Err != wire.CodeOK || !bytes.Equal(body, wire.Marshal(&wire.CreateResponse{Path: "/c1"})) {
		t.Fatalf("create reply %+v %x", h, body)
	}
	// create2 (15): path + Stat.
	var r2 wire.Create2Response
	c.mustOK("create2", c.call(wire.OpCreate2, &wire.CreateRequest{Path: "/c2", Data: []byte("xyz"), ACL: openACL}, &r2))
	if r2.Path != "/c2" || r2.Stat.DataLength != 3 || r2.Stat.Czxid == 0 || r2.Stat.Czxid != r2.Stat.Mzxid || r2.Stat.Pzxid != r2.Stat.Czxid {
		t.Fatalf("create2 reply %+v", r2)
	}
	// createContainer (19): Create2Response, ephemeralOwner hidden (0).
	var rc wire.Create2Response
	c.mustOK("createContainer", c.call(wire.OpCreateContainer, &wire.CreateRequest{Path: "/cc", ACL: openACL, Flags: wire.ModeContainer}, &rc))
	if rc.Path != "/cc" || rc.Stat.EphemeralOwner != 0 {
		t.Fatalf("createContainer reply %+v", rc)
	}
	// createContainer with a non-container mode is BadArguments.
	// createContainer with another mode creates a node of that mode.
	c.mustOK("createContainer flags 0", c.call(wire.OpCreateContainer, &wire.CreateRequest{Path: "/cc2", ACL: openACL, Flags: wire.ModePersistent}, &rc))
	if rc.Path != "/cc2" || rc.Stat.EphemeralOwner != 0 {
		t.Fatalf("createContainer flags 0 reply %+v", rc)
	}
	// createTTL (21): Create2Response, ephemeralOwner hidden (0).
	var rt wire.Create2Response
	c.mustOK("createTTL", c.call(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl", ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 100000}, &rt))
	if rt.Path != "/ttl" || rt.Stat.EphemeralOwner != 0 {
		t.Fatalf("createTTL reply %+v", rt)
	}
	c.mustOK("createTTL sequential", c.call(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl-", ACL: openACL, Flags: wire.ModePersistentSequentialWithTTL, TTL: 100000}, &rt))
	if rt.Path != "/ttl-0000000005" {
		// Five creates under / before (c1, c2, cc, cc2, ttl); /zookeeper
		// is built in and not counted.
		t.Fatalf("sequential TTL path %q", rt.Path)
	}
	for _, tc := range []struct {
		name string
		req  wire.CreateTTLRequest
	}{
		{"ttl 0", wire.CreateTTLRequest{Path: "/t0", ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 0}},
		{"ttl negative", wire.CreateTTLRequest{Path: "/t0", ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: -5}},
		{"ttl over 40 bits", wire.CreateTTLRequest{Path: "/t0", ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 0xFFFFFFFFFF + 1}},
		{"ephemeral with ttl", wire.CreateTTLRequest{Path: "/t0", ACL: openACL, Flags: wire.ModeEphemeral, TTL: 1000}},
		{"persistent with ttl opcode", wire.CreateTTLRequest{Path: "/t0", ACL: openACL, Flags: wire.ModePersistent, TTL: 1000}},
		{"container with ttl opcode", wire.CreateTTLRequest{Path: "/t0", ACL: openACL, Flags: wire.ModeContainer, TTL: 1000}},
	} {
		wantCode(t, tc.name, c.call(wire.OpCreateTTL, &tc.req, nil), wire.CodeBadArguments)
	}
	// A TTL mode through plain create is BadArguments too.
	wantCode(t, "create with TTL mode", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/t1", ACL: openACL, Flags: wire.ModePersistentWithTTL}, nil), wire.CodeBadArguments)
	// Unknown create mode.
	wantCode(t, "create mode 7", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/t1", ACL: openACL, Flags: 7}, nil), wire.CodeBadArguments)
	wantCode(t, "create mode -1", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/t1", ACL: openACL, Flags: -1}, nil), wire.CodeBadArguments)
}

// With extendedTypesEnabled=false TTL creates are UNIMPLEMENTED
// (PrepRequestProcessor.validateCreateRequest); containers still work.
func TestExtendedTypesDisabled(t *testing.T) {
	s := newServer(t, servertest.WithConfig(func(c *config.Config) { c.ExtendedTypesEnabled = false }))
	c := rawSession(t, s.Addr())
	wantCode(t, "createTTL", c.call(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl", ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 1000}, nil), wire.CodeUnimplemented)
	wantCode(t, "createTTL sequential", c.call(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl", ACL: openACL, Flags: wire.ModePersistentSequentialWithTTL, TTL: 1000}, nil), wire.CodeUnimplemented)
	c.mustOK("createContainer", c.call(wire.OpCreateContainer, &wire.CreateRequest{Path: "/cc", ACL: openACL, Flags: wire.ModeContainer}, &wire.Create2Response{}))
	// The connection survives.
	c.stat("/cc")
}

func TestPathValidation(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/a", nil, wire.ModePersistent)
	// "/a\U0001F600": outside the BMP, a surrogate pair to Java's
	// validatePath, which refuses it (zkgo took it until 2026-11-27).
	bad := []string{"", "a", "/a/", "//a", "/a/.", "/a/..", "/a\x00b", "/a\x01", "/a\u007f", "/a\u0085", "/a\xed\xa0\x80", "/a\uf000", "/a\ufff0",
		"/a\U0001F600"}
	for _, p := range bad {
		wantCode(t, "create "+p, c.call(wire.OpCreate, &wire.CreateRequest{Path: p, ACL: openACL}, nil), wire.CodeBadArguments)
	}
	// Letters of the BMP beyond ASCII are fine.
	c.mustOK("create /é中", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/é中", ACL: openACL}, nil))
	// Observed on Apache 3.8.0: writes validate the path (delete only the
	// parent part, then NoNode); reads never validate, and the empty path
	// names the root (DataTree keys the root as "" too).
	const badArgs, nonode, ok = wire.CodeBadArguments, wire.CodeNoNode, wire.CodeOK
	for _, tc := range []struct {
		path                                                          string
		setData, delete, setACL, getData, exists, getChildren, getACL wire.Code
	}{
		{"", badArgs, badArgs, badArgs, ok, ok, ok, ok},
		{"a", badArgs, badArgs, badArgs, nonode, nonode, nonode, nonode},
		{"/a/", badArgs, nonode, badArgs, nonode, nonode, nonode, nonode},
		{"//a", badArgs, nonode, badArgs, nonode, nonode, nonode, nonode},
		{"/a/.", badArgs, nonode, badArgs, nonode, nonode, nonode, nonode},
		{"/x/", badArgs, nonode, badArgs, nonode, nonode, nonode, nonode},
		{"/a//b", badArgs, nonode, badArgs, nonode, nonode, nonode, nonode},
	} {
		p := tc.path
		wantCode(t, "setData "+p, c.call(wire.OpSetData, &wire.SetDataRequest{Path: p, Version: -1}, nil), tc.setData)
		wantCode(t, "delete "+p, c.call(wire.OpDelete, &wire.PathVersionRequest{Path: p, Version: -1}, nil), tc.delete)
		wantCode(t, "setACL "+p, c.call(wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: openACL, Version: -1}, nil), tc.setACL)
		wantCode(t, "getData "+p, c.call(wire.OpGetData, &wire.PathWatchRequest{Path: p}, nil), tc.getData)
		wantCode(t, "exists "+p, c.call(wire.OpExists, &wire.PathWatchRequest{Path: p}, nil), tc.exists)
		wantCode(t, "getChildren "+p, c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: p}, nil), tc.getChildren)
		wantCode(t, "getACL "+p, c.call(wire.OpGetACL, &wire.PathRequest{Path: p}, nil), tc.getACL)
	}
	// Deleting the reserved nodes is BadArguments.
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		wantCode(t, "delete "+p, c.call(wire.OpDelete, &wire.PathVersionRequest{Path: p, Version: -1}, nil), wire.CodeBadArguments)
	}
	// Sequential suffix makes a trailing-slash path valid: "/a/" + 0000000000.
	var cr wire.CreateResponse
	c.mustOK("sequential under /a/", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/a/", ACL: openACL, Flags: wire.ModePersistentSequential}, &cr))
	if cr.Path != "/a/0000000000" {
		t.Fatalf("sequential create /a/ gave %q", cr.Path)
	}
	// The connection is still fine after all those errors.
	c.stat("/a")
}

func TestReservedNodes(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	var ch wire.ChildrenResponse
	c.mustOK("getChildren /zookeeper", c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: "/zookeeper"}, &ch))
	sort.Strings(ch.Children)
	if len(ch.Children) != 2 || ch.Children[0] != "config" || ch.Children[1] != "quota" {
		t.Fatalf("/zookeeper children %v", ch.Children)
	}
	// /zookeeper/config is world:anyone READ only.
	var acl wire.GetACLResponse
	c.mustOK("getACL /zookeeper/config", c.call(wire.OpGetACL, &wire.PathRequest{Path: "/zookeeper/config"}, &acl))
	if len(acl.ACL) != 1 || acl.ACL[0] != (wire.ACL{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}}) {
		t.Fatalf("/zookeeper/config ACL %+v", acl.ACL)
	}
	wantCode(t, "setData /zookeeper/config", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/zookeeper/config", Data: []byte("x"), Version: -1}, nil), wire.CodeNoAuth)
	// getConfig is getData("/zookeeper/config"); standalone it is empty.
	var gd wire.GetDataResponse
	c.mustOK("getData /zookeeper/config", c.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/zookeeper/config"}, &gd))
	if gd.Stat.DataLength != int32(len(gd.Data)) {
		t.Fatalf("config dataLength %d, data %d bytes", gd.Stat.DataLength, len(gd.Data))
	}
	// Creating under /zookeeper is allowed.
	c.create("/zookeeper/mine", nil, wire.ModePersistent)
	// The root's Stat: czxid 0. The built-in nodes were added without
	// bumping the parents' stored cversion, so clients see 2*0-1 = -1 for
	// / and 2*1-3 = -1 for /zookeeper now (DataNode.copyStat).
	st := c.stat("/")
	if st.Czxid != 0 || st.EphemeralOwner != 0 || st.Cversion != -1 || st.NumChildren != 1 {
		t.Fatalf("root stat %+v", st)
	}
	if st := c.stat("/zookeeper"); st.Cversion != -1 || st.NumChildren != 3 {
		t.Fatalf("/zookeeper stat %+v", st)
	}
}

func TestGetEphemerals(t *testing.T) {
	s := newServer(t)
	a := rawSession(t, s.Addr())
	b := rawSession(t, s.Addr())
	a.create("/e", nil, wire.ModePersistent)
	a.create("/e/a1", nil, wire.ModeEphemeral)
	a.create("/e/a2", nil, wire.ModeEphemeral)
	a.create("/f", nil, wire.ModeEphemeral)
	b.create("/e/b1", nil, wire.ModeEphemeral)
	a.create("/e/p", nil, wire.ModePersistent)
	get := func(c *rawConn, prefix string) []string {
		var r wire.ChildrenResponse
		c.mustOK("getEphemerals "+prefix, c.call(wire.OpGetEphemerals, &wire.PathRequest{Path: prefix}, &r))
		sort.Strings(r.Children)
		return r.Children
	}
	for _, tc := range []struct {
		c      *rawConn
		prefix string
		want   []string
	}{
		{a, "/", []string{"/e/a1", "/e/a2", "/f"}},
		{a, "", []string{"/e/a1", "/e/a2", "/f"}},
		{a, "/e", []string{"/e/a1", "/e/a2"}},
		{a, "/e/a1", []string{"/e/a1"}},
		{a, "/x", []string{}},
		{b, "/", []string{"/e/b1"}},
	} {
		got := get(tc.c, tc.prefix)
		if len(got) != len(tc.want) {
			t.Errorf("getEphemerals %q = %v, want %v", tc.prefix, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("getEphemerals %q = %v, want %v", tc.prefix, got, tc.want)
				break
			}
		}
	}
}

func TestGetAllChildrenNumber(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/n", nil, wire.ModePersistent)
	c.create("/n/a", nil, wire.ModePersistent)
	c.create("/n/a/b", nil, wire.ModePersistent)
	c.create("/n/a/b/c", nil, wire.ModePersistent)
	c.create("/n/d", nil, wire.ModeEphemeral)
	count := func(p string) int32 {
		var r wire.CountResponse
		c.mustOK("getAllChildrenNumber "+p, c.call(wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: p}, &r))
		return r.Total
	}
	if got := count("/n"); got != 4 {
		t.Errorf("/n: %d, want 4", got)
	}
	if got := count("/n/a/b/c"); got != 0 {
		t.Errorf("leaf: %d, want 0", got)
	}
	// From the root: /zookeeper, /zookeeper/config, /zookeeper/quota and the five above.
	if got := count("/"); got != 8 {
		t.Errorf("/: %d, want 8", got)
	}
	wantCode(t, "missing", c.call(wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: "/missing"}, nil), wire.CodeNoNode)
}

func TestWhoAmI(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	var r wire.WhoAmIResponse
	c.mustOK("whoAmI", c.call(wire.OpWhoAmI, nil, &r))
	if len(r.Infos) != 1 || r.Infos[0] != (wire.ID{Scheme: "ip", ID: "127.0.0.1"}) {
		t.Fatalf("whoAmI before auth: %+v", r.Infos)
	}
	h, _, err := c.authRaw("digest", "user1:12345")
	if err != nil || h.Err != wire.CodeOK {
		t.Fatalf("addauth: %+v %v", h, err)
	}
	r = wire.WhoAmIResponse{}
	c.mustOK("whoAmI", c.call(wire.OpWhoAmI, nil, &r))
	want := map[wire.ID]bool{{Scheme: "ip", ID: "127.0.0.1"}: true, {Scheme: "digest", ID: "user1"}: true}
	if len(r.Infos) != 2 || !want[r.Infos[0]] || !want[r.Infos[1]] {
		t.Fatalf("whoAmI after addauth digest user1:12345: %+v, want ip 127.0.0.1 and digest user1", r.Infos)
	}
}

// authRaw sends an auth packet (xid -4) and reads its reply.
func (c *rawConn) authRaw(scheme, cred string) (wire.ReplyHeader, *wire.Decoder, error) {
	c.t.Helper()
	xid := c.send(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: scheme, Auth: []byte(cred)})
	return c.recv(xid)
}

// A top-level check (13) is valid only inside multi. Apache 3.8.0 never
// answers it (observed: no reply, the connection stalls until the session
// expires); zkgo answers UNIMPLEMENTED and closes the connection, as Apache
// does for unknown opcodes (UnimplementedRequestProcessor).
func TestTopLevelCheck(t *testing.T) {
	if apacheMode() {
		t.Skip("Apache 3.8.0 leaves a top-level check unanswered")
	}
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/chk", nil, wire.ModePersistent)
	xid := c.send(0, wire.OpCheck, &wire.PathVersionRequest{Path: "/chk", Version: 0})
	h, _, err := c.recv(xid)
	if err != nil {
		t.Fatalf("no reply to a top-level check: %v", err)
	}
	wantCode(t, "top-level check", h.Err, wire.CodeUnimplemented)
	c.expectClosed()
	// The session survives.
	c2, resp := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	if resp.SessionID != c.SessionID {
		t.Fatalf("session lost after top-level check: %+v", resp)
	}
	c2.stat("/chk")
}

// Unknown opcodes: UNIMPLEMENTED and the connection is closed
// (UnimplementedRequestProcessor); the server goes on serving.
func TestUnknownOpcode(t *testing.T) {
	s := newServer(t)
	for _, op := range []int32{10, 23, 99, 108, 1000, -3, -12} {
		c := rawSession(t, s.Addr())
		xid := c.send(0, op, &wire.PathRequest{Path: "/"})
		h, _, err := c.recv(xid)
		if err != nil {
			t.Fatalf("op %d: no reply: %v", op, err)
		}
		wantCode(t, "unknown op", h.Err, wire.CodeUnimplemented)
		c.expectClosed()
	}
	c := rawSession(t, s.Addr())
	c.stat("/")
}

// reconfig on a standalone server without reconfigEnabled: ReconfigDisabled.
func TestReconfigStandalone(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	code := c.call(wire.OpReconfig, &wire.ReconfigRequest{JoiningServers: "server.2=127.0.0.1:2888:3888;2181", CurConfigID: -1}, nil)
	wantCode(t, "reconfig", code, wire.CodeReconfigDisabled)
	c.stat("/")
}

func TestMultiRead(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/mr", []byte("d"), wire.ModePersistent)
	c.create("/mr/x", nil, wire.ModePersistent)
	var resp wire.MultiResponse
	c.mustOK("multiRead", c.call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/mr"}},
		{Type: wire.OpGetChildren, Req: &wire.PathWatchRequest{Path: "/mr"}},
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/missing"}},
		{Type: wire.OpGetChildren, Req: &wire.PathWatchRequest{Path: "/mr/x"}},
	}}, &resp))
	if len(resp.Results) != 4 {
		t.Fatalf("multiRead: %d results", len(resp.Results))
	}
	r0, ok := resp.Results[0].Resp.(*wire.GetDataResponse)
	if resp.Results[0].Type != wire.OpGetData || !ok || string(r0.Data) != "d" || r0.Stat.NumChildren != 1 {
		t.Fatalf("result 0 %+v", resp.Results[0])
	}
	r1, ok := resp.Results[1].Resp.(*wire.ChildrenResponse)
	if resp.Results[1].Type != wire.OpGetChildren || !ok || len(r1.Children) != 1 || r1.Children[0] != "x" {
		t.Fatalf("result 1 %+v", resp.Results[1])
	}
	// Not atomic: a failing op is an error result and the others still answer.
	if resp.Results[2].Type != wire.OpError || resp.Results[2].Err != wire.CodeNoNode {
		t.Fatalf("result 2 %+v", resp.Results[2])
	}
	r3, ok := resp.Results[3].Resp.(*wire.ChildrenResponse)
	if resp.Results[3].Type != wire.OpGetChildren || !ok || len(r3.Children) != 0 {
		t.Fatalf("result 3 %+v", resp.Results[3])
	}
	// An empty multiRead answers an empty result list.
	resp = wire.MultiResponse{}
	c.mustOK("empty multiRead", c.call(wire.OpMultiRead, &wire.MultiRequest{}, &resp))
	if len(resp.Results) != 0 {
		t.Fatalf("empty multiRead: %+v", resp.Results)
	}
}

// SASL (102) on a server without a SASL login: OK with a null token, the
// connection stays, nothing is authenticated (observed on Apache 3.8.0).
func TestSASLWithoutLogin(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	h, body := c.callRaw(wire.OpSASL, &wire.SASLToken{Token: []byte("token")})
	if h.Err != wire.CodeOK || !bytes.Equal(body, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("sasl reply %+v body %x, want OK and a null token", h, body)
	}
	var r wire.WhoAmIResponse
	c.mustOK("whoAmI", c.call(wire.OpWhoAmI, nil, &r))
	if len(r.Infos) != 1 || r.Infos[0].Scheme != "ip" {
		t.Fatalf("whoAmI after sasl: %+v", r.Infos)
	}
}

// A request body that does not decode: MARSHALLINGERROR, the connection
// stays. A malformed write is an error txn in Apache and takes a zxid
// (observed on 3.8.0); a malformed read does not.
func TestMalformedBody(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/a", nil, wire.ModePersistent)
	before := c.zxid()
	truncated := rawRecord([]byte{0, 0, 0, 2, '/', 'a'}) // a path, then nothing
	wantCode(t, "truncated getData", c.call(wire.OpGetData, truncated, nil), wire.CodeMarshallingError)
	if c.zxid() != before {
		t.Fatalf("malformed read moved the zxid")
	}
	wantCode(t, "truncated create", c.call(wire.OpCreate, truncated, nil), wire.CodeMarshallingError)
	wantCode(t, "lying string length", c.call(wire.OpSetData, rawRecord([]byte{0x7f, 0, 0, 0, '/'}), nil), wire.CodeMarshallingError)
	c.stat("/a")
	if c.zxid() != before+2 {
		t.Fatalf("two malformed writes: zxid 0x%x -> 0x%x, want +2", before, c.zxid())
	}
}

// The Java client queues its auth and setWatches packets right behind the
// ConnectRequest without waiting for the ConnectResponse: a server must
// take frames that arrive before the session exists, and answer in order.
func TestPipelinedHandshake(t *testing.T) {
	s := newServer(t)
	c := dialRaw(t, s.Addr())
	frame := func(payload []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
	}
	req := func(xid, op int32, body wire.Record) []byte {
		e := wire.NewEncoder(nil)
		(&wire.RequestHeader{Xid: xid, Type: op}).Encode(e)
		if body != nil {
			body.Encode(e)
		}
		return frame(e.Bytes())
	}
	var all []byte
	all = append(all, frame(wire.Marshal(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true}))...)
	all = append(all, req(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("user1:12345")})...)
	all = append(all, req(wire.XidSetWatches, wire.OpSetWatches, &wire.SetWatches{DataWatches: []string{"/nope"}, ExistWatches: []string{}, ChildWatches: []string{}})...)
	all = append(all, req(1, wire.OpCreate, &wire.CreateRequest{Path: "/p", ACL: digestACL(wire.PermAll)})...)
	all = append(all, req(2, wire.OpGetData, &wire.PathWatchRequest{Path: "/p"})...)
	if _, err := c.nc.Write(all); err != nil {
		t.Fatal(err)
	}
	f, err := c.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(f, &resp); err != nil || resp.SessionID == 0 {
		t.Fatalf("ConnectResponse %+v %v", resp, err)
	}
	c.SessionID, c.Passwd = resp.SessionID, resp.Passwd
	// setWatches for a missing node: a data watch there fires NodeDeleted.
	for _, xid := range []int32{wire.XidAuth, wire.XidSetWatches, 1, 2} {
		h, _, err := c.recv(xid)
		if err != nil || h.Err != wire.CodeOK {
			t.Fatalf("reply to xid %d: %+v %v", xid, h, err)
		}
	}
	if len(c.events) != 1 || c.events[0] != event(wire.EventNodeDeleted, "/nope") {
		t.Fatalf("events %+v", c.events)
	}
}

// /zookeeper/config is created with aversion -1, and / and /zookeeper
// carry the client-visible cversions of their built-in children (observed
// on Apache 3.8.0: / -1, /zookeeper -2 on a fresh server).
func TestBuiltinNodeStats(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	if st := c.stat("/zookeeper"); st.Cversion != -2 || st.NumChildren != 2 || st.Czxid != 0 {
		t.Fatalf("/zookeeper stat %+v", st)
	}
	if st := c.stat("/zookeeper/quota"); st.Czxid != 0 || st.Aversion != 0 {
		t.Fatalf("/zookeeper/quota stat %+v", st)
	}
	if st := c.stat("/zookeeper/config"); st.Aversion != -1 || st.Czxid != 0 || st.DataLength != 0 {
		t.Fatalf("/zookeeper/config stat %+v", st)
	}
}

// zkgo answers getChildren, getChildren2 and a multiRead's getChildren
// with the names sorted (Apache gives its hash set's order; clients that
// need an order sort, so sorted is one of the orders they accept). The
// server sorts after giving up the tree's lock, so a large list must still
// arrive sorted.
func TestChildrenSorted(t *testing.T) {
	zkgoOnly(t) // Apache's order is its hash set's
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/kids", nil, wire.ModePersistent)
	var want []string
	for i := range 300 {
		name := fmt.Sprintf("k%03d", (i*7)%300)
		c.create("/kids/"+name, nil, wire.ModePersistent)
		want = append(want, name)
	}
	sort.Strings(want)
	check := func(what string, got []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d children, sorted %v; want the %d names sorted", what, len(got), slices.IsSorted(got), len(want))
		}
	}
	var ch wire.ChildrenResponse
	c.mustOK("getChildren", c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: "/kids"}, &ch))
	check("getChildren", ch.Children)
	var ch2 wire.Children2Response
	c.mustOK("getChildren2", c.call(wire.OpGetChildren2, &wire.PathWatchRequest{Path: "/kids"}, &ch2))
	check("getChildren2", ch2.Children)
	var mr wire.MultiResponse
	c.mustOK("multiRead", c.call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpGetChildren, Req: &wire.PathWatchRequest{Path: "/kids"}},
	}}, &mr))
	if len(mr.Results) != 1 {
		t.Fatalf("multiRead: %+v", mr.Results)
	}
	cr, ok := mr.Results[0].Resp.(*wire.ChildrenResponse)
	if !ok {
		t.Fatalf("multiRead result %+v", mr.Results[0])
	}
	check("multiRead getChildren", cr.Children)
}
