package tree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"unsafe"
)

// The tree digest is Apache 3.8's (digest.enabled, DigestCalculator
// version 2, NodeHashMapImpl's AdHash): the sum, wrapping as a Java long,
// of one CRC32 per znode over its path ("" for the root), its data and
// the persisted stat (czxid, mzxid, pzxid, ctime, mtime, version, the
// stored cversion, aversion, the raw ephemeralOwner), big-endian. Znodes
// under /zookeeper/ count nothing (Apache leaves them out: quota stats are
// written locally). Two servers that applied the same txns have the same
// digest, whatever order their maps hold the znodes in; servers of an
// ensemble that diverged do not.
//
// The sum is kept as znodes change: every change takes the znode's old
// digest out and puts its new one in (NodeHashMapImpl.preChange and
// postChange), so the tree's digest is always the sum over the znodes it
// holds, also while a fuzzy snapshot's txns are replayed.

// DigestVersion is the version of the digest, as Apache's ZxidDigest
// carries it.
const DigestVersion = 2

// zookeeperSubtree is ZooDefs.ZOOKEEPER_NODE_SUBTREE: znodes below it have
// no digest (but /zookeeper itself does).
const zookeeperSubtree = "/zookeeper/"

// nodeDigest is DigestCalculator.calculateDigest for the znode at path;
// st is scratch space for the stat's bytes (a buffer of the tree's: on
// the stack, CRC32's assembly would make it escape, an allocation per
// call).
func nodeDigest(path string, n *Node, st *[60]byte) uint32 {
	if strings.HasPrefix(path, zookeeperSubtree) {
		return 0
	}
	if path == "/" {
		path = ""
	}
	binary.BigEndian.PutUint64(st[0:], uint64(n.Czxid))
	binary.BigEndian.PutUint64(st[8:], uint64(n.Mzxid))
	binary.BigEndian.PutUint64(st[16:], uint64(n.Pzxid))
	binary.BigEndian.PutUint64(st[24:], uint64(n.Ctime))
	binary.BigEndian.PutUint64(st[32:], uint64(n.Mtime))
	binary.BigEndian.PutUint32(st[40:], uint32(n.Version))
	binary.BigEndian.PutUint32(st[44:], uint32(n.Cversion))
	binary.BigEndian.PutUint32(st[48:], uint32(n.Aversion))
	binary.BigEndian.PutUint64(st[52:], uint64(n.Owner))
	// The path's bytes, read in place: CRC32 only reads them.
	crc := crc32.Update(0, crc32.IEEETable, unsafe.Slice(unsafe.StringData(path), len(path)))
	crc = crc32.Update(crc, crc32.IEEETable, n.Data)
	return crc32.Update(crc, crc32.IEEETable, st[:])
}

// Digest returns the tree's digest, 0 when digests are off. The caller
// holds the read lock.
func (t *Tree) Digest() int64 { return int64(t.digest) }

// DisableDigest stops keeping the digest (digest.enabled=false): it costs
// two CRC32s of a znode's path, data and stat per change (a setData of
// 64 bytes took 0.7 µs instead of 0.2 µs in BenchmarkTreeSetData, most of
// it reading the znode's data and path from memory).
func (t *Tree) DisableDigest() { t.noDigest, t.digest = true, 0 }

// KeepsDigest reports whether the tree keeps its digest.
func (t *Tree) KeepsDigest() bool { return !t.noDigest }

// unhash takes n's digest out of the tree's before n changes; rehash puts
// the new one in after.
// The caller holds the write lock (or owns t), which guards t.scratch.
func (t *Tree) unhash(path string, n *Node) {
	if !t.noDigest {
		t.digest -= uint64(nodeDigest(path, n, &t.scratch))
	}
}

func (t *Tree) rehash(path string, n *Node) {
	if !t.noDigest {
		t.digest += uint64(nodeDigest(path, n, &t.scratch))
	}
}

// recomputeDigest sums the digests of every znode (after a restore).
func (t *Tree) recomputeDigest() {
	t.digest = 0
	for path, n := range t.nodes {
		t.rehash(path, n)
	}
}
