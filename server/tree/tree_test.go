package tree

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

func TestNewTreeHasApacheSystemNodes(t *testing.T) {
	tr := New()
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		if tr.Get(p) == nil {
			t.Fatalf("%s missing", p)
		}
	}
	// Apache's DataTree keys the root as "" and "/": a fresh server reports 5.
	if n := tr.NodeCount(); n != 5 {
		t.Fatalf("NodeCount = %d, want 5", n)
	}
	// Apache 3.8 reports zk_approximate_data_size 44 on a fresh server:
	// the paths of /, /zookeeper, /zookeeper/quota and /zookeeper/config.
	if got := tr.DataSize(); got != 44 {
		t.Fatalf("DataSize = %d, want 44", got)
	}
}

func TestCversionCountsCreatesAndDeletes(t *testing.T) {
	tr := New()
	tr.Create("/p", nil, OpenACL, 0, 1, 10, 1000)
	tr.Create("/p/a", nil, OpenACL, 0, 1, 11, 1001)
	tr.Create("/p/b", nil, OpenACL, 0, 2, 12, 1002)
	tr.Delete("/p/a", 13)
	st := tr.Get("/p").Stat()
	// Two creates and one delete: clients see cversion 3 (DataNode.copyStat).
	if st.Cversion != 3 || st.NumChildren != 1 || st.Pzxid != 13 {
		t.Fatalf("stat %+v: want cversion 3, numChildren 1, pzxid 13", st)
	}
}

func TestOwnerEncodings(t *testing.T) {
	if IsEphemeral(ContainerOwner) {
		t.Fatal("container counted as ephemeral")
	}
	owner := TTLOwner(5000)
	if ttl, ok := IsTTL(owner); !ok || ttl != 5000 {
		t.Fatalf("IsTTL(TTLOwner(5000)) = %d, %v", ttl, ok)
	}
	if IsEphemeral(owner) {
		t.Fatal("TTL node counted as ephemeral")
	}
	if !IsEphemeral(0x1234) {
		t.Fatal("session id not ephemeral")
	}
	tr := New()
	tr.Create("/c", nil, OpenACL, ContainerOwner, 1, 2, 3)
	tr.Create("/t", nil, OpenACL, owner, 2, 3, 4)
	tr.Create("/e", nil, OpenACL, 0x1234, 3, 4, 5)
	// Clients see ephemeralOwner only for normal ephemerals.
	for p, want := range map[string]int64{"/c": 0, "/t": 0, "/e": 0x1234} {
		if got := tr.Get(p).Stat().EphemeralOwner; got != want {
			t.Fatalf("%s ephemeralOwner = %#x, want %#x", p, got, want)
		}
	}
	if got := tr.Ephemerals(0x1234); len(got) != 1 || got[0] != "/e" {
		t.Fatalf("Ephemerals = %v", got)
	}
	if len(tr.Containers()) != 1 || len(tr.TTLs()) != 1 {
		t.Fatalf("containers %v ttls %v", tr.Containers(), tr.TTLs())
	}
}

func TestSystemNodesCannotBeDeleted(t *testing.T) {
	tr := New()
	for _, p := range []string{"/zookeeper/config", "/zookeeper/quota"} {
		if tr.Delete(p, 1) {
			t.Fatalf("deleted %s", p)
		}
	}
	if got := tr.CountDescendants("/"); got != 3 {
		t.Fatalf("descendants of / = %d, want 3", got)
	}
}

// Replaying txns over a fuzzy snapshot, as Apache's DataTree does: a create
// of a node that is already there still raises its parent's cversion and
// pzxid, a delete of a node that is gone still raises its parent's pzxid,
// and a delete of a node with children (created after the delete in the
// real history) drops the whole subtree, ephemerals and containers too.
func TestReplayAdjustsParents(t *testing.T) {
	tr := New()
	tr.Create("/p", nil, OpenACL, 0, 1, 10, 1000)
	tr.Create("/p/a", nil, OpenACL, 0, 1, 11, 1001)

	if n := tr.Create("/p/a", []byte("again"), OpenACL, 0, 5, 20, 1002); n != nil {
		t.Fatal("Create of an existing node returned a node")
	}
	if p := tr.Get("/p"); p.Cversion != 5 || p.Pzxid != 20 {
		t.Errorf("after a replayed create: parent cversion %d pzxid %d, want 5 and 20", p.Cversion, p.Pzxid)
	}
	if string(tr.Get("/p/a").Data) != "" {
		t.Error("a replayed create changed the existing node")
	}
	// Lower values never lower the parent's counters.
	tr.Create("/p/a", nil, OpenACL, 0, 2, 15, 1003)
	if p := tr.Get("/p"); p.Cversion != 5 || p.Pzxid != 20 {
		t.Errorf("an older replayed create lowered the parent to cversion %d pzxid %d", p.Cversion, p.Pzxid)
	}

	if tr.Delete("/p/gone", 30) {
		t.Fatal("Delete of a missing node reported a delete")
	}
	if p := tr.Get("/p"); p.Pzxid != 30 {
		t.Errorf("after a replayed delete of a missing node: parent pzxid %d, want 30", p.Pzxid)
	}

	tr.Create("/p/a/e", nil, OpenACL, 7, 1, 31, 1004)
	tr.Create("/p/a/c", nil, OpenACL, ContainerOwner, 2, 32, 1005)
	tr.Create("/p/a/c/x", []byte("xx"), OpenACL, 0, 1, 33, 1006)
	size := tr.DataSize()
	if !tr.Delete("/p/a", 40) {
		t.Fatal("Delete of a node with children failed")
	}
	for _, p := range []string{"/p/a", "/p/a/e", "/p/a/c", "/p/a/c/x"} {
		if tr.Get(p) != nil {
			t.Errorf("%s still there after its ancestor's delete", p)
		}
	}
	if len(tr.Ephemerals(7)) != 0 || len(tr.Containers()) != 0 {
		t.Errorf("ephemerals %v, containers %v left after the subtree went", tr.Ephemerals(7), tr.Containers())
	}
	if want := size - int64(len("/p/a")+len("/p/a/e")+len("/p/a/c")+len("/p/a/c/x")+2); tr.DataSize() != want {
		t.Errorf("data size %d, want %d", tr.DataSize(), want)
	}
	if st := tr.Get("/p").Stat(); st.NumChildren != 0 || st.Pzxid != 40 {
		t.Errorf("parent after the delete: %+v", st)
	}
}

// WalkFuzzy visits every node that exists for the whole walk exactly once,
// while the tree changes between its chunks, and no node twice.
func TestWalkFuzzyWhileChanging(t *testing.T) {
	tr := New()
	tr.Create("/a", nil, OpenACL, 0, 1, 1, 0)
	for i := range 50 {
		tr.Create("/a/"+string(rune('A'+i)), nil, OpenACL, 0, int32(i+1), int64(i+2), 0)
	}
	stable := map[string]bool{"/": true, "/zookeeper": true, "/zookeeper/quota": true, "/zookeeper/config": true, "/a": true}
	for i := range 25 {
		stable["/a/"+string(rune('A'+i))] = true
	}
	seen := map[string]int{}
	z := int64(100)
	err := tr.WalkFuzzy(3, func(path string, n *Node) error {
		seen[path]++
		return nil
	}, func() error {
		// The applier between two chunks: the later half of /a's
		// children go, new ones come.
		tr.Lock()
		defer tr.Unlock()
		z++
		if i := 25 + int(z%25); tr.Get("/a/"+string(rune('A'+i))) != nil {
			tr.Delete("/a/"+string(rune('A'+i)), z)
		}
		tr.Create("/a/new"+string(rune('a'+z%26)), nil, OpenACL, 0, int32(z), z, 0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range stable {
		if seen[p] != 1 {
			t.Errorf("%s visited %d times, want once", p, seen[p])
		}
	}
	for p, n := range seen {
		if n > 1 {
			t.Errorf("%s visited %d times", p, n)
		}
	}
}

// A fuzzy snapshot can hold a path twice (deleted and created again during
// the walk); restoring the later node must drop the earlier one from the
// ephemeral set, or its session's close would delete the node that
// replaced it.
func TestRestoreReplacesEphemeral(t *testing.T) {
	tr := New()
	tr.RestoreAll([]Restoring{
		{"/e", &Node{Data: []byte("old"), Owner: 7}},
		{"/e", &Node{Data: []byte("new")}},
	})
	if eph := tr.Ephemerals(7); len(eph) != 0 {
		t.Fatalf("session 7 still owns %v after /e was replaced by a persistent node", eph)
	}
	if n := tr.Get("/e"); n == nil || string(n.Data) != "new" {
		t.Fatalf("/e = %v", n)
	}
}

// A tree restored from its own nodes, in any order, is the tree it was:
// the same children, data size, ephemerals, containers and TTL nodes.
func TestRestoreAllRebuildsIndexes(t *testing.T) {
	tr := New()
	tr.Create("/app", nil, OpenACL, 0, 1, 1, 1)
	tr.Create("/app/cfg", []byte("x=1"), OpenACL, 0, 1, 2, 1)
	tr.Create("/app/lock", nil, OpenACL, ContainerOwner, 2, 3, 1)
	tr.Create("/app/lock/e1", []byte("me"), OpenACL, 7, 1, 4, 1)
	tr.Create("/app/lock/e2", nil, OpenACL, 8, 2, 5, 1)
	tr.Create("/app/tmp", []byte("t"), OpenACL, TTLOwner(60000), 4, 6, 1)
	got := New()
	var ns []Restoring
	_ = tr.Walk(func(path string, n *Node) error {
		c := *n
		c.children = nil
		got.GiveACL(&c, tr.ACL(n))
		ns = append(ns, Restoring{path, &c})
		return nil
	})
	slices.Reverse(ns) // children before their parents
	if dropped := got.RestoreAll(ns); dropped != 0 {
		t.Fatalf("dropped %d", dropped)
	}
	if got.DataSize() != tr.DataSize() || got.NodeCount() != tr.NodeCount() {
		t.Errorf("data size %d and %d znodes, want %d and %d", got.DataSize(), got.NodeCount(), tr.DataSize(), tr.NodeCount())
	}
	_ = tr.Walk(func(path string, n *Node) error {
		if r := got.Get(path); r == nil || !slices.Equal(r.Children(), n.Children()) {
			t.Errorf("%s restored as %v, want children %v", path, r, n.Children())
		}
		return nil
	})
	for _, s := range []int64{7, 8} {
		if !slices.Equal(got.Ephemerals(s), tr.Ephemerals(s)) {
			t.Errorf("session %d owns %v, want %v", s, got.Ephemerals(s), tr.Ephemerals(s))
		}
	}
	if !slices.Equal(got.Containers(), []string{"/app/lock"}) || !slices.Equal(got.TTLs(), []string{"/app/tmp"}) {
		t.Errorf("containers %v, TTL nodes %v", got.Containers(), got.TTLs())
	}
}

// RestoreAll takes a snapshot's nodes in any order and leaves out those
// whose parent it does not hold, with their descendants (a fuzzy snapshot
// caught them after their parent was deleted).
func TestRestoreAllAnyOrder(t *testing.T) {
	mk := func(data string) *Node { return &Node{Data: []byte(data)} }
	tr := New()
	dropped := tr.RestoreAll([]Restoring{
		{"/a/b/c", mk("c")},
		{"/x/y", mk("orphan")},
		{"/a", mk("a")},
		{"/x/y/z", mk("orphan child")},
		{"/a/b", mk("b")},
		{"/", mk("")},
	})
	if dropped != 2 {
		t.Errorf("dropped %d, want 2 (/x/y and /x/y/z)", dropped)
	}
	for path, want := range map[string]string{"/a": "a", "/a/b": "b", "/a/b/c": "c"} {
		n := tr.Get(path)
		if n == nil || string(n.Data) != want {
			t.Fatalf("%s = %v, want data %q", path, n, want)
		}
	}
	if got := tr.Get("/a").Children(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("children of /a = %v", got)
	}
	if tr.Get("/x/y") != nil || tr.Get("/x/y/z") != nil {
		t.Error("nodes without a parent were restored")
	}
}

// Nodes with the same ACL share one entry of the ACL table, nodes with
// another ACL get theirs, setACL moves a node to another entry, and a
// null list stays apart from an empty one.
func TestACLTable(t *testing.T) {
	tr := New()
	digest := []wire.ACL{{Perms: wire.PermRead | wire.PermWrite, ID: wire.ID{Scheme: "digest", ID: "u:x"}}}
	digestAll := []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: "u:x"}}}
	a := tr.Create("/a", nil, OpenACL, 0, 1, 1, 1)
	b := tr.Create("/b", nil, digest, 0, 2, 2, 1)
	c := tr.Create("/c", nil, slices.Clone(digest), 0, 3, 3, 1)
	d := tr.Create("/d", nil, OpenACL, 0, 4, 4, 1)
	if !slices.Equal(tr.ACL(a), OpenACL) || !slices.Equal(tr.ACL(b), digest) || !slices.Equal(tr.ACL(c), digest) {
		t.Fatalf("ACLs %v %v %v", tr.ACL(a), tr.ACL(b), tr.ACL(c))
	}
	if &tr.ACL(b)[0] != &tr.ACL(c)[0] || &tr.ACL(a)[0] != &tr.ACL(d)[0] {
		t.Error("nodes with the same ACL do not share it")
	}
	tr.SetACL("/c", digestAll, 1)
	if !slices.Equal(tr.ACL(c), digestAll) || !slices.Equal(tr.ACL(b), digest) {
		t.Errorf("after setACL on /c: /c %v, /b %v", tr.ACL(c), tr.ACL(b))
	}
	n, e := &Node{}, &Node{}
	tr.GiveACL(n, nil)
	tr.GiveACL(e, []wire.ACL{})
	tr.RestoreAll([]Restoring{{"/n", n}, {"/e", e}})
	if got := tr.ACL(tr.Get("/n")); got != nil {
		t.Errorf("null ACL restored as %#v", got)
	}
	if got := tr.ACL(tr.Get("/e")); got == nil || len(got) != 0 {
		t.Errorf("empty ACL restored as %#v", got)
	}
}

// CountDescendants walks a small subtree and scans the keys for a large
// one (over a sixteenth of the tree: /flat at once, /wide after the walk
// gave up); each must count what the keys under the prefix count,
// including for a sibling whose name extends another's (/a and /ab).
func TestCountDescendants(t *testing.T) {
	tr := New()
	zxid := int64(0)
	create := func(p string) {
		zxid++
		if tr.Create(p, nil, OpenACL, 0, 1, zxid, 0) == nil {
			t.Fatalf("create %s", p)
		}
	}
	create("/a")
	create("/ab")
	create("/ab/x")
	create("/a/deep")
	for d, p := 0, "/a/deep"; d < 20; d++ {
		p += "/d"
		create(p)
	}
	create("/wide") // 55 descendants, 5 at its own level: the walk gives up midway
	for i := range 5 {
		create(fmt.Sprintf("/wide/c%d", i))
		for j := range 10 {
			create(fmt.Sprintf("/wide/c%d/g%d", i, j))
		}
	}
	create("/flat")
	for i := range 500 { // a third of the tree: counted by the scan
		create(fmt.Sprintf("/flat/n%d", i))
		if i%50 == 0 {
			create(fmt.Sprintf("/flat/n%d/kid", i))
		}
	}
	// want counts by prefix over the node map, the definition Apache uses.
	want := func(p string) int {
		if tr.Get(p) == nil {
			return 0
		}
		prefix := p + "/"
		if p == "/" {
			prefix = "/"
		}
		n := 0
		for k := range tr.nodes {
			if k != p && strings.HasPrefix(k, prefix) {
				n++
			}
		}
		return n
	}
	for _, p := range []string{"/", "/a", "/ab", "/ab/x", "/a/deep", "/wide", "/wide/c1", "/flat", "/flat/n0", "/flat/n1", "/zookeeper", "/nope"} {
		if got, w := tr.CountDescendants(p), want(p); got != w {
			t.Errorf("CountDescendants(%s) = %d, want %d", p, got, w)
		}
	}
	if got := tr.CountDescendants("/flat"); got != 510 {
		t.Errorf("CountDescendants(/flat) = %d, want 510", got)
	}
}
