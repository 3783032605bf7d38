package txn

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/internal/quota"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// fuzzyPaths is a small path space, so that random writes collide: nodes
// are created, deleted and created again under parents that come and go.
var fuzzyPaths = []string{"/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/a/x/w", "/b/x/z"}

func randomWrite(rng *rand.Rand) Request {
	path := fuzzyPaths[rng.IntN(len(fuzzyPaths))]
	data := fmt.Appendf(nil, "v%d", rng.IntN(1000))
	session := int64(1 + rng.IntN(3))
	switch rng.IntN(9) {
	case 0, 1, 2:
		flags := int32(rng.IntN(4)) // persistent, ephemeral, sequential, both
		return Request{SessionID: session, Type: wire.OpCreate,
			Body: &wire.CreateRequest{Path: path, Data: data, ACL: tree.OpenACL, Flags: flags}}
	case 3, 4:
		return Request{SessionID: session, Type: wire.OpDelete, Body: &wire.PathVersionRequest{Path: path, Version: -1}}
	case 5, 6:
		return Request{SessionID: session, Type: wire.OpSetData, Body: &wire.SetDataRequest{Path: path, Data: data, Version: -1}}
	case 7:
		acl := tree.OpenACL
		if rng.IntN(2) == 0 {
			acl = []wire.ACL{{Perms: wire.PermAll &^ wire.PermDelete, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
		}
		return Request{SessionID: session, Type: wire.OpSetACL, Body: &wire.SetACLRequest{Path: path, ACL: acl, Version: -1}}
	default:
		if rng.IntN(3) == 0 {
			return Request{SessionID: session, Type: wire.OpCloseSession}
		}
		other := fuzzyPaths[rng.IntN(len(fuzzyPaths))]
		return Request{SessionID: session, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: []wire.Op{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: path, Data: data, ACL: tree.OpenACL}},
			{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: other, Version: -1}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: path, Data: data, Version: -1}},
		}}}
	}
}

// nodeView is what a client can see of a znode.
type nodeView struct {
	data string
	acl  string
	stat wire.Stat
	kids []string
}

func viewOf(t *tree.Tree) map[string]nodeView {
	out := map[string]nodeView{}
	_ = t.Walk(func(path string, n *tree.Node) error {
		out[path] = nodeView{data: string(n.Data), acl: fmt.Sprint(t.ACL(n)), stat: n.Stat(), kids: n.Children()}
		return nil
	})
	return out
}

// A fuzzy snapshot (tree.WalkFuzzy, with the applier going on between its
// chunks) restored and replayed from the zxid it is labelled with gives the
// live tree exactly: every znode with its data, ACL, Stat and children.
// This is what makes snapshots that do not stall writes safe: recovery is
// the snapshot plus the log after its label.
func TestReplayOverFuzzySnapshot(t *testing.T) {
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 7))
		live := tree.New()
		p := NewPrep(live, Options{})
		var zxid int64
		var logged []*Txn
		applyReq := func(req Request) {
			x, ch := p.Prep(&req, 1000+zxid)
			zxid++
			x.Zxid = zxid
			p.Commit(ch, zxid)
			live.Lock()
			Apply(live, x)
			live.Unlock()
			p.Applied(zxid)
			logged = append(logged, x)
		}
		applyOne := func() { applyReq(randomWrite(rng)) }
		// Half the seeds put a quota on /a first: its usage, rewritten in
		// place by every write under /a, must come out of the replay as
		// in the live tree, and equal to what /a's subtree holds.
		withQuota := seed%2 == 0
		if withQuota {
			for _, q := range []struct{ path, data string }{
				{quota.Root + "/a", ""}, {quota.LimitPath("/a"), "count=5,bytes=-1"}, {quota.StatPath("/a"), "count=0,bytes=0"},
			} {
				applyReq(Request{SessionID: 1, Type: wire.OpCreate,
					Body: &wire.CreateRequest{Path: q.path, Data: []byte(q.data), ACL: tree.OpenACL}})
			}
		}
		for range 100 + rng.IntN(200) {
			applyOne()
		}

		label := zxid
		type snapNode struct {
			path string
			node tree.Node
			acl  []wire.ACL
		}
		var snap []snapNode
		err := live.WalkFuzzy(1+rng.IntN(3), func(path string, n *tree.Node) error {
			snap = append(snap, snapNode{path, tree.Node{Data: bytes.Clone(n.Data),
				Czxid: n.Czxid, Mzxid: n.Mzxid, Pzxid: n.Pzxid, Ctime: n.Ctime, Mtime: n.Mtime,
				Version: n.Version, Cversion: n.Cversion, Aversion: n.Aversion, Owner: n.Owner}, slices.Clone(live.ACL(n))})
			return nil
		}, func() error {
			for range rng.IntN(5) {
				applyOne()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for range rng.IntN(20) {
			applyOne()
		}

		restored := tree.New()
		ns := make([]tree.Restoring, len(snap))
		for i := range snap {
			restored.GiveACL(&snap[i].node, snap[i].acl)
			ns[i] = tree.Restoring{Path: snap[i].path, Node: &snap[i].node}
		}
		restored.RestoreAll(ns)
		for _, x := range logged {
			if x.Zxid > label {
				Apply(restored, x)
			}
		}
		want, got := viewOf(live), viewOf(restored)
		for path, w := range want {
			g, ok := got[path]
			switch {
			case !ok:
				t.Errorf("seed %d: %s missing after replay", seed, path)
			case g.data != w.data || g.acl != w.acl || !slices.Equal(g.kids, w.kids):
				t.Errorf("seed %d: %s = %q %s %v, want %q %s %v", seed, path, g.data, g.acl, g.kids, w.data, w.acl, w.kids)
			case g.stat != w.stat:
				t.Errorf("seed %d: %s stat\n got %+v\nwant %+v", seed, path, g.stat, w.stat)
			}
		}
		for path := range got {
			if _, ok := want[path]; !ok {
				t.Errorf("seed %d: %s exists after replay, not in the live tree", seed, path)
			}
		}
		if withQuota {
			var count, size int
			for path, v := range want {
				if path == "/a" || strings.HasPrefix(path, "/a/") {
					count++
					size += len(v.data)
				}
			}
			if got, recount := want[quota.StatPath("/a")].data, fmt.Sprintf("count=%d,bytes=%d", count, size); got != recount {
				t.Errorf("seed %d: live usage of /a %q, its subtree holds %q", seed, got, recount)
			}
		}
		if t.Failed() {
			return
		}
	}
}
