package integration
import ("testing"; "fmt"; "github.com/zkgo/zkgo/server/wire")
func TestProbe(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/a", nil, 0)
	h, b := c.callRaw(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreate2, Req: &wire.CreateRequest{Path: "/m1", ACL: openACL}},
		{Type: wire.OpCreateContainer, Req: &wire.CreateRequest{Path: "/m2", ACL: openACL, Flags: 4}},
		{Type: wire.OpCreateTTL, Req: &wire.CreateTTLRequest{Path: "/m3", ACL: openACL, Flags: 5, TTL: 10000}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m4", ACL: openACL}},
		{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/m4", Version: 0}},
		{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/m4", Version: 0}},
	}})
	t.Logf("multi create kinds: %+v %x", h, b)
	var mr wire.MultiResponse
	t.Logf("decode %v", wire.Unmarshal(b, &mr))
	for _, r := range mr.Results { t.Logf("  %d %d %s", r.Type, r.Err, fmt.Sprintf("%+v", r.Resp)) }
	h, b = c.callRaw(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/x1", ACL: openACL}},
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/a"}},
	}})
	t.Logf("multi with read: %+v %x", h, b)
	h, b = c.callRaw(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpGetData, Req: &wire.PathWatchRequest{Path: "/a"}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/x2", ACL: openACL}},
	}})
	t.Logf("multiRead with write: %+v %x", h, b)
	h, b = c.callRaw(wire.OpGetData, &wire.PathWatchRequest{Path: "/x1"})
	t.Logf("x1 %+v", h)
	h, b = c.callRaw(wire.OpGetData, &wire.PathWatchRequest{Path: "/x2"})
	t.Logf("x2 %+v", h)
	// truncated body
	xid := c.send(0, wire.OpGetData, &wire.PathRequest{Path: "/a"})
	hh, _, err := c.recv(xid)
	t.Logf("truncated getData: %+v %v", hh, err)
	xid = c.send(0, wire.OpCreate, &wire.PathRequest{Path: "/a"})
	hh, _, err = c.recv(xid)
	t.Logf("truncated create: %+v %v", hh, err)
	h, b = c.callRaw(wire.OpGetData, &wire.PathWatchRequest{Path: "/a"})
	t.Logf("after %+v", h)
}
