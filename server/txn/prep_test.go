package txn

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// TestMultiSeesItsOwnEarlierOps: each op of a multi is checked against the
// changes of the ops before it (PrepRequestProcessor's pendingChanges), also
// in a multi too large for the overlay's linear search: a create of a node
// an earlier op created fails with NODEEXISTS, the op after it with
// RUNTIMEINCONSISTENCY and the ones before with OK; without the failing op
// every setData sees the node created before it (version 0 matches).
func TestMultiSeesItsOwnEarlierOps(t *testing.T) {
	const n = 3 * overlayIndexAt
	build := func(dup int) *wire.MultiRequest {
		mr := &wire.MultiRequest{}
		for i := range n {
			p := "/m" + strconv.Itoa(i)
			mr.Ops = append(mr.Ops,
				wire.Op{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: p, ACL: tree.OpenACL}},
				wire.Op{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: p, Data: []byte("x"), Version: 0}})
		}
		if dup >= 0 {
			mr.Ops = append(mr.Ops, wire.Op{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m" + strconv.Itoa(dup), ACL: tree.OpenACL}},
				wire.Op{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/m0", Version: -1}})
		}
		return mr
	}
	p := NewPrep(tree.New(), Options{})
	x, _ := p.Prep(&Request{SessionID: 1, Type: wire.OpMulti, Body: build(-1)}, 0)
	if x.Type != TypeMulti || len(x.Ops) != 2*n {
		t.Fatalf("multi: type %d with %d ops, want a multi txn of %d", x.Type, len(x.Ops), 2*n)
	}
	for i, op := range x.Ops {
		if op.Type == TypeError {
			t.Fatalf("op %d failed with %d", i, op.Err)
		}
	}
	x, _ = p.Prep(&Request{SessionID: 1, Type: wire.OpMulti, Body: build(n - 1)}, 0)
	if len(x.Ops) != 2*n+2 {
		t.Fatalf("failed multi has %d results, want %d", len(x.Ops), 2*n+2)
	}
	for i, op := range x.Ops {
		want := wire.CodeOK
		switch {
		case i == 2*n:
			want = wire.CodeNodeExists
		case i > 2*n:
			want = wire.CodeRuntimeInconsistency
		}
		if op.Err != want {
			t.Errorf("op %d: code %d, want %d", i, op.Err, want)
		}
	}
}

// A path outside the Basic Multilingual Plane is refused as Apache
// refuses it, but a txn naming one (in the log of a zkgo that took such
// paths) still applies: what a server acknowledged must load again.
func TestNonBMPPathRefusedButReplayed(t *testing.T) {
	tr := tree.New()
	p := NewPrep(tr, Options{})
	const path = "/emoji\U0001F600"
	x, _ := p.Prep(&Request{SessionID: 1, Type: wire.OpCreate, Body: &wire.CreateRequest{Path: path, ACL: tree.OpenACL}}, 0)
	if x.Type != TypeError || x.Err != wire.CodeBadArguments {
		t.Fatalf("prep of create %q: type %d err %d, want an error txn with BADARGUMENTS", path, x.Type, x.Err)
	}
	old := &Txn{Header: Header{Type: TypeCreate, Zxid: 5}, Path: path, ACL: tree.OpenACL, ParentCVersion: 1}
	if res, _ := ApplyTo(tr, old, nil); res.Err != wire.CodeOK || tr.Get(path) == nil {
		t.Fatalf("replaying a logged create of %q: %+v, node %v", path, res, tr.Get(path))
	}
}

// The prep step checks a request against the tree and the txns committed
// to it but not applied yet. Its answer must not depend on how far the
// apply lags: a leader applies once its own log has a txn, and its
// followers may have committed many more by then. Random writes from
// three sessions (creates of every mode, deletes, setData, setACL, multis,
// closeSession) are prepped twice, once with every txn applied at once
// and once with the apply up to 12 txns behind; the txns must be the same
// bytes and the trees the same in the end. (A closeSession with an ephemeral
// still in flight left its parent counting the child, so deleting the
// parent failed with NOTEMPTY until the create was applied.)
func TestPrepDoesNotDependOnApplyLag(t *testing.T) {
	for seed := range uint64(1000) {
		rng := rand.New(rand.NewPCG(seed, 11))
		reqs := make([]Request, 150+rng.IntN(150))
		for i := range reqs {
			reqs[i] = randomWrite(rng)
		}
		run := func(lag func() bool) ([][]byte, *tree.Tree) {
			tr := tree.New()
			p := NewPrep(tr, Options{})
			var out [][]byte
			var queue []*Txn
			apply := func() {
				x := queue[0]
				queue = queue[1:]
				tr.Lock()
				Apply(tr, x)
				tr.Unlock()
				p.Applied(x.Zxid)
			}
			for i := range reqs {
				x, ch := p.Prep(&reqs[i], 1000+int64(i))
				x.Zxid = int64(i + 1)
				p.Commit(ch, x.Zxid)
				out = append(out, x.Marshal())
				queue = append(queue, x)
				for len(queue) > 12 || len(queue) > 0 && !lag() {
					apply()
				}
			}
			for len(queue) > 0 {
				apply()
			}
			return out, tr
		}
		now, nowTree := run(func() bool { return false })
		lrng := rand.New(rand.NewPCG(seed, 12))
		later, laterTree := run(func() bool { return lrng.IntN(4) != 0 })
		for i := range now {
			if !bytes.Equal(now[i], later[i]) {
				a, _ := Unmarshal(now[i])
				b, _ := Unmarshal(later[i])
				t.Fatalf("seed %d, request %d (%+v): prepped with the apply lagging\n  %+v\nwith every txn applied at once\n  %+v", seed, i, reqs[i], b, a)
			}
		}
		if a, b := viewOf(nowTree), viewOf(laterTree); !maps.EqualFunc(a, b, func(x, y nodeView) bool { return fmt.Sprint(x) == fmt.Sprint(y) }) {
			t.Fatalf("seed %d: trees differ", seed)
		}
	}
}
