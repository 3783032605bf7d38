package tree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

// Known answers, computed outside Go with Python's zlib.crc32 (the CRC32
// Java's java.util.zip.CRC32 is) over path || data || the 60-byte stat.
func TestDigestKnownAnswers(t *testing.T) {
	n := &Node{Data: []byte("hello"), Czxid: 5, Mzxid: 7, Pzxid: 6, Ctime: 1700000000000, Mtime: 1700000001000, Version: 2, Cversion: 1}
	if got := nodeDigest("/app/x", n, new([60]byte)); got != 952368236 {
		t.Errorf("digest of /app/x: %d, want 952368236", got)
	}
	// A fresh tree: the root (as "") and /zookeeper, both empty with a
	// zero stat; /zookeeper/quota and /zookeeper/config count nothing.
	if got := New().Digest(); got != 68323592+1303661912 {
		t.Errorf("digest of a fresh tree: %d, want %d", got, 68323592+1303661912)
	}
	if nodeDigest("/zookeeper/quota/x", n, new([60]byte)) != 0 {
		t.Error("a znode under /zookeeper/ has a digest")
	}
	if nodeDigest("/", &Node{}, new([60]byte)) != nodeDigest("", &Node{}, new([60]byte)) {
		t.Error(`"/" and "" differ`)
	}
}

// sumDigests is the digest worked out from scratch: every znode's, summed.
func sumDigests(tr *Tree) int64 {
	var sum uint64
	var st [60]byte
	tr.Walk(func(path string, n *Node) error {
		sum += uint64(nodeDigest(path, n, &st))
		return nil
	})
	return int64(sum)
}

// TestDigestFollowsChanges: after every change (creates, replayed creates
// over existing znodes, sets, ACL changes, deletes of leaves, of subtrees
// and of missing znodes, znodes under /zookeeper/) the tree's running digest is the
// sum over the znodes it holds; a restored copy and a replaced tree have
// the same digest, and a different history a different one.
func TestDigestFollowsChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := New()
	paths := []string{"/"}
	zxid := int64(0)
	for step := range 3000 {
		zxid++
		p := paths[rng.IntN(len(paths))]
		switch rng.IntN(7) {
		case 0, 1:
			child := wire.Join(p, fmt.Sprintf("n%d", rng.IntN(20)))
			owner := int64(0)
			if rng.IntN(4) == 0 {
				owner = int64(rng.IntN(3) + 1)
			}
			parent := tr.Get(p)
			if parent != nil && tr.Get(child) == nil && !IsEphemeral(parent.Owner) {
				tr.Create(child, []byte(fmt.Sprint(step)), OpenACL, owner, parent.Cversion+1, zxid, 1000+zxid)
				paths = append(paths, child)
			} else if parent != nil {
				tr.Create(child, nil, OpenACL, 0, parent.Cversion+1, zxid, 1000+zxid) // replayed
			}
		case 2:
			if n := tr.Get(p); n != nil {
				tr.SetData(p, []byte(fmt.Sprint("v", step)), n.Version+1, zxid, 2000+zxid)
			}
		case 3:
			if n := tr.Get(p); n != nil {
				tr.SetACL(p, ReadACL, n.Aversion+1)
			}
		case 4:
			if p != "/" {
				tr.Delete(p, zxid) // a leaf, a subtree (replay), or gone already
			}
		case 5:
			tr.Delete(wire.Join(p, "missing"), zxid)
		case 6:
			// Under /zookeeper/: no digest of its own, but /zookeeper's
			// counters change (and it has a digest).
			parent := "/zookeeper/quota"
			if rng.IntN(2) == 0 {
				parent = "/zookeeper"
			}
			pn := tr.Get(parent)
			tr.Create(wire.Join(parent, fmt.Sprint("s", step)), []byte("x"), OpenACL, 0, pn.Cversion+1, zxid, 3000+zxid)
		}
		if got, want := tr.Digest(), sumDigests(tr); got != want {
			t.Fatalf("step %d: running digest %d, from scratch %d", step, got, want)
		}
	}
	var saved []Restoring
	tr.Walk(func(path string, n *Node) error {
		if path != "/" && !IsSystemPath(path) {
			c := *n
			c.children = nil
			saved = append(saved, Restoring{Path: path, Node: &c})
		}
		return nil
	})
	restored := New()
	rootCopy := *tr.Get("/")
	restored.Get("/").Cversion, restored.Get("/").Pzxid = rootCopy.Cversion, rootCopy.Pzxid
	restored.RestoreAll(saved)
	if got, want := restored.Digest(), sumDigests(restored); got != want {
		t.Fatalf("restored: running %d, from scratch %d", got, want)
	}
	other := New()
	other.ReplaceWith(tr)
	if other.Digest() != tr.Digest() {
		t.Fatalf("ReplaceWith: %d, want %d", other.Digest(), tr.Digest())
	}
	before := tr.Digest()
	tr.SetData("/", []byte("x"), 1, zxid+1, 0)
	if tr.Digest() == before {
		t.Fatal("setting the root's data left the digest as it was")
	}
}
