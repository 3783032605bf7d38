package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/wire"
)

// getData reads a node's data and Stat.
func (c *rawConn) getData(path string) ([]byte, wire.Stat) {
	c.t.Helper()
	var r wire.GetDataResponse
	c.mustOK("getData "+path, c.call(wire.OpGetData, &wire.PathWatchRequest{Path: path}, &r))
	return r.Data, r.Stat
}

// lastZxid returns the zxid the server reported in its last reply.
func (c *rawConn) zxid() int64 { return c.lastZxid }

// Stat fields evolve as DataTree/DataNode make them (reference section 2).
func TestStatEvolution(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())

	var cr wire.Create2Response
	before := time.Now().UnixMilli()
	c.mustOK("create2", c.call(wire.OpCreate2, &wire.CreateRequest{Path: "/s", Data: []byte("hello"), ACL: openACL}, &cr))
	after := time.Now().UnixMilli()
	if !apacheMode() && (cr.Stat.Ctime < before || cr.Stat.Ctime > after) {
		// ctime is the server's wall clock at the txn (same host here).
		t.Fatalf("ctime %d outside [%d, %d]", cr.Stat.Ctime, before, after)
	}
	z1 := cr.Stat.Czxid
	want := wire.Stat{Czxid: z1, Mzxid: z1, Ctime: cr.Stat.Ctime, Mtime: cr.Stat.Ctime, DataLength: 5, Pzxid: z1}
	if cr.Stat != want || cr.Stat.Ctime <= 0 {
		t.Fatalf("new node stat %+v, want %+v", cr.Stat, want)
	}
	if c.zxid() != z1 {
		t.Fatalf("create reply zxid 0x%x, czxid 0x%x", c.zxid(), z1)
	}

	// setData: mzxid, mtime, version, dataLength; version goes up even
	// when the data is the same.
	var sr wire.StatResponse
	c.mustOK("setData", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/s", Data: []byte("hi"), Version: 0}, &sr))
	z2 := c.zxid()
	if sr.Stat.Mzxid != z2 || z2 != z1+1 || sr.Stat.Version != 1 || sr.Stat.Czxid != z1 || sr.Stat.Pzxid != z1 ||
		sr.Stat.DataLength != 2 || sr.Stat.Mtime < sr.Stat.Ctime || sr.Stat.Ctime != cr.Stat.Ctime {
		t.Fatalf("after setData: %+v (zxid 0x%x)", sr.Stat, z2)
	}
	c.mustOK("setData same", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/s", Data: []byte("hi"), Version: 1}, &sr))
	if sr.Stat.Version != 2 {
		t.Fatalf("setData with equal data: version %d, want 2", sr.Stat.Version)
	}
	c.mustOK("setData nil", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/s", Data: nil, Version: -1}, &sr))
	if sr.Stat.DataLength != 0 || sr.Stat.Version != 3 {
		t.Fatalf("setData null: %+v", sr.Stat)
	}
	mzxid := sr.Stat.Mzxid

	// setACL: aversion only; mzxid and version unchanged.
	c.mustOK("setACL", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/s", ACL: openACL, Version: 0}, &sr))
	if sr.Stat.Aversion != 1 || sr.Stat.Mzxid != mzxid || sr.Stat.Version != 3 {
		t.Fatalf("after setACL: %+v", sr.Stat)
	}
	wantCode(t, "setACL stale aversion", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/s", ACL: openACL, Version: 0}, nil), wire.CodeBadVersion)

	// Children: pzxid = the child's czxid, then the delete's zxid; cversion
	// counts creates and deletes; the parent's mzxid/version stay.
	var c1 wire.Create2Response
	c.mustOK("create c1", c.call(wire.OpCreate2, &wire.CreateRequest{Path: "/s/c1", ACL: openACL}, &c1))
	st := c.stat("/s")
	if st.Pzxid != c1.Stat.Czxid || st.Cversion != 1 || st.NumChildren != 1 || st.Mzxid != mzxid || st.Version != 3 {
		t.Fatalf("after child create: %+v", st)
	}
	c.create("/s/c2", nil, wire.ModePersistent)
	c.mustOK("delete c1", c.call(wire.OpDelete, &wire.PathVersionRequest{Path: "/s/c1", Version: 0}, nil))
	zd := c.zxid()
	st = c.stat("/s")
	if st.Pzxid != zd || st.Cversion != 3 || st.NumChildren != 1 || st.Mzxid != mzxid {
		t.Fatalf("after child delete (zxid 0x%x): %+v", zd, st)
	}
	// A grandchild does not touch the grandparent.
	c.create("/s/c2/g", nil, wire.ModePersistent)
	if st2 := c.stat("/s"); st2 != st {
		t.Fatalf("grandchild create changed the grandparent: %+v -> %+v", st, st2)
	}
}

// The sequential suffix is the parent's count of child creates (deletes do
// not advance it) formatted %010d; the cversion a client sees is creates +
// deletes. Observed on Apache 3.8.0: n-0, n-1, n-2, x, n-4, delete x, next
// is n-0000000005 and the parent's cversion reads 6.
func TestSequentialAndCversion(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/q", nil, wire.ModePersistent)
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, c.create("/q/n-", nil, wire.ModePersistentSequential))
	}
	c.create("/q/x", nil, wire.ModePersistent)
	got = append(got, c.create("/q/n-", nil, wire.ModeEphemeralSequential))
	c.mustOK("delete x", c.call(wire.OpDelete, &wire.PathVersionRequest{Path: "/q/x", Version: -1}, nil))
	got = append(got, c.create("/q/n-", nil, wire.ModePersistentSequential))
	want := []string{"/q/n-0000000000", "/q/n-0000000001", "/q/n-0000000002", "/q/n-0000000004", "/q/n-0000000005"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sequential names %v, want %v", got, want)
	}
	if st := c.stat("/q"); st.Cversion != 7 || st.NumChildren != 5 {
		// 6 creates + 1 delete.
		t.Fatalf("parent stat %+v, want cversion 7 numChildren 5", st)
	}
	// A failed create (NodeExists) does not advance the counter.
	wantCode(t, "create existing", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/q/n-0000000005", ACL: openACL}, nil), wire.CodeNodeExists)
	if p := c.create("/q/n-", nil, wire.ModePersistentSequential); p != "/q/n-0000000006" {
		t.Fatalf("after a failed create: %s, want /q/n-0000000006", p)
	}
	// Sequential name without a prefix, directly under a node.
	if p := c.create("/q/", nil, wire.ModePersistentSequential); p != "/q/0000000007" {
		t.Fatalf("got %s, want /q/0000000007", p)
	}
}

// A failed write is an error txn in Apache: it takes a zxid, which the
// reply header carries and the next write's zxid follows.
func TestFailedWritesConsumeZxid(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/f", []byte("x"), wire.ModePersistent)
	c.create("/f/child", nil, wire.ModePersistent)
	base := c.zxid()
	failing := []struct {
		name string
		op   int32
		body wire.Record
		code wire.Code
	}{
		{"create existing", wire.OpCreate, &wire.CreateRequest{Path: "/f", ACL: openACL}, wire.CodeNodeExists},
		{"create no parent", wire.OpCreate, &wire.CreateRequest{Path: "/nope/x", ACL: openACL}, wire.CodeNoNode},
		{"setData bad version", wire.OpSetData, &wire.SetDataRequest{Path: "/f", Version: 7}, wire.CodeBadVersion},
		{"setData missing", wire.OpSetData, &wire.SetDataRequest{Path: "/nope", Version: -1}, wire.CodeNoNode},
		{"delete not empty", wire.OpDelete, &wire.PathVersionRequest{Path: "/f", Version: -1}, wire.CodeNotEmpty},
		{"delete missing", wire.OpDelete, &wire.PathVersionRequest{Path: "/nope", Version: -1}, wire.CodeNoNode},
		{"setACL bad version", wire.OpSetACL, &wire.SetACLRequest{Path: "/f", ACL: openACL, Version: 3}, wire.CodeBadVersion},
		{"create invalid ACL", wire.OpCreate, &wire.CreateRequest{Path: "/g", ACL: nil}, wire.CodeInvalidACL},
		{"create bad path", wire.OpCreate, &wire.CreateRequest{Path: "/f/", ACL: openACL}, wire.CodeBadArguments},
	}
	for i, tc := range failing {
		wantCode(t, tc.name, c.call(tc.op, tc.body, nil), tc.code)
		if got, want := c.zxid(), base+int64(i)+1; got != want {
			t.Fatalf("%s: reply zxid 0x%x, want 0x%x", tc.name, got, want)
		}
	}
	var cr wire.Create2Response
	c.mustOK("create2", c.call(wire.OpCreate2, &wire.CreateRequest{Path: "/g", ACL: openACL}, &cr))
	if want := base + int64(len(failing)) + 1; cr.Stat.Czxid != want {
		t.Fatalf("czxid after %d failed writes: 0x%x, want 0x%x", len(failing), cr.Stat.Czxid, want)
	}
	// Reads take no zxid.
	c.getData("/g")
	wantCode(t, "exists missing", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/nope"}, nil), wire.CodeNoNode)
	if c.zxid() != cr.Stat.Czxid {
		t.Fatalf("reads moved the zxid: 0x%x", c.zxid())
	}
}

// delete checks DELETE on the parent, then existence, then the version,
// then NOTEMPTY (PrepRequestProcessor).
func TestDeleteCheckOrder(t *testing.T) {
	_, c := start(t)
	_, err := c.Create("/d", nil, 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = c.Create("/d/c", nil, 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	wantErr(t, c.Delete("/d", 5), zk.ErrBadVersion)
	wantErr(t, c.Delete("/d", 0), zk.ErrNotEmpty)
	wantErr(t, c.Delete("/d/missing", 5), zk.ErrNoNode)
	must(t, c.Delete("/d/c", 0))
	must(t, c.Delete("/d", 0))
}

// Through go-zookeeper: ephemeralOwner is the session id for ephemerals and
// 0 for persistent, container and TTL nodes.
func TestEphemeralOwnerVisibility(t *testing.T) {
	_, c := start(t)
	_, err := c.Create("/p", nil, 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = c.CreateContainer("/c", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = c.CreateTTL("/t", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), 100000000)
	must(t, err)
	for path, want := range map[string]int64{"/p": 0, "/e": c.SessionID(), "/c": 0, "/t": 0} {
		_, st, err := c.Exists(path)
		must(t, err)
		if st.EphemeralOwner != want {
			t.Errorf("%s: ephemeralOwner 0x%x, want 0x%x", path, st.EphemeralOwner, want)
		}
	}
}
