package tree

import (
	"encoding/binary"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/zkgo/zkgo/server/wire"
)

// Special ephemeralOwner encodings (EphemeralType.java).
const (
	ContainerOwner int64 = math.MinInt64
	ttlMask        int64 = -0x100000000000000 // 0xFF00000000000000
	// MaxTTL is the largest TTL in ms: 40 bits.
	MaxTTL int64 = 0xFFFFFFFFFF
)

// TTLOwner encodes a TTL (ms) as an ephemeralOwner value.
func TTLOwner(ttl int64) int64 { return ttlMask | ttl }

// IsTTL reports whether owner marks a TTL node, and its TTL.
func IsTTL(owner int64) (int64, bool) {
	if owner != ContainerOwner && owner&ttlMask == ttlMask {
		return owner &^ ttlMask & 0xFFFFFFFFFF, true
	}
	return 0, false
}

// IsEphemeral reports whether owner is a session id (a normal ephemeral).
func IsEphemeral(owner int64) bool {
	if owner == 0 || owner == ContainerOwner {
		return false
	}
	_, ttl := IsTTL(owner)
	return !ttl
}

// Node is one znode. Fields are read under the tree's read lock.
//
// It takes 96 bytes, a size class of its own: the ACL is an index into
// the tree's table of distinct ACLs (Tree.ACL), as Apache's DataNode
// holds a reference into its ACL cache; the slice it was (24 bytes) put
// a node in the 128-byte class, 32 MB more for a million znodes.
type Node struct {
	Data     []byte
	Czxid    int64
	Mzxid    int64
	Pzxid    int64
	Ctime    int64
	Mtime    int64
	Owner    int64               // raw ephemeralOwner: session, container or TTL marker
	children map[string]struct{} // nil for a leaf: most znodes are leaves
	Version  int32
	Cversion int32 // stored counter: child creations only
	Aversion int32
	acl      uint32 // index into the tree's ACL table
}

// NumChildren returns the number of children.
func (n *Node) NumChildren() int { return len(n.children) }

// Stat returns the client-visible Stat, as DataNode.copyStat does.
func (n *Node) Stat() wire.Stat {
	s := wire.Stat{
		Czxid:       n.Czxid,
		Mzxid:       n.Mzxid,
		Ctime:       n.Ctime,
		Mtime:       n.Mtime,
		Version:     n.Version,
		Aversion:    n.Aversion,
		DataLength:  int32(len(n.Data)),
		NumChildren: int32(len(n.children)),
		Pzxid:       n.Pzxid,
	}
	// "v3 semantics": clients see creates + deletes.
	s.Cversion = n.Cversion*2 - int32(len(n.children))
	if IsEphemeral(n.Owner) {
		s.EphemeralOwner = n.Owner
	}
	return s
}

// Children returns the child names, sorted.
func (n *Node) Children() []string {
	out := n.ChildNames()
	slices.Sort(out)
	return out
}

// ChildNames returns the names of n's children in no particular order:
// the read path sorts them after giving up the tree's lock (a million
// names took 20 ms to copy and 0.3 s to sort).
func (n *Node) ChildNames() []string {
	out := make([]string, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	return out
}

// Tree is the data tree.
type Tree struct {
	sync.RWMutex
	nodes      map[string]*Node
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	acls       [][]wire.ACL      // every distinct ACL a node has had; nodes index it
	aclIndex   map[string]uint32 // an ACL's key (aclKey) to its index in acls
	lastACL    uint32            // the index intern returned last
	dataSize   int64
	quotas     map[string]struct{} // paths with a quota (quota.go); nil until one is set
	digest     uint64              // the sum of the znodes' digests (digest.go)
	scratch    [60]byte            // a znode's stat bytes, for its digest
	noDigest   bool                // digest.enabled=false
}

// OpenACL is world:anyone with all permissions.
var OpenACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// ReadACL is world:anyone with read permission, as on /zookeeper/config.
var ReadACL = []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// New returns a tree with the nodes every ZooKeeper server has: /,
// /zookeeper, /zookeeper/quota and /zookeeper/config.
func New() *Tree {
	t := &Tree{
		nodes:      make(map[string]*Node),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		aclIndex:   make(map[string]uint32),
	}
	// Apache's DataTree gives these nodes empty, not null, data, and
	// counts their paths in its data size (44 bytes on a fresh server).
	t.nodes["/"] = &Node{Data: []byte{}, acl: t.intern(OpenACL), children: map[string]struct{}{}}
	t.dataSize = int64(len("/"))
	t.addSystemNode("/zookeeper", OpenACL)
	t.addSystemNode("/zookeeper/quota", OpenACL)
	t.addSystemNode("/zookeeper/config", ReadACL)
	// Apache creates the config node with aversion -1 (observed on 3.8.0).
	t.nodes["/zookeeper/config"].Aversion = -1
	t.recomputeDigest()
	return t
}

func (t *Tree) addSystemNode(path string, acl []wire.ACL) {
	n := &Node{Data: []byte{}, acl: t.intern(acl), children: map[string]struct{}{}}
	t.nodes[path] = n
	t.nodes[wire.Parent(path)].children[wire.Base(path)] = struct{}{}
	t.index(path, n)
}

// IsSystemPath reports whether path is one of the nodes that cannot be deleted.
func IsSystemPath(path string) bool {
	return path == "/" || path == "/zookeeper" || path == "/zookeeper/quota" || path == "/zookeeper/config"
}

// ACL returns n's ACL, shared by every node that has the same one: the
// caller must not change it.
func (t *Tree) ACL(n *Node) []wire.ACL { return t.acls[n.acl] }

// GiveACL gives n, a node read from a snapshot and not yet in the tree,
// its ACL through t's ACL table, before RestoreAll adds it to t.
func (t *Tree) GiveACL(n *Node, acl []wire.ACL) { n.acl = t.intern(acl) }

// intern returns the index of acl in the ACL table, adding a copy of it
// if it is new. Most znodes have the ACL of the one before (world:anyone,
// or the ACL an application uses everywhere): that case costs a
// comparison. The table keeps every ACL it was given, as the cache it
// replaces did.
func (t *Tree) intern(acl []wire.ACL) uint32 {
	if int(t.lastACL) < len(t.acls) {
		if last := t.acls[t.lastACL]; slices.Equal(acl, last) && (acl == nil) == (last == nil) {
			return t.lastACL
		}
	}
	k := ACLKey(acl)
	i, ok := t.aclIndex[k]
	if !ok {
		i = uint32(len(t.acls))
		var c []wire.ACL
		if acl != nil {
			c = append([]wire.ACL{}, acl...)
		}
		t.acls = append(t.acls, c)
		t.aclIndex[k] = i
	}
	t.lastACL = i
	return i
}

// ACLKey is a string that two ACLs share only if they are the same list
// (a null list and an empty one differ).
func ACLKey(acl []wire.ACL) string {
	if acl == nil {
		return "\x00null"
	}
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(a.ID.Scheme)
		b.WriteByte(0)
		b.WriteString(a.ID.ID)
		b.WriteByte(0)
		var p [4]byte
		binary.BigEndian.PutUint32(p[:], uint32(a.Perms))
		b.Write(p[:])
	}
	return b.String()
}

// Get returns the node at path or nil.
func (t *Tree) Get(path string) *Node { return t.nodes[path] }

// NodeCount returns the number of znodes, counting the root once more as
// Apache's DataTree does (it is keyed both as "" and "/").
func (t *Tree) NodeCount() int { return len(t.nodes) + 1 }

// DataSize approximates the bytes of data and paths held (zk_approximate_data_size).
func (t *Tree) DataSize() int64 { return t.dataSize }

// Ephemerals returns the paths of a session's ephemerals, sorted.
func (t *Tree) Ephemerals(session int64) []string {
	out := make([]string, 0, len(t.ephemerals[session]))
	for p := range t.ephemerals[session] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// EphemeralSessions returns every session that owns ephemerals.
func (t *Tree) EphemeralSessions() []int64 {
	out := make([]int64, 0, len(t.ephemerals))
	for s := range t.ephemerals {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// EphemeralCount returns the number of ephemeral nodes.
func (t *Tree) EphemeralCount() int {
	n := 0
	for _, m := range t.ephemerals {
		n += len(m)
	}
	return n
}

// Containers returns the container paths; TTLs the TTL node paths.
func (t *Tree) Containers() []string { return keys(t.containers) }

// TTLs returns the TTL node paths.
func (t *Tree) TTLs() []string { return keys(t.ttls) }

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CountDescendants returns the number of nodes below path
// (getAllChildrenNumber). A small subtree is walked from path; once the
// walk has met more than a sixteenth of the tree it gives up and counts
// the keys under path's prefix instead, as Apache's DataTree does: that
// visits every node but looks none up, 12 ns a node against 165 for the
// walk, which took 0.6 s (with the tree's read lock, so writes waited) for
// a parent of a million children.
func (t *Tree) CountDescendants(path string) int {
	n := t.nodes[path]
	if n == nil {
		return 0
	}
	if path == "/" {
		return len(t.nodes) - 1
	}
	budget := len(t.nodes) / 16
	if total, ok := t.countDescendants(append(make([]byte, 0, 256), path...), n, &budget); ok {
		return total
	}
	prefix := path + "/"
	total := 0
	for k := range t.nodes {
		if strings.HasPrefix(k, prefix) {
			total++
		}
	}
	return total
}

// countDescendants counts n's descendants, visiting at most *budget of
// them (ok false beyond). buf holds n's path; children's paths are built
// in it, not allocated, as a lookup by string(buf) does not copy.
func (t *Tree) countDescendants(buf []byte, n *Node, budget *int) (total int, ok bool) {
	if len(n.children) > *budget {
		return 0, false
	}
	*budget -= len(n.children)
	total = len(n.children)
	for c := range n.children {
		b := append(append(buf, '/'), c...)
		if child := t.nodes[string(b)]; child != nil && len(child.children) > 0 {
			sub, ok := t.countDescendants(b, child, budget)
			if !ok {
				return 0, false
			}
			total += sub
		}
	}
	return total, true
}

// Walk calls fn for every node, parents before children.
func (t *Tree) Walk(fn func(path string, n *Node) error) error {
	return t.walk("/", fn)
}

// WalkFuzzy calls fn for every node, in no particular order (parents are
// not always before their children: RestoreAll takes them in any order).
// It takes the read lock itself and gives it up after every `every` nodes,
// calling between without it: the applier goes on while a large tree is
// walked. What fn sees is fuzzy, as in Apache's snapshots: each node as it
// was when visited, so changes made during the walk may or may not show.
// Replaying the txns applied after the walk began over what it saw gives
// the tree as it is (txn.Apply tolerates a create of a node the walk saw,
// a delete of one it did not, and data or ACLs newer than the txn's, which
// a later txn then sets again; RestoreAll leaves out a node whose parent
// the walk missed, which those txns delete again).
//
// It ranges over the node map itself, which costs a fraction of walking
// the tree by paths (a path built and looked up per node). The language
// defines ranging over a map that is changed between iterations (an entry
// added may or may not be seen, one removed before it is reached is not),
// and the lock orders the accesses.
func (t *Tree) WalkFuzzy(every int, fn func(path string, n *Node) error, between func() error) error {
	every = max(every, 1)
	t.RLock()
	defer t.RUnlock()
	seen := 0
	for path, n := range t.nodes {
		if err := fn(path, n); err != nil {
			return err
		}
		if seen++; seen >= every {
			seen = 0
			t.RUnlock()
			err := between()
			t.RLock()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Restoring is a znode read from a snapshot; GiveACL gave it its ACL.
type Restoring struct {
	Path string
	Node *Node
}

// RestoreAll adds the nodes of a snapshot, given in any order; a later
// node of the same path replaces an earlier one (a fuzzy snapshot can
// hold a path twice: deleted and created again during the walk). A node
// whose parent is not among them is left out with its descendants, and
// counted in dropped: a fuzzy snapshot (WalkFuzzy) can hold a node whose
// parent was deleted before the walk reached it, and the log's txns after
// the snapshot delete that node again. The caller holds the write lock
// (or owns t).
//
// The node map is made at its final size (growing it rehashed every
// entry several times: 15% of restoring a million znodes), and parents
// are linked to their children in one pass once every node is in, which
// takes the nodes in any order without sorting them by depth first.
func (t *Tree) RestoreAll(ns []Restoring) (dropped int) {
	nodes := make(map[string]*Node, len(t.nodes)+len(ns))
	maps.Copy(nodes, t.nodes)
	for _, r := range ns {
		nodes[r.Path] = r.Node
	}
	t.nodes = nodes
	var orphans []string
	for path := range t.nodes {
		if path == "/" {
			continue
		}
		p := t.nodes[wire.Parent(path)]
		if p == nil {
			orphans = append(orphans, path)
			continue
		}
		if p.children == nil {
			p.children = make(map[string]struct{})
		}
		p.children[wire.Base(path)] = struct{}{}
	}
	for _, path := range orphans {
		dropped += 1 + t.CountDescendants(path)
		t.removeSubtree(path) // the indexes it updates are rebuilt below
	}
	clear(t.ephemerals)
	clear(t.containers)
	clear(t.ttls)
	t.dataSize = 0
	for path, n := range t.nodes {
		t.index(path, n)
	}
	t.setupQuotas()
	t.recomputeDigest()
	return dropped
}

func (t *Tree) walk(path string, fn func(string, *Node) error) error {
	n := t.nodes[path]
	if n == nil {
		return nil
	}
	if err := fn(path, n); err != nil {
		return err
	}
	for c := range n.children {
		if err := t.walk(wire.Join(path, c), fn); err != nil {
			return err
		}
	}
	return nil
}

// Create adds a node; the caller (the prep step) has checked that the
// parent exists and the node does not. parentCVersion is the parent's new
// stored cversion.
//
// When the node exists already (replaying a txn over a fuzzy snapshot that
// caught the node but perhaps not its parent's new counters), it returns
// nil and, as Apache's DataTree.setCversionPzxid does for NODEEXISTS on
// replay, still raises the parent's cversion and pzxid to the txn's.
func (t *Tree) Create(path string, data []byte, acl []wire.ACL, owner int64, parentCVersion int32, zxid, time int64) *Node {
	parentPath := wire.Parent(path)
	parent := t.nodes[parentPath]
	if parent == nil {
		return nil
	}
	if t.nodes[path] != nil {
		t.unhash(parentPath, parent)
		if parentCVersion > parent.Cversion {
			parent.Cversion = parentCVersion
		}
		if zxid > parent.Pzxid {
			parent.Pzxid = zxid
		}
		t.rehash(parentPath, parent)
		return nil
	}
	n := &Node{
		Data: data, acl: t.intern(acl), Czxid: zxid, Mzxid: zxid, Pzxid: zxid,
		Ctime: time, Mtime: time, Owner: owner,
	}
	t.nodes[path] = n
	t.rehash(path, n)
	if parent.children == nil {
		parent.children = make(map[string]struct{})
	}
	parent.children[wire.Base(path)] = struct{}{}
	t.unhash(parentPath, parent)
	if parentCVersion > parent.Cversion || parentCVersion < 0 && parent.Cversion >= 0 {
		parent.Cversion = parentCVersion
	}
	if zxid > parent.Pzxid {
		parent.Pzxid = zxid
	}
	t.rehash(parentPath, parent)
	t.index(path, n)
	t.quotaCreated(path)
	t.chargeQuota(path, int64(len(data)), 1)
	return n
}

// index counts a node added to the node map in the data size and adds it
// to the ephemeral, container or TTL set its owner puts it in (remove
// undoes it).
func (t *Tree) index(path string, n *Node) {
	t.dataSize += int64(len(path) + len(n.Data))
	switch {
	case n.Owner == ContainerOwner:
		t.containers[path] = struct{}{}
	case IsEphemeral(n.Owner):
		m := t.ephemerals[n.Owner]
		if m == nil {
			m = make(map[string]struct{})
			t.ephemerals[n.Owner] = m
		}
		m[path] = struct{}{}
	default:
		if _, ok := IsTTL(n.Owner); ok {
			t.ttls[path] = struct{}{}
		}
	}
}

// Delete removes a node. The prep step only lets a node without children
// be deleted; a node that has children here is one replayed over a fuzzy
// snapshot that caught children created after this delete (a later txn
// of the log creates each again), so its whole subtree goes, as in
// Apache's DataTree, whose deleteNode does not look at children. When the
// node is gone already (the snapshot caught the parent before the delete
// and missed the child after it), Delete returns false and, as Apache's
// deleteNode does, still raises the parent's pzxid to the txn's.
func (t *Tree) Delete(path string, zxid int64) bool {
	n := t.nodes[path]
	parentPath := wire.Parent(path)
	if n == nil {
		if parent := t.nodes[parentPath]; parent != nil && zxid > parent.Pzxid {
			t.unhash(parentPath, parent)
			parent.Pzxid = zxid
			t.rehash(parentPath, parent)
		}
		return false
	}
	if IsSystemPath(path) {
		return false
	}
	for c := range n.children {
		t.removeSubtree(wire.Join(path, c))
	}
	t.remove(path, n)
	parent := t.nodes[parentPath]
	if parent != nil {
		delete(parent.children, wire.Base(path))
		if zxid > parent.Pzxid {
			t.unhash(parentPath, parent)
			parent.Pzxid = zxid
			t.rehash(parentPath, parent)
		}
	}
	return true
}

// removeSubtree drops a node and its descendants (see Delete).
func (t *Tree) removeSubtree(path string) {
	n := t.nodes[path]
	if n == nil {
		return
	}
	for c := range n.children {
		t.removeSubtree(wire.Join(path, c))
	}
	t.remove(path, n)
}

// remove drops n from the node map and the ephemeral, container and TTL
// sets, and from the usage of the quota over it; the caller unlinks it
// from its parent. A subtree removed by a replayed delete (see Delete)
// leaves the usage of each of its znodes: the log's later txns create
// them again.
func (t *Tree) remove(path string, n *Node) {
	t.quotaDeleted(path)
	t.chargeQuota(path, -int64(len(n.Data)), -1)
	t.unhash(path, n)
	delete(t.nodes, path)
	t.dataSize -= int64(len(path) + len(n.Data))
	switch {
	case n.Owner == ContainerOwner:
		delete(t.containers, path)
	case IsEphemeral(n.Owner):
		if m := t.ephemerals[n.Owner]; m != nil {
			delete(m, path)
			if len(m) == 0 {
				delete(t.ephemerals, n.Owner)
			}
		}
	default:
		delete(t.ttls, path)
	}
}

// SetData replaces a node's data.
func (t *Tree) SetData(path string, data []byte, version int32, zxid, time int64) *Node {
	n := t.nodes[path]
	if n == nil {
		return nil
	}
	diff := int64(len(data) - len(n.Data))
	t.dataSize += diff
	t.unhash(path, n)
	n.Data = data
	n.Version = version
	n.Mzxid = zxid
	n.Mtime = time
	t.rehash(path, n)
	t.chargeQuota(path, diff, 0)
	return n
}

// SetACL replaces a node's ACL.
func (t *Tree) SetACL(path string, acl []wire.ACL, aversion int32) *Node {
	n := t.nodes[path]
	if n == nil {
		return nil
	}
	n.acl = t.intern(acl)
	t.unhash(path, n)
	n.Aversion = aversion
	t.rehash(path, n)
	return n
}

// ReplaceWith makes t hold o's content (a tree restored from a snapshot
// received from the leader); the caller holds t's write lock and drops o.
func (t *Tree) ReplaceWith(o *Tree) {
	t.nodes, t.ephemerals, t.containers, t.ttls = o.nodes, o.ephemerals, o.containers, o.ttls
	t.acls, t.aclIndex, t.lastACL, t.dataSize = o.acls, o.aclIndex, o.lastACL, o.dataSize
	t.quotas = o.quotas
	t.digest, t.noDigest = o.digest, o.noDigest
}
