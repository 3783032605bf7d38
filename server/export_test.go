package server

import "time"

// Hooks for the external test package (server_test).

// TreeView is treeView: every znode's data, ACL, Stat and children.
func TreeView(s *Server) map[string]string { return treeView(s) }

// LastApplied returns the zxid of the last txn s applied.
func LastApplied(s *Server) int64 { return s.lastZxid.Load() }

// MakeSnapshotsFuzzy makes every fuzzy snapshot walk four znodes per hold
// of the tree lock and, each time it gives the lock up, wait (20 ms at
// most) for its server to apply another txn: a snapshot of a small tree
// is then as fuzzy as one of a large tree under load. The func returned
// restores the defaults.
func MakeSnapshotsFuzzy() (restore func()) {
	oldChunk := fuzzyChunk
	fuzzyChunk = 4
	fuzzyYield = func(s *Server) {
		from := s.lastZxid.Load()
		deadline := time.Now().Add(20 * time.Millisecond)
		for s.lastZxid.Load() == from && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond) // polling a condition with a deadline
		}
	}
	return func() { fuzzyChunk, fuzzyYield = oldChunk, nil }
}
