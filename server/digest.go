package server

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/tree"
)

// ZxidDigest is the tree's digest (tree.Tree.Digest) once a txn was
// applied, as Apache's DataTree.ZxidDigest.
type ZxidDigest = fourletter.ZxidDigest

// Apache's DataTree keeps the digest of every 128th zxid, the last 1024 of
// them (DIGEST_LOG_INTERVAL, DIGEST_LOG_LIMIT): the `hash` command's list.
const (
	digestLogInterval = 128
	digestLogLimit    = 1024
)

// digests is a server's digest log and its check of a loaded snapshot.
//
// A snapshot ends with the zxid and digest of the tree when its walk
// ended (writeSnapshotBody). The snapshot is fuzzy: the tree it restores
// is exact only once the txns applied during the walk are replayed over
// it, so until then nothing is logged; at that zxid the replayed tree's
// digest must be the one the snapshot recorded (Apache's
// compareSnapshotDigests). A difference means the snapshot and the log
// disagree: it is logged as an error and counted in mntr's
// digest_mismatches_count.
type digests struct {
	mu         sync.Mutex
	log        []ZxidDigest // a ring of digestLogLimit, oldest at next once full
	next       int
	pending    *ZxidDigest // a loaded snapshot's digest, not yet reached
	mismatches atomic.Int64
}

// expect sets the digest a loaded snapshot recorded, and forgets the log:
// it was of another tree.
func (d *digests) expect(zd *ZxidDigest) {
	d.mu.Lock()
	d.pending, d.log, d.next = zd, nil, 0
	d.mu.Unlock()
}

// pendingDigest is the loaded snapshot's digest not yet reached, or nil.
func (d *digests) pendingDigest() *ZxidDigest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending
}

// List returns the logged digests, oldest first.
func (d *digests) List() []ZxidDigest {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ZxidDigest, 0, len(d.log))
	out = append(out, d.log[d.next:]...)
	return append(out, d.log[:d.next]...)
}

// applied notes that the txn zxid was applied to t (whose write lock the
// caller holds). It reports a mismatch against a loaded snapshot's digest
// as an error message; a tree that keeps no digest (digest.enabled=false)
// logs zeros and checks nothing.
func (d *digests) applied(zxid int64, t *tree.Tree) error {
	digest := t.Digest()
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.pending; p != nil {
		if zxid < p.Zxid {
			return nil // still inside the fuzzy snapshot's walk
		}
		d.pending = nil
		if zxid == p.Zxid && t.KeepsDigest() && p.Version == tree.DigestVersion && p.Digest != digest {
			d.mismatches.Add(1)
			return fmt.Errorf("the snapshot's tree digest at zxid 0x%x is %d, the replayed tree's %d", zxid, p.Digest, digest)
		}
	}
	if zxid%digestLogInterval != 0 {
		return nil
	}
	zd := ZxidDigest{Zxid: zxid, Version: tree.DigestVersion, Digest: digest}
	if len(d.log) < digestLogLimit {
		d.log = append(d.log, zd)
		return nil
	}
	d.log[d.next] = zd
	d.next = (d.next + 1) % digestLogLimit
	return nil
}

// checkLoaded compares a just-loaded, unfuzzy snapshot (its digest was
// taken at its own zxid: no txn was applied during its walk) at once.
func (d *digests) checkLoaded(label int64, t *tree.Tree) error {
	d.mu.Lock()
	p := d.pending
	d.mu.Unlock()
	if p == nil || p.Zxid > label {
		return nil
	}
	return d.applied(p.Zxid, t)
}

// newTree is an empty tree that keeps its digest as digest.enabled says
// (on by default, and for servers built without a configuration, in
// tests).
func (s *Server) newTree() *tree.Tree {
	t := tree.New()
	if s.cfg != nil && !s.cfg.DigestEnabled {
		t.DisableDigest()
	}
	return t
}
