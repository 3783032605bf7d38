package integration

import (
	"errors"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

func TestMultiSuccessSharesOneZxid(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/m", []byte("0"), wire.ModePersistent)
	c.create("/m/old", nil, wire.ModePersistent)
	before := c.zxid()
	var resp wire.MultiResponse
	c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/m", Version: 0}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/a", Data: []byte("a"), ACL: openACL}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/s-", ACL: openACL, Flags: wire.ModePersistentSequential}},
		{Type: wire.OpCreate2, Req: &wire.CreateRequest{Path: "/m/s-", ACL: openACL, Flags: wire.ModePersistentSequential}},
		{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/m", Data: []byte("1"), Version: 0}},
		{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/m/old", Version: 0}},
		// Later ops see the earlier ones: /m is at version 1 now.
		{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/m", Version: 1}},
		{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/m/a", Data: []byte("b"), Version: 0}},
	}}, &resp))
	zxid := c.zxid()
	if zxid != before+1 {
		t.Fatalf("multi took zxids 0x%x..0x%x, want exactly one", before+1, zxid)
	}
	// create2 inside multi answers a plain create result (type 1, path
	// only) on Apache 3.8.0, and a create2 result (type 15, with a Stat)
	// since 3.8.2 (TestCreate2InMulti); createContainer/createTTL answer
	// type 15 (TestCreateVariantsInMulti).
	create2 := wire.OpCreate
	if since, err := servertest.Since(s.Addr(), "3.8.2", "3.9.0"); err != nil {
		t.Fatal(err)
	} else if since {
		create2 = wire.OpCreate2
	}
	types := []int32{wire.OpCheck, wire.OpCreate, wire.OpCreate, create2, wire.OpSetData, wire.OpDelete, wire.OpCheck, wire.OpSetData}
	if len(resp.Results) != len(types) {
		t.Fatalf("%d results", len(resp.Results))
	}
	for i, r := range resp.Results {
		if r.Type != types[i] || r.Err != wire.CodeOK {
			t.Fatalf("result %d: %+v, want type %d", i, r, types[i])
		}
	}
	if p := resp.Results[2].Resp.(*wire.CreateResponse).Path; p != "/m/s-0000000002" {
		// /m had one create (old) and /m/a was the second.
		t.Fatalf("sequential in multi: %s", p)
	}
	var p3 string
	switch r := resp.Results[3].Resp.(type) {
	case *wire.CreateResponse:
		p3 = r.Path
	case *wire.Create2Response:
		p3 = r.Path
	}
	if p3 != "/m/s-0000000003" {
		t.Fatalf("create2 in multi: %q", p3)
	}
	if st := resp.Results[4].Resp.(*wire.StatResponse).Stat; st.Mzxid != zxid || st.Version != 1 {
		t.Fatalf("setData in multi: %+v", st)
	}
	_, st := c.getData("/m/a")
	if st.Czxid != zxid || st.Mzxid != zxid || st.Version != 1 {
		t.Fatalf("/m/a: %+v", st)
	}
	if st := c.stat("/m"); st.Pzxid != zxid || st.NumChildren != 3 || st.Cversion != 5 {
		// 4 creates + 1 delete.
		t.Fatalf("/m after multi: %+v", st)
	}
}

func TestCreateVariantsInMulti(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	var resp wire.MultiResponse
	c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreateContainer, Req: &wire.CreateRequest{Path: "/c", ACL: openACL, Flags: wire.ModeContainer}},
		{Type: wire.OpCreateTTL, Req: &wire.CreateTTLRequest{Path: "/t", Data: []byte("ab"), ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 100000}},
	}}, &resp))
	zxid := c.zxid()
	for i, p := range []string{"/c", "/t"} {
		r := resp.Results[i]
		cr, ok := r.Resp.(*wire.Create2Response)
		if r.Type != wire.OpCreate2 || !ok || cr.Path != p || cr.Stat.Czxid != zxid || cr.Stat.EphemeralOwner != 0 {
			t.Fatalf("result %d: %+v %+v", i, r, r.Resp)
		}
	}
	if resp.Results[1].Resp.(*wire.Create2Response).Stat.DataLength != 2 {
		t.Fatalf("TTL result stat %+v", resp.Results[1].Resp)
	}
}

// A create2 in a multi is answered with the new znode's Stat since Apache
// 3.8.2 (ZOOKEEPER-4026); 3.8.0 answers it as a create, with the path only.
// A create beside it is answered as a create either way.
func TestCreate2InMulti(t *testing.T) {
	s := newServer(t)
	stat2, err := servertest.Since(s.Addr(), "3.8.2", "3.9.0")
	if err != nil {
		t.Fatal(err)
	}
	c := rawSession(t, s.Addr())
	var resp wire.MultiResponse
	c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreate2, Req: &wire.CreateRequest{Path: "/m2", Data: []byte("abc"), ACL: openACL, Flags: wire.ModeEphemeral}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m1", ACL: openACL}},
	}}, &resp))
	if len(resp.Results) != 2 {
		t.Fatalf("%d results", len(resp.Results))
	}
	r := resp.Results[0]
	if !stat2 {
		if cr, ok := r.Resp.(*wire.CreateResponse); r.Type != wire.OpCreate || !ok || cr.Path != "/m2" {
			t.Fatalf("create2 result: %+v %+v, want a create result", r, r.Resp)
		}
	} else {
		cr, ok := r.Resp.(*wire.Create2Response)
		if r.Type != wire.OpCreate2 || !ok || cr.Path != "/m2" {
			t.Fatalf("create2 result: %+v %+v, want a create2 result", r, r.Resp)
		}
		if got := c.stat("/m2"); cr.Stat != got || got.Czxid != c.zxid() || got.DataLength != 3 || got.EphemeralOwner == 0 {
			t.Fatalf("create2 result's Stat %+v, the znode's %+v", cr.Stat, got)
		}
	}
	if cr, ok := resp.Results[1].Resp.(*wire.CreateResponse); resp.Results[1].Type != wire.OpCreate || !ok || cr.Path != "/m1" {
		t.Fatalf("create result: %+v", resp.Results[1])
	}
}

// A failing multi: header err 0, per-op results OK before the failing op,
// its code, RUNTIMEINCONSISTENCY after; every result is an error result
// (type -1); nothing applied, and the multi still took a zxid.
func TestMultiFailureResults(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/m", nil, wire.ModePersistent)
	for _, tc := range []struct {
		name    string
		ops     []wire.Op
		failAt  int
		failErr wire.Code
	}{
		{"setData missing", []wire.Op{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/a", ACL: openACL}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/b", ACL: openACL}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/nope", Version: -1}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/c", ACL: openACL}},
			{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/m", Version: -1}},
		}, 2, wire.CodeNoNode},
		{"check bad version first", []wire.Op{
			{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/m", Version: 9}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/a", ACL: openACL}},
		}, 0, wire.CodeBadVersion},
		{"create twice", []wire.Op{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/a", ACL: openACL}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/a", ACL: openACL}},
		}, 1, wire.CodeNodeExists},
		{"delete not empty last", []wire.Op{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m/a", ACL: openACL}},
			{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/m", Version: -1}},
		}, 1, wire.CodeNotEmpty},
		{"check missing", []wire.Op{
			{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/nope", Version: -1}},
		}, 0, wire.CodeNoNode},
	} {
		step(t, tc.name, func(t *testing.T) {
			before := c.zxid()
			var resp wire.MultiResponse
			h, body := c.callRaw(wire.OpMulti, &wire.MultiRequest{Ops: tc.ops})
			if h.Err != wire.CodeOK {
				t.Fatalf("reply header err %v, want 0", h.Err)
			}
			if err := wire.Unmarshal(body, &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Results) != len(tc.ops) {
				t.Fatalf("%d results for %d ops", len(resp.Results), len(tc.ops))
			}
			for i, r := range resp.Results {
				want := wire.CodeOK
				switch {
				case i == tc.failAt:
					want = tc.failErr
				case i > tc.failAt:
					want = wire.CodeRuntimeInconsistency
				}
				if r.Type != wire.OpError || r.Err != want {
					t.Errorf("result %d: type %d err %d, want type -1 err %d", i, r.Type, r.Err, want)
				}
			}
			if c.zxid() != before+1 {
				t.Errorf("failed multi: zxid 0x%x -> 0x%x, want one zxid", before, c.zxid())
			}
			wantCode(t, "nothing applied", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/m/a"}, nil), wire.CodeNoNode)
			if st := c.stat("/m"); st.NumChildren != 0 || st.Cversion != 0 {
				t.Fatalf("/m changed: %+v", st)
			}
		})
	}
	// The sequence counter did not move either.
	if p := c.create("/m/s-", nil, wire.ModePersistentSequential); p != "/m/s-0000000000" {
		t.Fatalf("sequential after failed multis: %s", p)
	}
}

func TestMultiEmptyAndMixed(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/a", nil, wire.ModePersistent)
	// An empty multi succeeds with no results.
	var resp wire.MultiResponse
	c.mustOK("empty multi", c.call(wire.OpMulti, &wire.MultiRequest{}, &resp))
	if len(resp.Results) != 0 {
		t.Fatalf("empty multi: %+v", resp.Results)
	}
	// Reads inside multi: the whole request is MARSHALLINGERROR (an error
	// txn: it takes a zxid), nothing applied. Observed on Apache 3.8.0.
	before := c.zxid()
	code := c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/x1", ACL: openACL}},
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/a"}},
	}}, nil)
	wantCode(t, "multi with a read", code, wire.CodeMarshallingError)
	if c.zxid() != before+1 {
		t.Errorf("multi with a read: zxid 0x%x -> 0x%x", before, c.zxid())
	}
	wantCode(t, "x1 not created", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/x1"}, nil), wire.CodeNoNode)
	// Writes inside multiRead: MARSHALLINGERROR, no zxid.
	before = c.zxid()
	code = c.call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/a"}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/x2", ACL: openACL}},
	}}, nil)
	wantCode(t, "multiRead with a write", code, wire.CodeMarshallingError)
	if c.zxid() != before {
		t.Errorf("multiRead with a write: zxid 0x%x -> 0x%x", before, c.zxid())
	}
	wantCode(t, "x2 not created", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/x2"}, nil), wire.CodeNoNode)
	// An op type that multi does not allow (exists): MARSHALLINGERROR; the
	// connection stays usable.
	e := wire.NewEncoder(nil)
	(&wire.MultiHeader{Type: wire.OpExists, Done: false, Err: -1}).Encode(e)
	(&wire.PathWatchRequest{Path: "/a"}).Encode(e)
	(&wire.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(e)
	wantCode(t, "multi with exists", c.call(wire.OpMulti, rawRecord(e.Bytes()), nil), wire.CodeMarshallingError)
	c.stat("/a")
}

// rawRecord is a request body given as bytes.
type rawRecord []byte

func (r rawRecord) Encode(e *wire.Encoder) { e.Raw(r) }
func (r rawRecord) Decode(*wire.Decoder)   {}

// Through go-zookeeper: the error of a failed multi is the failing op's.
func TestMultiGoClient(t *testing.T) {
	_, c := start(t)
	_, err := c.Create("/g", nil, 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/g/a", Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.SetDataRequest{Path: "/g", Data: []byte("y"), Version: 0},
		&zk.CheckVersionRequest{Path: "/g", Version: 1},
		&zk.DeleteRequest{Path: "/g/a", Version: 0},
	)
	must(t, err)
	if len(res) != 4 || res[0].String != "/g/a" || res[1].Stat == nil || res[1].Stat.Version != 1 {
		t.Fatalf("multi results %+v", res)
	}
	_, err = c.Multi(
		&zk.CreateRequest{Path: "/g/b", Acl: zk.WorldACL(zk.PermAll)},
		&zk.DeleteRequest{Path: "/g/missing", Version: -1},
	)
	if !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("failed multi: %v, want ErrNoNode", err)
	}
	ok, _, err := c.Exists("/g/b")
	must(t, err)
	if ok {
		t.Fatal("failed multi applied its first op")
	}
}
