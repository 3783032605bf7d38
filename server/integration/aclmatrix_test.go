package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// The ACL matrix: every operation against a node whose ACL grants exactly
// one permission (or none, or all) to one identity, for every scheme. The
// expectations follow Apache 3.8.0's checkACL calls: PrepRequestProcessor
// checks CREATE on the parent (create), DELETE on the parent (delete),
// WRITE (setData), ADMIN (setACL) and READ (check in multi), all before
// the version or existence of the target; FinalRequestProcessor checks
// READ for getData, getChildren(2), getAllChildrenNumber and multiRead,
// READ or ADMIN for getACL; sync, addWatch, removeWatches and
// getEphemerals check nothing. exists checks READ on a znode that exists
// in zkgo and since Apache 3.8.4 (ZOOKEEPER-2590), nothing before.
// ZKGO_IT_APACHE=1 runs it against Apache.

// superPassword is the super user's password; the server's superDigest is
// its digest.
const superPassword = "super:secret"

type matrixOp struct {
	name string
	need int32     // permission bits of which one suffices; 0: not checked
	ok   wire.Code // the answer when permitted
	run  func(c *rawConn, p string) wire.Code
}

// multiOne runs a multi of one op and returns that op's result code (the
// reply header of a multi is OK even when an op fails).
func multiOne(c *rawConn, op wire.Op) wire.Code {
	c.t.Helper()
	var mr wire.MultiResponse
	c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{op}}, &mr))
	if len(mr.Results) != 1 {
		c.t.Fatalf("multi: %d results", len(mr.Results))
	}
	if mr.Results[0].Type == wire.OpError {
		return mr.Results[0].Err
	}
	return wire.CodeOK
}

// since2590 are the ops whose need only servers with ZOOKEEPER-2590
// check (servertest.ExistsChecksRead).
var since2590 = map[string]bool{"exists": true}

var matrixOps = []matrixOp{
	{"getData", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetData, &wire.PathWatchRequest{Path: p}, nil)
	}},
	{"getData with watch", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetData, &wire.PathWatchRequest{Path: p, Watch: true}, nil)
	}},
	{"exists", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpExists, &wire.PathWatchRequest{Path: p, Watch: true}, nil)
	}},
	{"exists of a missing child", 0, wire.CodeNoNode, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpExists, &wire.PathWatchRequest{Path: p + "/missing", Watch: true}, nil)
	}},
	{"getChildren", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: p}, nil)
	}},
	{"getChildren2", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetChildren2, &wire.PathWatchRequest{Path: p}, nil)
	}},
	{"getACL", wire.PermRead | wire.PermAdmin, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetACL, &wire.PathRequest{Path: p}, nil)
	}},
	{"getAllChildrenNumber", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: p}, nil)
	}},
	{"setData", wire.PermWrite, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("w"), Version: -1}, nil)
	}},
	{"setData bad version", wire.PermWrite, wire.CodeBadVersion, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("w"), Version: 42}, nil)
	}},
	{"setACL", wire.PermAdmin, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: openACL, Version: -1}, nil)
	}},
	{"setACL bad version", wire.PermAdmin, wire.CodeBadVersion, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: openACL, Version: 42}, nil)
	}},
	{"create child", wire.PermCreate, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpCreate, &wire.CreateRequest{Path: p + "/new", ACL: openACL}, nil)
	}},
	{"create2 sequential child", wire.PermCreate, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpCreate2, &wire.CreateRequest{Path: p + "/seq-", ACL: openACL, Flags: wire.ModePersistentSequential}, nil)
	}},
	{"create ephemeral child", wire.PermCreate, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpCreate, &wire.CreateRequest{Path: p + "/eph", ACL: openACL, Flags: wire.ModeEphemeral}, nil)
	}},
	{"create existing child", wire.PermCreate, wire.CodeNodeExists, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpCreate, &wire.CreateRequest{Path: p + "/kid", ACL: openACL}, nil)
	}},
	{"create under the open child", 0, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpCreate, &wire.CreateRequest{Path: p + "/kid/grandkid", ACL: openACL}, nil)
	}},
	{"setData of the open child", 0, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpSetData, &wire.SetDataRequest{Path: p + "/kid", Version: -1}, nil)
	}},
	{"delete child", wire.PermDelete, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpDelete, &wire.PathVersionRequest{Path: p + "/kid", Version: -1}, nil)
	}},
	{"delete child bad version", wire.PermDelete, wire.CodeBadVersion, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpDelete, &wire.PathVersionRequest{Path: p + "/kid", Version: 42}, nil)
	}},
	{"delete missing child", wire.PermDelete, wire.CodeNoNode, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpDelete, &wire.PathVersionRequest{Path: p + "/missing", Version: -1}, nil)
	}},
	// The node's own ACL does not govern its deletion: its parent's does.
	{"delete the node (not empty)", 0, wire.CodeNotEmpty, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpDelete, &wire.PathVersionRequest{Path: p, Version: -1}, nil)
	}},
	{"sync", 0, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpSync, &wire.PathRequest{Path: p}, nil)
	}},
	{"multi create", wire.PermCreate, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return multiOne(c, wire.Op{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: p + "/m", ACL: openACL}})
	}},
	{"multi delete", wire.PermDelete, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return multiOne(c, wire.Op{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: p + "/kid", Version: -1}})
	}},
	{"multi setData", wire.PermWrite, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return multiOne(c, wire.Op{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: p, Version: -1}})
	}},
	{"multi check", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return multiOne(c, wire.Op{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: p, Version: -1}})
	}},
	{"multiRead getData", wire.PermRead, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		var mr wire.MultiResponse
		c.mustOK("multiRead", c.call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.Op{
			{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: p}}}}, &mr))
		if mr.Results[0].Type == wire.OpError {
			return mr.Results[0].Err
		}
		return wire.CodeOK
	}},
	{"addWatch and removeWatches", 0, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		if code := c.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: p, Mode: wire.AddWatchPersistentRecursive}, nil); code != wire.CodeOK {
			return code
		}
		return c.call(wire.OpRemoveWatches, &wire.WatchesRequest{Path: p, Type: wire.WatcherAny}, nil)
	}},
	{"getEphemerals", 0, wire.CodeOK, func(c *rawConn, p string) wire.Code {
		return c.call(wire.OpGetEphemerals, &wire.PathRequest{Path: p}, nil)
	}},
}

// matrixIdentity is who the tester is and whom the node's ACL names.
type matrixIdentity struct {
	name string
	// login authenticates the tester's fresh session.
	login func(c *rawConn)
	// acl is the node's ACL granting perms; nil means the tester creates
	// the node itself with the auth scheme.
	acl func(perms int32) []wire.ACL
	// matches: the ACL names the tester; super: the tester is super.
	matches, super bool
}

func oneACL(scheme, id string) func(int32) []wire.ACL {
	return func(perms int32) []wire.ACL {
		return []wire.ACL{{Perms: perms, ID: wire.ID{Scheme: scheme, ID: id}}}
	}
}

var matrixIdentities = []matrixIdentity{
	{name: "world", login: func(*rawConn) {}, acl: oneACL("world", "anyone"), matches: true},
	{name: "auth", login: func(c *rawConn) { c.addAuth("digest", "user1:12345") }, matches: true},
	{name: "digest", login: func(c *rawConn) { c.addAuth("digest", "user1:12345") }, acl: oneACL("digest", user1Digest), matches: true},
	{name: "digest wrong password", login: func(c *rawConn) { c.addAuth("digest", "user1:wrong") }, acl: oneACL("digest", user1Digest)},
	{name: "digest unauthenticated", login: func(*rawConn) {}, acl: oneACL("digest", user1Digest)},
	{name: "ip", login: func(*rawConn) {}, acl: oneACL("ip", "127.0.0.1"), matches: true},
	{name: "ip CIDR", login: func(*rawConn) {}, acl: oneACL("ip", "127.0.0.0/8"), matches: true},
	{name: "ip CIDR elsewhere", login: func(*rawConn) {}, acl: oneACL("ip", "10.0.0.0/8")},
	{name: "ip elsewhere", login: func(*rawConn) {}, acl: oneACL("ip", "10.1.2.3")},
	{name: "super", login: func(c *rawConn) { c.addAuth("digest", superPassword) }, acl: oneACL("digest", user1Digest), super: true},
}

var matrixPerms = []struct {
	name  string
	perms int32
}{
	{"none", 0},
	{"READ", wire.PermRead},
	{"WRITE", wire.PermWrite},
	{"CREATE", wire.PermCreate},
	{"DELETE", wire.PermDelete},
	{"ADMIN", wire.PermAdmin},
	{"ALL", wire.PermAll},
}

func withSuper(c *config.Config) { c.SuperDigest = acl.Digest(superPassword) }

func TestACLMatrix(t *testing.T) {
	s := newServer(t, servertest.WithConfig(withSuper))
	setup := rawSession(t, s.Addr())
	setup.addAuth("digest", superPassword)
	setup.create("/acl", nil, wire.ModePersistent)
	existsChecks, err := servertest.ExistsChecksRead(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	passed, n := 0, 0
	for _, id := range matrixIdentities {
		tester := rawSession(t, s.Addr())
		id.login(tester)
		for _, pm := range matrixPerms {
			for _, op := range matrixOps {
				n++
				p := fmt.Sprintf("/acl/n%d", n)
				if id.acl == nil {
					tester.mustOK("create "+p, tester.call(wire.OpCreate, &wire.CreateRequest{Path: p, Data: []byte("d"),
						ACL: []wire.ACL{{Perms: pm.perms, ID: wire.ID{Scheme: "auth", ID: ""}}}}, nil))
				} else {
					setup.mustOK("create "+p, setup.call(wire.OpCreate, &wire.CreateRequest{Path: p, Data: []byte("d"), ACL: id.acl(pm.perms)}, nil))
				}
				setup.create(p+"/kid", nil, wire.ModePersistent)
				want := op.ok
				checked := op.need != 0 && (!since2590[op.name] || existsChecks)
				if checked && !id.super && !(id.matches && pm.perms&op.need != 0) {
					want = wire.CodeNoAuth
				}
				got := op.run(tester, p)
				if got != want {
					t.Errorf("%s ACL granting %s: %s: code %d (%v), want %d (%v)", id.name, pm.name, op.name, int32(got), got, int32(want), want)
					continue
				}
				passed++
			}
		}
	}
	t.Logf("ACL matrix: %d passed, %d failed", passed, n-passed)
}

// A node whose ACL grants CREATE only: its children are created with their
// own ACLs, and those govern them; listing, reading or deleting under the
// parent still needs READ and DELETE there.
func TestCreateOnlyParent(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.addAuth("digest", "user1:12345")
	c.mustOK("create /drop", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/drop",
		ACL: []wire.ACL{{Perms: wire.PermCreate, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}, nil))
	// An open child: everything on it works.
	c.mustOK("create open child", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/drop/open", Data: []byte("a"), ACL: openACL}, nil))
	c.getData("/drop/open")
	c.setData("/drop/open", "b")
	c.mustOK("setACL on the child", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/drop/open", ACL: openACL, Version: 0}, nil))
	c.mustOK("grandchild", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/drop/open/g", ACL: openACL}, nil))
	c.delete("/drop/open/g")
	// A child readable only by user1: the creator's other sessions are
	// refused, user1 anywhere is let in.
	c.mustOK("create private child", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/drop/mine", Data: []byte("m"), ACL: digestACL(wire.PermRead)}, nil))
	anon := rawSession(t, s.Addr())
	wantCode(t, "anonymous read of the private child", anon.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/drop/mine"}, nil), wire.CodeNoAuth)
	c.getData("/drop/mine")
	wantCode(t, "user1 write of the READ-only child", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/drop/mine", Version: -1}, nil), wire.CodeNoAuth)
	// A child with no permission at all, created through CREATE: nobody
	// but super can touch it, not even its creator.
	c.mustOK("create sealed child", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/drop/sealed",
		ACL: []wire.ACL{{Perms: 0, ID: wire.ID{Scheme: "auth", ID: ""}}}}, nil))
	wantCode(t, "creator reads the sealed child", c.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/drop/sealed"}, nil), wire.CodeNoAuth)
	// The parent: no READ, no DELETE, no WRITE.
	wantCode(t, "list the parent", c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: "/drop"}, nil), wire.CodeNoAuth)
	wantCode(t, "read the parent", c.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/drop"}, nil), wire.CodeNoAuth)
	wantCode(t, "delete a child", c.call(wire.OpDelete, &wire.PathVersionRequest{Path: "/drop/open", Version: -1}, nil), wire.CodeNoAuth)
	wantCode(t, "setACL on the parent", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/drop", ACL: openACL, Version: -1}, nil), wire.CodeNoAuth)
	// Nor its Stat, since ZOOKEEPER-2590 (before, exists showed three
	// children).
	if checks, err := servertest.ExistsChecksRead(s.Addr()); err != nil {
		t.Fatal(err)
	} else if checks {
		wantCode(t, "exists of the parent", anon.call(wire.OpExists, &wire.PathWatchRequest{Path: "/drop"}, nil), wire.CodeNoAuth)
	} else if st := anon.stat("/drop"); st.NumChildren != 3 {
		t.Fatalf("numChildren %d, want 3", st.NumChildren)
	}
}

// setACL needs ADMIN on the node; with ADMIN alone a client can grant
// itself everything else.
func TestSetACLNeedsAdmin(t *testing.T) {
	s := newServer(t)
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "user1:12345")
	owner.mustOK("create", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/adm", Data: []byte("x"), ACL: []wire.ACL{
		{Perms: wire.PermAll &^ wire.PermAdmin, ID: wire.ID{Scheme: "world", ID: "anyone"}},
		{Perms: wire.PermAdmin, ID: wire.ID{Scheme: "digest", ID: user1Digest}},
	}}, nil))
	other := rawSession(t, s.Addr())
	other.getData("/adm")
	wantCode(t, "setACL without ADMIN", other.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/adm", ACL: openACL, Version: -1}, nil), wire.CodeNoAuth)
	wantCode(t, "setACL of a missing node", other.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/adm/none", ACL: openACL, Version: -1}, nil), wire.CodeNoNode)
	// Nothing changed: aversion still 0.
	if st := other.stat("/adm"); st.Aversion != 0 {
		t.Fatalf("aversion %d after a refused setACL", st.Aversion)
	}
	// The admin locks everyone else out, then itself keeps ADMIN only.
	owner.mustOK("setACL by the admin", owner.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/adm", ACL: digestACL(wire.PermAdmin), Version: 0}, nil))
	wantCode(t, "read after the lock-out", other.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/adm"}, nil), wire.CodeNoAuth)
	wantCode(t, "admin reads without READ", owner.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/adm"}, nil), wire.CodeNoAuth)
	// getACL with ADMIN only is allowed and unmasked.
	var r wire.GetACLResponse
	owner.mustOK("getACL with ADMIN", owner.call(wire.OpGetACL, &wire.PathRequest{Path: "/adm"}, &r))
	if len(r.ACL) != 1 || r.ACL[0] != digestACL(wire.PermAdmin)[0] || r.Stat.Aversion != 1 {
		t.Fatalf("getACL %+v", r)
	}
	owner.mustOK("admin grants itself READ", owner.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/adm", ACL: digestACL(wire.PermAdmin | wire.PermRead), Version: 1}, nil))
	owner.getData("/adm")
}

// The auth scheme expands to the ids of authenticated providers only: a
// digest id, never ip; and not the super id a super digest adds (it has no
// provider in Apache).
func TestAuthSchemeExpansion(t *testing.T) {
	s := newServer(t, servertest.WithConfig(withSuper))
	su := rawSession(t, s.Addr())
	su.addAuth("digest", superPassword)
	su.mustOK("create with auth as super", su.call(wire.OpCreate, &wire.CreateRequest{Path: "/s",
		ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}}}}, nil))
	var r wire.GetACLResponse
	su.mustOK("getACL", su.call(wire.OpGetACL, &wire.PathRequest{Path: "/s"}, &r))
	want := wire.ACL{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: acl.Digest(superPassword)}}
	if len(r.ACL) != 1 || r.ACL[0] != want {
		t.Fatalf("auth ACL of a super session became %+v, want [%+v]", r.ACL, want)
	}
	// Two digest identities: both named.
	two := rawSession(t, s.Addr())
	two.addAuth("digest", "user1:12345")
	two.addAuth("digest", "user2:pw")
	two.mustOK("create with two ids", two.call(wire.OpCreate, &wire.CreateRequest{Path: "/two",
		ACL: []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: "auth", ID: ""}}}}, nil))
	two.mustOK("getACL", two.call(wire.OpGetACL, &wire.PathRequest{Path: "/two"}, &r))
	var got []string
	for _, a := range r.ACL {
		got = append(got, fmt.Sprintf("%d:%s:%s", a.Perms, a.ID.Scheme, a.ID.ID))
	}
	// Without ADMIN the digests are masked; the order is that of Apache's id
	// set (a ConcurrentHashMap: hash order), observed on 3.8.0.
	if strings.Join(got, ",") != "1:digest:user2:x,1:digest:user1:x" {
		t.Fatalf("auth ACL with two digests: %v", got)
	}
	// An ACL naming the super scheme is invalid: super has no provider.
	wantCode(t, "create with a super ACL", su.call(wire.OpCreate, &wire.CreateRequest{Path: "/sup",
		ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "super", ID: ""}}}}, nil), wire.CodeInvalidACL)
	// x509 needs a secure client port (the provider is registered with it).
	wantCode(t, "create with an x509 ACL", su.call(wire.OpCreate, &wire.CreateRequest{Path: "/x",
		ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "x509", ID: "CN=client"}}}}, nil), wire.CodeInvalidACL)
}

// skipACL is off by default; skipACL=yes turns every check off.
func TestSkipACL(t *testing.T) {
	if config.Default().SkipACL {
		t.Fatal("skipACL is on by default")
	}
	s := newServer(t, servertest.WithConfig(func(c *config.Config) { c.SkipACL = true }))
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "user1:12345")
	owner.mustOK("create", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/sealed", Data: []byte("x"),
		ACL: []wire.ACL{{Perms: 0, ID: wire.ID{Scheme: "digest", ID: user1Digest}}}}, nil))
	anon := rawSession(t, s.Addr())
	anon.getData("/sealed")
	anon.setData("/sealed", "y")
	anon.mustOK("create child", anon.call(wire.OpCreate, &wire.CreateRequest{Path: "/sealed/k", ACL: openACL}, nil))
	anon.mustOK("getChildren", anon.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: "/sealed"}, nil))
	anon.delete("/sealed/k")
	var r wire.GetACLResponse
	anon.mustOK("getACL", anon.call(wire.OpGetACL, &wire.PathRequest{Path: "/sealed"}, &r))
	// checkACL(ADMIN) passes too, so the digest is not masked.
	if len(r.ACL) != 1 || r.ACL[0].ID.ID != user1Digest {
		t.Fatalf("getACL under skipACL: %+v", r.ACL)
	}
	anon.mustOK("setACL", anon.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/sealed", ACL: openACL, Version: -1}, nil))
	// Validation of new ACLs still happens.
	wantCode(t, "invalid ACL", anon.call(wire.OpCreate, &wire.CreateRequest{Path: "/bad",
		ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "nosuch", ID: "x"}}}}, nil), wire.CodeInvalidACL)
}

// whoAmI lists a connection's ids in the order of Apache's id set (hash
// order, not the order they were added), observed on 3.8.0.
func TestWhoAmIOrder(t *testing.T) {
	s := newServer(t, servertest.WithConfig(withSuper))
	c := rawSession(t, s.Addr())
	c.addAuth("digest", "user1:12345")
	c.addAuth("digest", "user2:pw")
	c.addAuth("digest", superPassword)
	var r wire.WhoAmIResponse
	c.mustOK("whoAmI", c.call(wire.OpWhoAmI, nil, &r))
	var got []string
	for _, id := range r.Infos {
		got = append(got, id.Scheme+":"+id.ID)
	}
	if want := "digest:user2,super:,digest:super,ip:127.0.0.1,digest:user1"; strings.Join(got, ",") != want {
		t.Fatalf("whoAmI: %s, want %s", strings.Join(got, ","), want)
	}
}

// exists on a znode the client may not read is refused and sets no watch
// (ZOOKEEPER-2590, Apache 3.8.4): once the owner lets the client read, a
// change of the znode sends it nothing. A missing znode is no secret:
// exists says NONODE and watches for its creation, whatever the parent's
// ACL.
func TestExistsNeedsRead(t *testing.T) {
	s := newServer(t)
	if checks, err := servertest.ExistsChecksRead(s.Addr()); err != nil {
		t.Fatal(err)
	} else if !checks {
		t.Skip("this Apache predates ZOOKEEPER-2590: exists shows every Stat")
	}
	owner := rawSession(t, s.Addr())
	owner.addAuth("digest", "user1:12345")
	owner.mustOK("create /private", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/private", Data: []byte("p"), ACL: digestACL(wire.PermAll)}, nil))
	owner.mustOK("create /private/kid", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/private/kid", ACL: digestACL(wire.PermAll)}, nil))

	other := rawSession(t, s.Addr())
	wantCode(t, "exists of an unreadable znode", other.watchExists("/private"), wire.CodeNoAuth)
	wantCode(t, "exists of an unreadable child", other.watchExists("/private/kid"), wire.CodeNoAuth)
	wantCode(t, "exists of a missing child of an unreadable znode", other.watchExists("/private/none"), wire.CodeNoNode)

	// Let everyone read, then change what other asked about: only the
	// creation it watched for reaches it.
	readable := append(digestACL(wire.PermAll), wire.ACL{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}})
	for _, p := range []string{"/private", "/private/kid"} {
		owner.mustOK("setACL "+p, owner.call(wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: readable, Version: -1}, nil))
	}
	owner.setData("/private", "q")
	owner.setData("/private/kid", "k")
	owner.mustOK("create /private/none", owner.call(wire.OpCreate, &wire.CreateRequest{Path: "/private/none", ACL: readable}, nil))
	ev := other.nextEvent()
	if ev.Type != wire.EventNodeCreated || ev.Path != "/private/none" {
		t.Fatalf("first notification %+v, want NodeCreated /private/none", ev)
	}
	other.noEvent()

	// Now readable: exists answers and watches.
	if st := other.stat("/private"); st.Version != 1 {
		t.Fatalf("version %d after one setData, want 1", st.Version)
	}
	wantCode(t, "exists of the now readable znode", other.watchExists("/private"), wire.CodeOK)
	owner.setData("/private", "r")
	if ev := other.nextEvent(); ev.Type != wire.EventNodeDataChanged || ev.Path != "/private" {
		t.Fatalf("notification %+v, want NodeDataChanged /private", ev)
	}
}
