package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// user1Digest is Apache's digest of user1:12345 (zookeeperProgrammers.md).
const user1Digest = "user1:+owfoSBn/am19roBPzR1/MfCblE="

func digestACL(perms int32) []wire.ACL {
	return []wire.ACL{{Perms: perms, ID: wire.ID{Scheme: "digest", ID: user1Digest}}}
}

func (c *rawConn) addAuth(scheme, cred string) {
	c.t.Helper()
	h, _, err := c.authRaw(scheme, cred)
	if err != nil || h.Err != wire.CodeOK {
		c.t.Fatalf("addauth %s %s: %+v %v", scheme, cred, h, err)
	}
}

func TestDigestACL(t *testing.T) {
	s := newServer(t)
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "user1:12345")
	owner.mustOK("create", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/sec", Data: []byte("s"), ACL: digestACL(wire.PermAll)}, nil))
	owner.mustOK("create kid", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/sec/kid", ACL: digestACL(wire.PermAll)}, nil))
	owner.getData("/sec")

	other := rawSession(t, s.Addr())
	const noAuth = wire.CodeNoAuth
	for _, tc := range []struct {
		name string
		op   int32
		body wire.Record
		want wire.Code
	}{
		{"getData", wire.OpGetData, &wire.PathWatchRequest{Path: "/sec"}, noAuth},
		{"getChildren", wire.OpGetChildren, &wire.PathWatchRequest{Path: "/sec"}, noAuth},
		{"getChildren2", wire.OpGetChildren2, &wire.PathWatchRequest{Path: "/sec"}, noAuth},
		{"getACL without READ or ADMIN", wire.OpGetACL, &wire.PathRequest{Path: "/sec"}, noAuth},
		{"getAllChildrenNumber", wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: "/sec"}, noAuth},
		{"setData", wire.OpSetData, &wire.SetDataRequest{Path: "/sec", Version: -1}, noAuth},
		// Permission before version: NoAuth even with a wrong version.
		{"setData bad version", wire.OpSetData, &wire.SetDataRequest{Path: "/sec", Version: 42}, noAuth},
		{"setACL bad version", wire.OpSetACL, &wire.SetACLRequest{Path: "/sec", ACL: openACL, Version: 42}, noAuth},
		// CREATE on the parent is checked before NODEEXISTS.
		{"create existing", wire.OpCreate, &wire.CreateRequest{Path: "/sec/kid", ACL: openACL}, noAuth},
		{"create new", wire.OpCreate, &wire.CreateRequest{Path: "/sec/new", ACL: openACL}, noAuth},
		// DELETE is checked on the parent, before the child's existence.
		{"delete child", wire.OpDelete, &wire.PathVersionRequest{Path: "/sec/kid", Version: -1}, noAuth},
		{"delete missing child", wire.OpDelete, &wire.PathVersionRequest{Path: "/sec/nope", Version: -1}, noAuth},
		// exists checks READ since 3.8.4 (TestExistsNeedsRead), sync nothing.
		{"sync", wire.OpSync, &wire.PathRequest{Path: "/sec"}, wire.CodeOK},
	} {
		wantCode(t, tc.name, other.call(tc.op, tc.body, nil), tc.want)
	}
	// check inside multi needs READ.
	var mr wire.MultiResponse
	other.mustOK("multi", other.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/sec", Version: -1}},
	}}, &mr))
	if len(mr.Results) != 1 || mr.Results[0].Err != noAuth {
		t.Fatalf("check in multi: %+v", mr.Results)
	}
	// multiRead reports NoAuth per op.
	mr = wire.MultiResponse{}
	other.mustOK("multiRead", other.call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/sec"}},
		{Type: wire.OpGetChildren, Req: &wire.PathWatchRequest{Path: "/"}},
	}}, &mr))
	if len(mr.Results) != 2 || mr.Results[0].Type != wire.OpError || mr.Results[0].Err != noAuth || mr.Results[1].Type != wire.OpGetChildren {
		t.Fatalf("multiRead: %+v", mr.Results)
	}
	// A wrong password is not an error: it adds an identity that matches nothing.
	other.addAuth("digest", "user1:wrong")
	wantCode(t, "getData with the wrong password", other.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/sec"}, nil), noAuth)
	// The right one grants access.
	other.addAuth("digest", "user1:12345")
	other.getData("/sec")
	// The parent of /sec is open: deleting the leaf needs DELETE on /sec,
	// which now matches; deleting /sec itself needs DELETE on / (open).
	other.delete("/sec/kid")
	anon := rawSession(t, s.Addr())
	anon.delete("/sec")
}

// delete needs DELETE on the parent only: an unauthenticated session may
// delete a digest-protected leaf under an open parent.
func TestDeleteProtectedLeaf(t *testing.T) {
	s := newServer(t)
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "user1:12345")
	owner.mustOK("create", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/leaf", ACL: digestACL(wire.PermAll)}, nil))
	anon := rawSession(t, s.Addr())
	anon.delete("/leaf")
}

func TestAuthSchemeACL(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	creatorAll := []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}}}
	wantCode(t, "auth ACL without any auth", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/a", ACL: creatorAll}, nil), wire.CodeInvalidACL)
	c.addAuth("digest", "user1:12345")
	c.mustOK("create with auth ACL", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/a", ACL: creatorAll}, nil))
	var r wire.GetACLResponse
	c.mustOK("getACL", c.call(wire.OpGetACL, &wire.PathRequest{Path: "/a"}, &r))
	if len(r.ACL) != 1 || r.ACL[0] != digestACL(wire.PermAll)[0] {
		t.Fatalf("auth ACL became %+v, want %+v", r.ACL, digestACL(wire.PermAll))
	}
	// The id part of an auth ACL is ignored.
	c.mustOK("create with auth:whatever", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/b",
		ACL: []wire.ACL{{Perms: wire.PermRead | wire.PermAdmin, ID: wire.ID{Scheme: "auth", ID: "whatever"}}}}, nil))
	c.mustOK("getACL", c.call(wire.OpGetACL, &wire.PathRequest{Path: "/b"}, &r))
	if len(r.ACL) != 1 || r.ACL[0] != digestACL(wire.PermRead | wire.PermAdmin)[0] {
		t.Fatalf("auth:whatever became %+v", r.ACL)
	}
	// setACL with the auth scheme expands too, and bumps aversion.
	var sr wire.StatResponse
	c.mustOK("setACL auth", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/b", ACL: creatorAll, Version: 0}, &sr))
	if sr.Stat.Aversion != 1 {
		t.Fatalf("aversion %d", sr.Stat.Aversion)
	}
}

func TestInvalidACL(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/n", nil, wire.ModePersistent)
	for _, tc := range []struct {
		name string
		acl  []wire.ACL
	}{
		{"null list", nil},
		{"empty list", []wire.ACL{}},
		{"world:someone", []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "someone"}}}},
		{"unknown scheme", []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "foo", ID: "bar"}}}},
		{"bad ip", []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "not-an-ip"}}}},
		{"digest without colon", []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: "user1"}}}},
		{"auth without auth", []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}}}},
		{"one bad among good", append([]wire.ACL{openACL[0]}, wire.ACL{Perms: wire.PermAll, ID: wire.ID{Scheme: "foo", ID: "x"}})},
	} {
		wantCode(t, "create "+tc.name, c.call(wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: tc.acl}, nil), wire.CodeInvalidACL)
		wantCode(t, "setACL "+tc.name, c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/n", ACL: tc.acl, Version: -1}, nil), wire.CodeInvalidACL)
	}
	wantCode(t, "nothing created", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/x"}, nil), wire.CodeNoNode)
	// Valid forms.
	for i, a := range []wire.ACL{
		{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "127.0.0.1"}},
		{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "10.0.0.0/8"}},
		{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: user1Digest}},
	} {
		p := "/ok" + string(rune('a'+i))
		c.mustOK("create "+a.ID.Scheme+":"+a.ID.ID, c.call(wire.OpCreate, &wire.CreateRequest{Path: p, ACL: []wire.ACL{a}}, nil))
	}
}

func TestIPACL(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	ipACL := func(id string, perms int32) []wire.ACL {
		return []wire.ACL{{Perms: perms, ID: wire.ID{Scheme: "ip", ID: id}}}
	}
	c.mustOK("create local", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/local", ACL: ipACL("127.0.0.1", wire.PermAll)}, nil))
	c.mustOK("create net", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/net", ACL: ipACL("127.0.0.0/8", wire.PermRead)}, nil))
	c.mustOK("create far", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/far", ACL: ipACL("10.1.2.3", wire.PermAll)}, nil))
	c.mustOK("create farnet", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/farnet", ACL: ipACL("192.168.0.0/16", wire.PermAll)}, nil))
	c.getData("/local")
	c.setData("/local", "x")
	c.getData("/net")
	wantCode(t, "write /net (READ only)", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/net", Version: -1}, nil), wire.CodeNoAuth)
	wantCode(t, "read /far", c.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/far"}, nil), wire.CodeNoAuth)
	wantCode(t, "read /farnet", c.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/farnet"}, nil), wire.CodeNoAuth)
}

// The super digest (DigestAuthenticationProvider.superDigest) bypasses every
// check once the connection authenticated with the matching password.
func TestSuperDigest(t *testing.T) {
	s := newServer(t, servertest.WithConfig(func(c *config.Config) { c.SuperDigest = user1Digest }))
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "other:pw")
	owner.mustOK("create", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/locked", Data: []byte("x"),
		ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}}}}, nil))
	owner.mustOK("create kid", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/locked/kid",
		ACL: []wire.ACL{{Perms: 0, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}, nil))

	anon := rawSession(t, s.Addr())
	wantCode(t, "anonymous read", anon.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/locked"}, nil), wire.CodeNoAuth)
	su := rawSession(t, s.Addr())
	su.addAuth("digest", "user1:12345")
	su.getData("/locked")
	su.getData("/locked/kid") // perms 0 for everyone, yet super reads it
	su.setData("/locked/kid", "y")
	var r wire.GetACLResponse
	su.mustOK("getACL", su.call(wire.OpGetACL, &wire.PathRequest{Path: "/locked"}, &r))
	if len(r.ACL) != 1 || r.ACL[0].ID.ID == "other:x" {
		t.Fatalf("super sees a masked ACL: %+v", r.ACL)
	}
	su.mustOK("setACL", su.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/locked", ACL: openACL, Version: -1}, nil))
	su.delete("/locked/kid")
	anon.getData("/locked")
	// A wrong super password is just a digest id that matches nothing.
	bad := rawSession(t, s.Addr())
	bad.addAuth("digest", "user1:nope")
	wantCode(t, "wrong super password", bad.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/locked/nokid"}, nil), wire.CodeNoNode)
}

// getACL needs READ or ADMIN; without ADMIN the digests are masked as
// user:x (observed on Apache 3.8.0).
func TestGetACLMasking(t *testing.T) {
	s := newServer(t)
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "user1:12345")
	acl := []wire.ACL{
		{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: user1Digest}},
		{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}},
	}
	owner.mustOK("create", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/m", ACL: acl}, nil))
	var r wire.GetACLResponse
	owner.mustOK("owner getACL", owner.call(wire.OpGetACL, &wire.PathRequest{Path: "/m"}, &r))
	if len(r.ACL) != 2 || r.ACL[0] != acl[0] || r.ACL[1] != acl[1] {
		t.Fatalf("owner (ADMIN) sees %+v, want %+v", r.ACL, acl)
	}
	reader := rawSession(t, s.Addr())
	r = wire.GetACLResponse{}
	reader.mustOK("reader getACL", reader.call(wire.OpGetACL, &wire.PathRequest{Path: "/m"}, &r))
	masked := wire.ACL{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: "user1:x"}}
	if len(r.ACL) != 2 || r.ACL[0] != masked || r.ACL[1] != acl[1] {
		t.Fatalf("reader without ADMIN sees %+v, want %+v", r.ACL, []wire.ACL{masked, acl[1]})
	}
	if r.Stat.Aversion != 0 || r.Stat.Czxid == 0 {
		t.Fatalf("getACL stat %+v", r.Stat)
	}
}

// An auth packet with an unknown scheme answers AUTHFAILED and the server
// closes the connection; the session survives.
func TestAuthFailedClosesConnection(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/e", nil, wire.ModeEphemeral)
	h, _, err := c.authRaw("nosuchscheme", "x")
	if err != nil {
		t.Fatalf("no AUTHFAILED reply: %v", err)
	}
	if h.Xid != wire.XidAuth || h.Err != wire.CodeAuthFailed {
		t.Fatalf("reply %+v, want xid -4 AuthFailed", h)
	}
	c.expectClosed()
	c2, resp := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	if resp.SessionID != c.SessionID || resp.TimeOut == 0 {
		t.Fatalf("session lost after AUTHFAILED: %+v", resp)
	}
	c2.stat("/e")
}

// go-zookeeper's view: AddAuth with an unknown scheme fails; digest works.
func TestAddAuthGoClient(t *testing.T) {
	s, c := start(t)
	must(t, c.AddAuth("digest", []byte("user1:12345")))
	_, err := c.Create("/g", []byte("d"), 0, zk.DigestACL(zk.PermAll, "user1", "12345"))
	must(t, err)
	acl, _, err := c.GetACL("/g")
	must(t, err)
	if len(acl) != 1 || acl[0].Scheme != "digest" || acl[0].ID != user1Digest {
		t.Fatalf("ACL %+v", acl)
	}
	o, _ := connect(t, s.Addr())
	if err := o.AddAuth("nosuchscheme", []byte("x")); !errors.Is(err, zk.ErrAuthFailed) {
		t.Fatalf("AddAuth with an unknown scheme: %v, want %v", err, zk.ErrAuthFailed)
	}
}

// DigestAuthenticationProvider.digestAlg=SHA-256: addauth digest gives
// user:base64(SHA-256(user:password)) (the id a client or zkCli.sh then
// names in its ACLs), a superDigest of that algorithm makes a super user,
// and the SHA-1 id of the same password is another user.
func TestDigestAlgorithmSHA256(t *testing.T) {
	alg, err := acl.ParseDigestAlgorithm("SHA-256")
	must(t, err)
	s := newServer(t, servertest.WithConfig(func(c *config.Config) {
		c.DigestAlg = alg
		c.SuperDigest = alg.Digest("super:adminpw")
	}))
	bob, _ := connect(t, s.Addr())
	must(t, bob.AddAuth("digest", []byte("bob:secret")))
	_, err = bob.Create("/sha256", []byte("d"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}})
	must(t, err)
	got, _, err := bob.GetACL("/sha256")
	must(t, err)
	want := "bob:huAluaVu3uER4LIpielGv9Qqk5x3YVDr6I2R/mXf2wE=" // Python's hashlib
	if len(got) != 1 || got[0].Scheme != "digest" || got[0].ID != want {
		t.Fatalf("ACL %+v, want digest:%s", got, want)
	}
	// The SHA-1 id of the same password names no one here.
	old, _ := connect(t, s.Addr())
	must(t, old.AddAuth("digest", []byte("bob:secret")))
	_, err = old.Create("/sha1", nil, 0, zk.DigestACL(zk.PermAll, "bob", "secret"))
	must(t, err)
	if _, _, err := old.Get("/sha1"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("an ACL of the SHA-1 id: %v, want no auth", err)
	}
	root, _ := connect(t, s.Addr())
	must(t, root.AddAuth("digest", []byte("super:adminpw")))
	if _, _, err := root.Get("/sha1"); err != nil {
		t.Fatalf("super (SHA-256 superDigest): %v", err)
	}
}

// DigestAuthenticationProvider.enabled=false: the digest scheme is not
// registered, so addauth digest fails and a digest ACL is invalid.
func TestDigestAuthDisabled(t *testing.T) {
	s, c := start(t, servertest.WithConfig(func(c *config.Config) { c.DigestAuthDisabled = true }))
	if _, err := c.Create("/d", nil, 0, zk.DigestACL(zk.PermAll, "bob", "secret")); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("create with a digest ACL: %v, want invalid ACL", err)
	}
	o, _ := connect(t, s.Addr())
	if err := o.AddAuth("digest", []byte("bob:secret")); !errors.Is(err, zk.ErrAuthFailed) {
		t.Fatalf("addauth digest: %v, want auth failed", err)
	}
}

// A malformed auth packet: the connection is closed without a reply and the
// session survives (observed on Apache 3.8.0).
func TestMalformedAuthPacket(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.send(wire.XidAuth, wire.OpAuth, rawRecord([]byte{0, 0, 0, 0, 0, 0, 0, 9}))
	if frames := c.expectClosed(); len(frames) != 0 {
		t.Fatalf("%d frames before the close", len(frames))
	}
	c2, resp := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	if resp.SessionID != c.SessionID {
		t.Fatalf("session lost: %+v", resp)
	}
	c2.stat("/")
}

// The "ensemble" scheme (EnsembleAuthenticationProvider): a client names
// the ensemble it means to reach; a server of another ensemble closes the
// connection without an answer, so that the client tries the next
// server. No name, or one of ensembleAuthName's, is OK and adds no id;
// ACLs cannot name the scheme. Without the provider the scheme is
// unknown: AUTHFAILED.
func TestEnsembleAuth(t *testing.T) {
	s := newServer(t, servertest.WithConfig(func(c *config.Config) {
		c.EnsembleAuth = true
		c.EnsembleAuthNames = []string{"prod", "prod-eu"}
	}))
	for _, name := range []string{"prod", "prod-eu", ""} {
		c := rawSession(t, s.Addr())
		h, _, err := c.authRaw("ensemble", name)
		if err != nil || h.Err != wire.CodeOK {
			t.Fatalf("addauth ensemble %q: %v %v", name, h.Err, err)
		}
		c.create("/e-"+name, nil, wire.ModeEphemeral) // the session goes on
		if ids := c.whoAmI(); len(ids) != 1 || !strings.HasPrefix(ids[0], "ip:") {
			t.Errorf("addauth ensemble %q: whoami %q, want the ip id alone", name, ids)
		}
	}
	c := rawSession(t, s.Addr())
	if h, _, err := c.authRaw("ensemble", "staging"); err == nil {
		t.Fatalf("addauth ensemble staging: answered %v, want the connection closed", h.Err)
	}
	wantCode(t, "an ensemble ACL", rawSession(t, s.Addr()).call(wire.OpCreate, &wire.CreateRequest{Path: "/acl-ens",
		ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "ensemble", ID: "prod"}}}}, nil), wire.CodeInvalidACL)
	mntr, err := servertest.Mntr(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"zk_ensemble_auth_success": "2", "zk_ensemble_auth_skip": "1", "zk_ensemble_auth_fail": "1"} {
		if mntr[k] != want {
			t.Errorf("mntr %s = %q, want %s", k, mntr[k], want)
		}
	}

	plain := newServer(t)
	c = rawSession(t, plain.Addr())
	if h, _, err := c.authRaw("ensemble", "prod"); err != nil || h.Err != wire.CodeAuthFailed {
		t.Fatalf("addauth ensemble without the provider: %v %v, want AUTHFAILED", h.Err, err)
	}
}
