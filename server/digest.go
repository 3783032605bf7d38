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

// digests is a server's digest log and its checks of the tree's digest.
//
// A snapshot ends with the zxid and digest of the tree when its walk
// ended (writeSnapshotBody). The snapshot is fuzzy: the tree it restores
// is exact only once the txns applied during the walk are replayed over
// it, so until then nothing is logged; at that zxid the replayed tree's
// digest must be the one the snapshot recorded (Apache's
// compareSnapshotDigests).
//
// An ensemble's leader sends its latest digests in its pings, and each
// learner compares them with its own at the same zxids (checkPeer): a
// member whose tree went astray from the leader's is reported, as
// Apache's followers report a txn whose digest differs from their tree's.
// A difference either way is logged as an error and counted in mntr's
// digest_mismatches_count.
type digests struct {
	mu      sync.Mutex
	log     []ZxidDigest // a ring of digestLogLimit, oldest at next once full
	next    int
	pending *ZxidDigest // a loaded snapshot's digest, not yet reached
	// last is the digest after the last txn applied to an exact tree that
	// keeps one (zero Zxid: none yet). unsure marks a tree loaded from a
	// snapshot that records no digest (zkgo's before it had one, or one of
	// a server with digest.enabled=false), whose fuzzy walk's end is
	// unknown: it is never compared with a leader's.
	last   ZxidDigest
	unsure bool
	// peer is a leader's digest at a zxid not yet applied here; reported
	// is the newest zxid whose digest differed from a leader's (a leader
	// with nothing new to apply sends the same digest in every ping: a
	// difference counts once).
	peer       *ZxidDigest
	reported   int64
	mismatches atomic.Int64
}

// expect sets the digest a loaded snapshot recorded (nil: it recorded
// none), and forgets the log and the checks in progress: they were of
// another tree.
func (d *digests) expect(zd *ZxidDigest) {
	d.mu.Lock()
	d.pending, d.log, d.next = zd, nil, 0
	d.last, d.peer, d.reported, d.unsure = ZxidDigest{}, nil, 0, zd == nil
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
// or a leader's as an error message; a tree that keeps no digest
// (digest.enabled=false) logs zeros and checks nothing.
func (d *digests) applied(zxid int64, t *tree.Tree) error {
	digest := t.Digest()
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if p := d.pending; p != nil {
		if zxid < p.Zxid {
			return nil // still inside the fuzzy snapshot's walk
		}
		d.pending = nil
		if zxid == p.Zxid && t.KeepsDigest() && p.Version == tree.DigestVersion && p.Digest != digest {
			d.mismatches.Add(1)
			err = fmt.Errorf("the snapshot's tree digest at zxid 0x%x is %d, the replayed tree's %d", zxid, p.Digest, digest)
		}
	}
	zd := ZxidDigest{Zxid: zxid, Version: tree.DigestVersion, Digest: digest}
	if t.KeepsDigest() && !d.unsure {
		d.last = zd
		if q := d.peer; q != nil && zxid >= q.Zxid {
			d.peer = nil
			if zxid == q.Zxid && err == nil {
				err = d.compareLocked(*q, digest)
			}
		}
	}
	if zxid%digestLogInterval != 0 {
		return err
	}
	if len(d.log) < digestLogLimit {
		d.log = append(d.log, zd)
		return err
	}
	d.log[d.next] = zd
	d.next = (d.next + 1) % digestLogLimit
	return err
}

// latest is what a leader sends its learners, when its tree t (read
// locked by the caller) is exact and keeps a digest: the newest logged
// digest and the tree's own after the last txn applied, oldest first.
// Under load a learner is often past the leader's last txn, and has the
// logged one.
func (d *digests) latest(t *tree.Tree) []ZxidDigest {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last.Zxid == 0 {
		return nil
	}
	last := d.last
	last.Digest = t.Digest() // the same, unless t changed without a txn
	var out []ZxidDigest
	if n := len(d.log); n > 0 {
		newest := d.log[(d.next+n-1)%n]
		if newest.Zxid < d.last.Zxid && newest.Zxid > 0 {
			out = append(out, newest)
		}
	}
	return append(out, last)
}

// checkPeer compares a leader's digest with this tree's, t (read locked by
// the caller), at the same zxid: at once when that is the last txn applied
// (with t's digest as it is now, so that an idle leader's pings also find
// a tree changed since) or a logged one, once it is applied when it is
// still to come (one such check at a time; a learner that lags gets the
// next ping's), and not at all when this tree's digest there is unknown
// (passed and not logged, or not exact).
func (d *digests) checkPeer(zd ZxidDigest, t *tree.Tree) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if zd.Version != tree.DigestVersion || d.unsure || d.pending != nil {
		return nil
	}
	switch {
	case d.last.Zxid == 0:
		return nil // no digest kept, or nothing applied since the tree was loaded
	case zd.Zxid == d.last.Zxid:
		return d.compareLocked(zd, t.Digest())
	case zd.Zxid > d.last.Zxid:
		if d.peer == nil {
			d.peer = &zd
		}
		return nil
	}
	for _, l := range d.log {
		if l.Zxid == zd.Zxid {
			return d.compareLocked(zd, l.Digest)
		}
	}
	return nil
}

func (d *digests) compareLocked(leader ZxidDigest, ours int64) error {
	if leader.Digest == ours || leader.Zxid <= d.reported {
		return nil
	}
	d.reported = leader.Zxid
	d.mismatches.Add(1)
	return fmt.Errorf("the leader's tree digest at zxid 0x%x is %d, this member's %d", leader.Zxid, leader.Digest, ours)
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
	if !s.keepsDigest() {
		t.DisableDigest()
	}
	return t
}

// keepsDigest reports whether this server's trees keep their digest
// (digest.enabled; on by default, and without a configuration).
func (s *Server) keepsDigest() bool { return s.cfg == nil || s.cfg.DigestEnabled }
