package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-zookeeper/zk"
)

// Hooks for the external test package (server_test).

// TreeView is treeView: every znode's data, ACL, Stat and children.
func TreeView(s *Server) map[string]string { return treeView(s) }

// TreeDigest returns s's tree digest and how many digest mismatches it
// found (digest_mismatches_count).
func TreeDigest(s *Server) (digest, mismatches int64) {
	s.tree.RLock()
	defer s.tree.RUnlock()
	return s.tree.Digest(), s.digests.mismatches.Load()
}

// LastApplied returns the zxid of the last txn s applied.
func LastApplied(s *Server) int64 { return s.lastZxid.Load() }

// MakeSnapshotsFuzzy makes every fuzzy snapshot walk four znodes per hold
// of the tree lock and, each time it gives the lock up, wait (20 ms at
// most) for its server to apply another txn: a snapshot of a small tree
// is then as fuzzy as one of a large tree under load. The func returned
// restores the defaults.
func MakeSnapshotsFuzzy() (restore func()) {
	oldChunk := fuzzyChunk.Swap(4)
	yield := func(s *Server) {
		from := s.lastZxid.Load()
		deadline := time.Now().Add(20 * time.Millisecond)
		for s.lastZxid.Load() == from && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond) // polling a condition with a deadline
		}
	}
	fuzzyYield.Store(&yield)
	return func() {
		fuzzyChunk.Store(oldChunk)
		fuzzyYield.Store(nil)
	}
}

// RandomWrite makes one random write on one of paths through c, tagged
// with writer: a create (of any mode), a set, a delete, an ephemeral
// sequential child, or an ACL that takes the write permission away. It
// returns the error, but not those a random history brings (the znode is
// there or not, has children, may not be written or is ephemeral).
func RandomWrite(c *zk.Conn, rng *rand.Rand, paths []string, writer int) error {
	p := paths[rng.IntN(len(paths))]
	data := fmt.Appendf(nil, "w%d-%d", writer, rng.IntN(100))
	var err error
	switch rng.IntN(6) {
	case 0:
		_, err = c.Create(p, data, int32(rng.IntN(4)), zk.WorldACL(zk.PermAll))
	case 1, 2:
		_, err = c.Set(p, data, -1)
	case 3:
		err = c.Delete(p, -1)
	case 4:
		_, err = c.Create(p+"-s", data, zk.FlagSequence|zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	default:
		_, err = c.SetACL(p, zk.WorldACL(zk.PermAll&^zk.PermWrite), -1)
	}
	for _, expected := range []error{zk.ErrNoNode, zk.ErrNodeExists, zk.ErrNotEmpty, zk.ErrNoAuth, zk.ErrNoChildrenForEphemerals} {
		if errors.Is(err, expected) {
			return nil
		}
	}
	return err
}

// TamperTree sets the data of the znode at path on s alone, with no txn,
// as a bug or a flipped bit in memory would: s's tree is then no longer
// the ensemble's, and nothing in the protocol says so.
func TamperTree(s *Server, path string, data []byte) {
	s.tree.Lock()
	defer s.tree.Unlock()
	n := s.tree.Get(path)
	s.tree.SetData(path, data, n.Version, n.Mzxid, n.Mtime)
}
