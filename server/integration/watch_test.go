package integration

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/wire"
)

func (c *rawConn) watchData(path string) wire.Code {
	c.t.Helper()
	return c.call(wire.OpGetData, &wire.PathWatchRequest{Path: path, Watch: true}, nil)
}

func (c *rawConn) watchExists(path string) wire.Code {
	c.t.Helper()
	return c.call(wire.OpExists, &wire.PathWatchRequest{Path: path, Watch: true}, nil)
}

func (c *rawConn) watchChildren(path string) wire.Code {
	c.t.Helper()
	return c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: path, Watch: true}, nil)
}

func (c *rawConn) setData(path string, data string) {
	c.t.Helper()
	c.mustOK("setData "+path, c.call(wire.OpSetData, &wire.SetDataRequest{Path: path, Data: []byte(data), Version: -1}, nil))
}

func (c *rawConn) delete(path string) {
	c.t.Helper()
	c.mustOK("delete "+path, c.call(wire.OpDelete, &wire.PathVersionRequest{Path: path, Version: -1}, nil))
}

func wantEvent(t testing.TB, c *rawConn, want wire.WatcherEvent) {
	t.Helper()
	if got := c.nextEvent(); got != want {
		t.Fatalf("event %+v, want %+v", got, want)
	}
}

func TestOneShotWatches(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr()) // watcher
	w := rawSession(t, s.Addr()) // writer
	w.create("/w", []byte("0"), wire.ModePersistent)

	step(t, "data watch fires once", func(t *testing.T) {
		c.mustOK("getData watch", c.watchData("/w"))
		w.setData("/w", "1")
		wantEvent(t, c, event(wire.EventNodeDataChanged, "/w"))
		w.setData("/w", "2")
		c.noEvent()
	})
	step(t, "getData and exists watches give one notification", func(t *testing.T) {
		c.mustOK("getData watch", c.watchData("/w"))
		c.mustOK("exists watch", c.watchExists("/w"))
		w.setData("/w", "3")
		wantEvent(t, c, event(wire.EventNodeDataChanged, "/w"))
		c.noEvent()
	})
	step(t, "exists watch on a missing node", func(t *testing.T) {
		wantCode(t, "exists watch", c.watchExists("/n"), wire.CodeNoNode)
		w.create("/n", nil, wire.ModePersistent)
		wantEvent(t, c, event(wire.EventNodeCreated, "/n"))
		w.delete("/n")
		c.noEvent()
	})
	step(t, "getData on a missing node sets no watch", func(t *testing.T) {
		wantCode(t, "getData watch", c.watchData("/m"), wire.CodeNoNode)
		wantCode(t, "getChildren watch", c.watchChildren("/m"), wire.CodeNoNode)
		w.create("/m", nil, wire.ModePersistent)
		c.noEvent()
	})
	step(t, "child watch", func(t *testing.T) {
		c.mustOK("getChildren watch", c.watchChildren("/w"))
		w.setData("/w", "4") // data changes do not fire child watches
		w.create("/w/a", nil, wire.ModePersistent)
		wantEvent(t, c, event(wire.EventNodeChildrenChanged, "/w"))
		w.create("/w/b", nil, wire.ModePersistent)
		c.noEvent()
		c.mustOK("getChildren2 watch", c.call(wire.OpGetChildren2, &wire.PathWatchRequest{Path: "/w", Watch: true}, nil))
		w.delete("/w/b")
		wantEvent(t, c, event(wire.EventNodeChildrenChanged, "/w"))
	})
	step(t, "delete fires data and child watches with NodeDeleted", func(t *testing.T) {
		w.create("/d", nil, wire.ModePersistent)
		w.create("/d2", nil, wire.ModePersistent)
		c.mustOK("getData watch", c.watchData("/d"))
		c.mustOK("getChildren watch", c.watchChildren("/d2"))
		c.mustOK("watch /", c.watchChildren("/"))
		w.delete("/d")
		wantEvent(t, c, event(wire.EventNodeDeleted, "/d"))
		wantEvent(t, c, event(wire.EventNodeChildrenChanged, "/"))
		w.delete("/d2")
		wantEvent(t, c, event(wire.EventNodeDeleted, "/d2"))
		c.noEvent()
	})
	step(t, "setACL and failed writes fire nothing", func(t *testing.T) {
		c.mustOK("getData watch", c.watchData("/w"))
		c.mustOK("getChildren watch", c.watchChildren("/w"))
		w.mustOK("setACL", w.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/w", ACL: openACL, Version: -1}, nil))
		wantCode(t, "setData bad version", w.call(wire.OpSetData, &wire.SetDataRequest{Path: "/w", Version: 99}, nil), wire.CodeBadVersion)
		wantCode(t, "create existing", w.call(wire.OpCreate, &wire.CreateRequest{Path: "/w/a", ACL: openACL}, nil), wire.CodeNodeExists)
		wantCode(t, "delete not empty", w.call(wire.OpDelete, &wire.PathVersionRequest{Path: "/w", Version: -1}, nil), wire.CodeNotEmpty)
		c.noEvent()
		// The watches are still armed.
		w.setData("/w", "5")
		wantEvent(t, c, event(wire.EventNodeDataChanged, "/w"))
	})
	step(t, "multi fires the watches of its ops", func(t *testing.T) {
		c.mustOK("getData watch", c.watchData("/w/a"))
		wantCode(t, "exists watch", c.watchExists("/w/z"), wire.CodeNoNode)
		w.mustOK("multi", w.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/w/a", Data: []byte("x"), Version: -1}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/w/z", ACL: openACL}},
		}}, &wire.MultiResponse{}))
		// The child watch on /w armed in the previous step fires too.
		got := []wire.WatcherEvent{c.nextEvent(), c.nextEvent(), c.nextEvent()}
		want := []wire.WatcherEvent{event(wire.EventNodeDataChanged, "/w/a"), event(wire.EventNodeCreated, "/w/z"),
			event(wire.EventNodeChildrenChanged, "/w")}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("events %+v, want %+v", got, want)
		}
		// A failed multi fires nothing.
		c.mustOK("getData watch", c.watchData("/w/a"))
		w.mustOK("failed multi", w.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/w/a", Data: []byte("y"), Version: -1}},
			{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/w", Version: 999}},
		}}, &wire.MultiResponse{}))
		c.noEvent()
	})
	// 3.8 sends zxid -1 in a notification's reply header (3.9 sends the txn's).
	for i, z := range c.eventZxids {
		if z != -1 {
			t.Fatalf("notification %d carried zxid 0x%x, want -1", i, z)
		}
	}
	if len(c.eventZxids) == 0 {
		t.Fatal("no notifications recorded")
	}
}

// The notification reaches the writer's own connection before the reply
// to the write that fired it.
func TestNotificationBeforeReply(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	c.create("/o", nil, wire.ModePersistent)
	for _, tc := range []struct {
		name  string
		watch func()
		op    int32
		body  wire.Record
		ev    wire.WatcherEvent
	}{
		{"setData", func() { c.watchData("/o") }, wire.OpSetData, &wire.SetDataRequest{Path: "/o", Data: []byte("x"), Version: -1}, event(wire.EventNodeDataChanged, "/o")},
		{"create", func() { c.watchChildren("/o") }, wire.OpCreate, &wire.CreateRequest{Path: "/o/c", ACL: openACL}, event(wire.EventNodeChildrenChanged, "/o")},
		{"delete", func() { c.watchData("/o/c") }, wire.OpDelete, &wire.PathVersionRequest{Path: "/o/c", Version: -1}, event(wire.EventNodeDeleted, "/o/c")},
	} {
		tc.watch()
		c.trace = nil
		c.mustOK(tc.name, c.call(tc.op, tc.body, nil))
		want := []string{fmt.Sprintf("event %d %s", tc.ev.Type, tc.ev.Path), fmt.Sprintf("reply %d", c.xid)}
		if fmt.Sprint(c.trace) != fmt.Sprint(want) {
			t.Fatalf("%s: received %q, want %q", tc.name, c.trace, want)
		}
		c.events = nil
	}
}

func (c *rawConn) addWatch(path string, mode int32) {
	c.t.Helper()
	h, body := c.callRaw(wire.OpAddWatch, &wire.AddWatchRequest{Path: path, Mode: mode})
	// The reply body is an ErrorResponse{err 0}: 4 zero bytes.
	if h.Err != wire.CodeOK || len(body) != 4 || body[0]|body[1]|body[2]|body[3] != 0 {
		c.t.Fatalf("addWatch %s: %+v body %x", path, h, body)
	}
}

func TestPersistentWatch(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	w := rawSession(t, s.Addr())
	c.addWatch("/pw", wire.AddWatchPersistent) // on a missing node
	w.create("/pw", nil, wire.ModePersistent)
	wantEvent(t, c, event(wire.EventNodeCreated, "/pw"))
	w.setData("/pw", "1")
	wantEvent(t, c, event(wire.EventNodeDataChanged, "/pw"))
	w.setData("/pw", "2")
	wantEvent(t, c, event(wire.EventNodeDataChanged, "/pw"))
	w.create("/pw/a", nil, wire.ModePersistent)
	wantEvent(t, c, event(wire.EventNodeChildrenChanged, "/pw"))
	w.setData("/pw/a", "x") // not recursive
	w.create("/pw/a/b", nil, wire.ModePersistent)
	c.noEvent()
	w.delete("/pw/a/b")
	w.delete("/pw/a")
	wantEvent(t, c, event(wire.EventNodeChildrenChanged, "/pw"))
	w.delete("/pw")
	wantEvent(t, c, event(wire.EventNodeDeleted, "/pw"))
	w.create("/pw", nil, wire.ModePersistent)
	wantEvent(t, c, event(wire.EventNodeCreated, "/pw"))
	c.noEvent()
	// removeWatches with type Any removes it.
	c.mustOK("removeWatches", c.call(wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/pw", Type: wire.WatcherAny}, nil))
	w.setData("/pw", "3")
	c.noEvent()
}

// A persistent-recursive watch fires for the path and every descendant with
// NodeCreated, NodeDeleted and NodeDataChanged, never NodeChildrenChanged.
func TestPersistentRecursiveWatch(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	w := rawSession(t, s.Addr())
	w.create("/r", nil, wire.ModePersistent)
	w.create("/other", nil, wire.ModePersistent)
	c.addWatch("/r", wire.AddWatchPersistentRecursive)
	steps := []struct {
		do   func()
		want []wire.WatcherEvent
	}{
		{func() { w.create("/r/a", nil, wire.ModePersistent) }, []wire.WatcherEvent{event(wire.EventNodeCreated, "/r/a")}},
		{func() { w.create("/r/a/b", nil, wire.ModeEphemeral) }, []wire.WatcherEvent{event(wire.EventNodeCreated, "/r/a/b")}},
		{func() { w.setData("/r/a/b", "x") }, []wire.WatcherEvent{event(wire.EventNodeDataChanged, "/r/a/b")}},
		{func() { w.setData("/r", "x") }, []wire.WatcherEvent{event(wire.EventNodeDataChanged, "/r")}},
		{func() { w.setData("/other", "x") }, nil},
		{func() { w.create("/rx", nil, wire.ModePersistent) }, nil}, // a sibling with the same prefix
		{func() { w.delete("/r/a/b") }, []wire.WatcherEvent{event(wire.EventNodeDeleted, "/r/a/b")}},
		{func() { w.setData("/r/a", "again") }, []wire.WatcherEvent{event(wire.EventNodeDataChanged, "/r/a")}},
	}
	for i, st := range steps {
		st.do()
		for _, want := range st.want {
			if got := c.nextEvent(); got != want {
				t.Fatalf("step %d: event %+v, want %+v", i, got, want)
			}
		}
		c.noEvent()
	}
	// A connection-wide one-shot child watch on /r still gets
	// NodeChildrenChanged from another connection's point of view.
	o := rawSession(t, s.Addr())
	o.mustOK("child watch", o.watchChildren("/r"))
	w.create("/r/z", nil, wire.ModePersistent)
	wantEvent(t, o, event(wire.EventNodeChildrenChanged, "/r"))
	wantEvent(t, c, event(wire.EventNodeCreated, "/r/z"))
	c.noEvent()
}

func TestCheckAndRemoveWatches(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	w := rawSession(t, s.Addr())
	w.create("/x", nil, wire.ModePersistent)
	chk := func(typ int32) wire.Code {
		return c.call(wire.OpCheckWatches, &wire.WatchesRequest{Path: "/x", Type: typ}, nil)
	}
	rm := func(typ int32) wire.Code {
		return c.call(wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/x", Type: typ}, nil)
	}
	// Unknown watcher types (4 and 5 exist only since 3.9) and addWatch
	// modes: MARSHALLINGERROR, the connection stays (observed on 3.8.0).
	for _, typ := range []int32{0, 4, 5, 9, -1} {
		wantCode(t, fmt.Sprintf("checkWatches type %d", typ), chk(typ), wire.CodeMarshallingError)
		wantCode(t, fmt.Sprintf("removeWatches type %d", typ), rm(typ), wire.CodeMarshallingError)
	}
	for _, mode := range []int32{2, 5, -1} {
		wantCode(t, fmt.Sprintf("addWatch mode %d", mode), c.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/x", Mode: mode}, nil), wire.CodeMarshallingError)
	}
	wantCode(t, "checkWatches none", chk(wire.WatcherAny), wire.CodeNoWatcher)
	wantCode(t, "removeWatches none", rm(wire.WatcherAny), wire.CodeNoWatcher)
	c.mustOK("getData watch", c.watchData("/x"))
	wantCode(t, "check children", chk(wire.WatcherChildren), wire.CodeNoWatcher)
	wantCode(t, "check data", chk(wire.WatcherData), wire.CodeOK)
	wantCode(t, "check any", chk(wire.WatcherAny), wire.CodeOK)
	// checkWatches does not remove.
	wantCode(t, "check data again", chk(wire.WatcherData), wire.CodeOK)
	wantCode(t, "remove children", rm(wire.WatcherChildren), wire.CodeNoWatcher)
	wantCode(t, "remove data", rm(wire.WatcherData), wire.CodeOK)
	wantCode(t, "remove data again", rm(wire.WatcherData), wire.CodeNoWatcher)
	w.setData("/x", "1")
	c.noEvent()
	c.mustOK("getChildren watch", c.watchChildren("/x"))
	c.mustOK("exists watch", c.watchExists("/x"))
	wantCode(t, "remove any", rm(wire.WatcherAny), wire.CodeOK)
	wantCode(t, "check any after remove", chk(wire.WatcherAny), wire.CodeNoWatcher)
	w.create("/x/c", nil, wire.ModePersistent)
	w.setData("/x", "2")
	c.noEvent()
	// Another connection's watches are not this one's.
	w.mustOK("w watch", w.watchData("/x"))
	wantCode(t, "remove other's", rm(wire.WatcherData), wire.CodeNoWatcher)
	// checkWatches only asks whether the path is watched at all: Apache
	// 3.8.0 answers OK for another connection's watch (observed; the Java
	// client removes its own watcher client-side).
	wantCode(t, "check other's data watch", chk(wire.WatcherData), wire.CodeOK)
	wantCode(t, "check other's: no child watch", chk(wire.WatcherChildren), wire.CodeNoWatcher)
	w.setData("/x", "3")
	wantEvent(t, w, event(wire.EventNodeDataChanged, "/x"))
}

// setWatches on reconnect: data watch -> NodeDeleted if gone, NodeDataChanged
// if mzxid > relativeZxid; exist watch -> NodeCreated if it exists; child
// watch -> NodeDeleted if gone, NodeChildrenChanged if pzxid > relativeZxid;
// the rest are re-registered (DataTree.setWatches).
func TestSetWatchesOnReconnect(t *testing.T) {
	s := newServer(t)
	w := rawSession(t, s.Addr())
	for _, p := range []string{"/dchg", "/ddel", "/dsame", "/ecre", "/cchg", "/cdel", "/csame", "/pers", "/rec"} {
		w.create(p, nil, wire.ModePersistent)
	}
	c := rawSession(t, s.Addr())
	c.ping()
	rel := c.zxid()
	// Changes the client "missed".
	w.setData("/dchg", "x")
	w.delete("/ddel")
	w.create("/cchg/kid", nil, wire.ModePersistent)
	w.delete("/cdel")

	c2, resp := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	if resp.SessionID != c.SessionID {
		t.Fatalf("reattach: %+v", resp)
	}
	c.nc.Close()
	xid := c2.send(wire.XidSetWatches, wire.OpSetWatches2, &wire.SetWatches{
		V2:                  true,
		RelativeZxid:        rel,
		DataWatches:         []string{"/dchg", "/ddel", "/dsame"},
		ExistWatches:        []string{"/ecre", "/emiss"},
		ChildWatches:        []string{"/cchg", "/cdel", "/csame"},
		PersistentWatches:   []string{"/pers"},
		PersistentRecursive: []string{"/rec"},
	})
	h, _, err := c2.recv(xid)
	if err != nil || h.Err != wire.CodeOK {
		t.Fatalf("setWatches2: %+v %v", h, err)
	}
	got := make([]string, 0, len(c2.events))
	for _, ev := range c2.events {
		got = append(got, fmt.Sprintf("%d %s", ev.Type, ev.Path))
	}
	c2.events = nil
	sort.Strings(got)
	want := []string{
		fmt.Sprintf("%d /dchg", wire.EventNodeDataChanged),
		fmt.Sprintf("%d /ddel", wire.EventNodeDeleted),
		fmt.Sprintf("%d /ecre", wire.EventNodeCreated),
		fmt.Sprintf("%d /cchg", wire.EventNodeChildrenChanged),
		fmt.Sprintf("%d /cdel", wire.EventNodeDeleted),
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("setWatches fired %q, want %q", got, want)
	}
	// The others were re-registered.
	w.setData("/dsame", "1")
	wantEvent(t, c2, event(wire.EventNodeDataChanged, "/dsame"))
	w.create("/emiss", nil, wire.ModePersistent)
	wantEvent(t, c2, event(wire.EventNodeCreated, "/emiss"))
	w.create("/csame/k", nil, wire.ModePersistent)
	wantEvent(t, c2, event(wire.EventNodeChildrenChanged, "/csame"))
	w.setData("/pers", "1")
	wantEvent(t, c2, event(wire.EventNodeDataChanged, "/pers"))
	w.setData("/pers", "2")
	wantEvent(t, c2, event(wire.EventNodeDataChanged, "/pers"))
	w.create("/rec/a", nil, wire.ModePersistent)
	wantEvent(t, c2, event(wire.EventNodeCreated, "/rec/a"))
	c2.noEvent()

	// setWatches (101) has no persistent lists.
	c3, _ := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	// Java clients send empty lists, never null ones (Apache fails on null).
	xid = c3.send(wire.XidSetWatches, wire.OpSetWatches, &wire.SetWatches{RelativeZxid: c2.zxid(),
		DataWatches: []string{"/dsame"}, ExistWatches: []string{}, ChildWatches: []string{}})
	if h, _, err := c3.recv(xid); err != nil || h.Err != wire.CodeOK {
		t.Fatalf("setWatches: %+v %v", h, err)
	}
	w.setData("/dsame", "2")
	wantEvent(t, c3, event(wire.EventNodeDataChanged, "/dsame"))
}

// gatedDialer lets a test cut go-zookeeper's connection and hold its
// reconnection until released.
type gatedDialer struct {
	mu      sync.Mutex
	conns   []net.Conn
	gate    chan struct{}
	release func()
}

func (g *gatedDialer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	nc, err := net.DialTimeout(network, addr, timeout)
	if err == nil {
		g.mu.Lock()
		g.conns = append(g.conns, nc)
		g.mu.Unlock()
	}
	return nc, err
}

// cut closes the live connection and holds the redial until the returned
// function is called.
func (g *gatedDialer) cut() (release func()) {
	g.mu.Lock()
	gate := make(chan struct{})
	g.gate = gate
	for _, nc := range g.conns {
		nc.Close()
	}
	g.conns = nil
	g.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			g.mu.Lock()
			g.gate = nil
			g.mu.Unlock()
			close(gate)
		})
	}
	g.mu.Lock()
	g.release = release
	g.mu.Unlock()
	return release
}

// releaseAll opens a gate left closed by a failing test.
func (g *gatedDialer) releaseAll() {
	g.mu.Lock()
	release := g.release
	g.mu.Unlock()
	if release != nil {
		release()
	}
}

// connectGated connects go-zookeeper through a gatedDialer.
func connectGated(t *testing.T, addr string) (*zk.Conn, <-chan zk.Event, *gatedDialer) {
	t.Helper()
	g := &gatedDialer{}
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithDialer(g.dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	t.Cleanup(g.releaseAll) // runs before c.Close
	waitState(t, ev, zk.StateHasSession)
	return c, ev, g
}

func waitState(t testing.TB, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Type == zk.EventSession && e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v session event", want)
		}
	}
}

// go-zookeeper re-sends its watches with setWatches after a reconnect and
// gets the events it missed meanwhile.
func TestReconnectFiresMissedEvents(t *testing.T) {
	s := newServer(t)
	c, ev, g := connectGated(t, s.Addr())
	writer, _ := connect(t, s.Addr())
	_, err := c.Create("/rw", []byte("0"), 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, _, dataCh, err := c.GetW("/rw")
	must(t, err)
	_, _, existCh, err := c.ExistsW("/rw-new")
	must(t, err)
	_, _, childCh, err := c.ChildrenW("/rw")
	must(t, err)
	sid := c.SessionID()

	release := g.cut()
	waitState(t, ev, zk.StateDisconnected)
	_, err = writer.Set("/rw", []byte("1"), -1)
	must(t, err)
	_, err = writer.Create("/rw-new", nil, 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = writer.Create("/rw/kid", nil, 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	release()
	waitState(t, ev, zk.StateHasSession)
	if c.SessionID() != sid {
		t.Fatalf("session changed on reconnect: 0x%x -> 0x%x", sid, c.SessionID())
	}
	for name, tc := range map[string]struct {
		ch   <-chan zk.Event
		typ  zk.EventType
		path string
	}{
		"data":  {dataCh, zk.EventNodeDataChanged, "/rw"},
		"exist": {existCh, zk.EventNodeCreated, "/rw-new"},
		"child": {childCh, zk.EventNodeChildrenChanged, "/rw"},
	} {
		e := nextEvent(t, tc.ch)
		if e.Type != tc.typ || e.Path != tc.path {
			t.Errorf("%s watch: %+v, want %v %s", name, e, tc.typ, tc.path)
		}
	}
}

// In 3.8 one connection holds one watch mode per path and table: the last
// registration replaces the earlier one (WatcherModeManager); 3.9 lets
// them coexist (ZOOKEEPER-4466). Observed on Apache 3.8.0.
func TestWatchModeReplacement(t *testing.T) {
	if !apacheMode() {
		t.Skip("deliberate difference: zkgo keeps standard and persistent watches of one connection side by side, as 3.9 does (ZOOKEEPER-4466); 3.8 lets a later mode replace the earlier one and loses the persistent watch")
	}
	s := newServer(t)
	c := rawSession(t, s.Addr())
	w := rawSession(t, s.Addr())
	for _, p := range []string{"/a", "/b", "/r"} {
		w.create(p, nil, wire.ModePersistent)
	}
	// Standard, then persistent: persistent.
	c.mustOK("getData watch", c.watchData("/a"))
	c.addWatch("/a", wire.AddWatchPersistent)
	w.setData("/a", "1")
	w.setData("/a", "2")
	wantEvent(t, c, event(wire.EventNodeDataChanged, "/a"))
	wantEvent(t, c, event(wire.EventNodeDataChanged, "/a"))
	c.noEvent()
	// Persistent, then standard: one-shot.
	c.addWatch("/b", wire.AddWatchPersistent)
	c.mustOK("getData watch", c.watchData("/b"))
	w.setData("/b", "1")
	w.setData("/b", "2")
	wantEvent(t, c, event(wire.EventNodeDataChanged, "/b"))
	c.noEvent()
	// Recursive, then persistent: persistent (no events for descendants).
	c.addWatch("/r", wire.AddWatchPersistentRecursive)
	c.addWatch("/r", wire.AddWatchPersistent)
	w.create("/r/x", nil, wire.ModePersistent)
	wantEvent(t, c, event(wire.EventNodeChildrenChanged, "/r"))
	c.noEvent()
}

// A persistent watch sits in both of Apache's tables: removeWatches with
// type Children removes only the child side (data events go on), type Data
// then removes the rest; a recursive watch answers checkWatches for both
// types. Observed on Apache 3.8.0.
func TestRemovePersistentWatchByType(t *testing.T) {
	s := newServer(t)
	c := rawSession(t, s.Addr())
	w := rawSession(t, s.Addr())
	w.create("/p", nil, wire.ModePersistent)
	c.addWatch("/p", wire.AddWatchPersistent)
	c.mustOK("remove children side", c.call(wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/p", Type: wire.WatcherChildren}, nil))
	w.setData("/p", "1")
	w.create("/p/k", nil, wire.ModePersistent)
	wantEvent(t, c, event(wire.EventNodeDataChanged, "/p"))
	c.noEvent()
	c.mustOK("remove data side", c.call(wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/p", Type: wire.WatcherData}, nil))
	w.setData("/p", "2")
	c.noEvent()
	w.create("/q", nil, wire.ModePersistent)
	c.addWatch("/q", wire.AddWatchPersistentRecursive)
	c.mustOK("check recursive as children", c.call(wire.OpCheckWatches, &wire.WatchesRequest{Path: "/q", Type: wire.WatcherChildren}, nil))
	c.mustOK("check recursive as data", c.call(wire.OpCheckWatches, &wire.WatchesRequest{Path: "/q", Type: wire.WatcherData}, nil))
}
