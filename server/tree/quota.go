package tree

import (
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/quota"
	"github.com/zkgo/zkgo/server/wire"
)

// Quotas, as Apache's DataTree keeps them (package quota has the layout).
// The tree keeps a quota's stats znode equal to its subtree's usage
// ("count=N,bytes=B"): it rewrites that data in place, without a new
// version or mzxid, when a znode under the quota's path is created,
// deleted or set, and recounts it when the stats znode is created and
// after a snapshot is loaded. A znode counts toward the deepest quota
// above it (or on it).

// QuotaPrefix returns the deepest path at or above path that has a quota,
// "" when none does (Apache's getMaxPrefixWithQuota; / never has one).
// The caller holds the lock.
func (t *Tree) QuotaPrefix(path string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	for p := path; p != "/" && p != ""; p = wire.Parent(p) {
		if _, ok := t.quotas[p]; ok {
			return p
		}
	}
	return ""
}

// quotaCreated and quotaDeleted keep the set of quota paths as limits
// znodes come and go, and a stats znode's usage computed when it is
// created, as Apache's createNode and deleteNode do. They match parents
// on the string prefix /zookeeper/quota as Apache does.
func (t *Tree) quotaCreated(path string) {
	parent, base := wire.Parent(path), wire.Base(path)
	if !strings.HasPrefix(parent, quota.Root) {
		return
	}
	real := parent[len(quota.Root):]
	if real == "" || real[0] != '/' {
		return
	}
	switch base {
	case quota.LimitNode:
		if t.quotas == nil {
			t.quotas = make(map[string]struct{})
		}
		t.quotas[real] = struct{}{}
	case quota.StatNode:
		t.recountQuota(real)
	}
}

func (t *Tree) quotaDeleted(path string) {
	parent := wire.Parent(path)
	if wire.Base(path) != quota.LimitNode || !strings.HasPrefix(parent, quota.Root) {
		return
	}
	delete(t.quotas, parent[len(quota.Root):])
}

// chargeQuota adds countDiff znodes and bytesDiff bytes to the usage of
// the quota path falls under, if any (Apache's updateQuotaStat).
func (t *Tree) chargeQuota(path string, bytesDiff, countDiff int64) {
	prefix := t.QuotaPrefix(path)
	if prefix == "" {
		return
	}
	n := t.nodes[quota.StatPath(prefix)]
	if n == nil {
		return // Apache logs "Missing node for stat"
	}
	st := quota.Parse(n.Data)
	st[quota.Count] = st.Get(quota.Count) + countDiff
	st[quota.Bytes] = st.Get(quota.Bytes) + bytesDiff
	t.rewriteStats(n, st)
}

// rewriteStats replaces a stats znode's data, in place: no new version
// or mzxid, as in Apache. The data is a new slice; readers may hold the
// old one.
func (t *Tree) rewriteStats(n *Node, st quota.StatsTrack) {
	data := []byte(st.String())
	t.dataSize += int64(len(data) - len(n.Data))
	n.Data = data
}

// recountQuota sets the usage of a quota on path to what its subtree
// holds now (Apache's updateQuotaForPath).
func (t *Tree) recountQuota(path string) {
	n := t.nodes[quota.StatPath(path)]
	if n == nil {
		return
	}
	var count, bytes int64
	_ = t.walk(path, func(_ string, m *Node) error {
		count++
		bytes += int64(len(m.Data))
		return nil
	})
	t.rewriteStats(n, quota.StatsTrack{quota.Count: count, quota.Bytes: bytes})
}

// setupQuotas rebuilds the set of quota paths and recounts every quota's
// usage, after a snapshot was loaded (Apache's setupQuota): a limits
// znode without children names a quota on the path between
// /zookeeper/quota and the first "/zookeeper_limits".
func (t *Tree) setupQuotas() {
	clear(t.quotas)
	const end = "/" + quota.LimitNode
	var found []string
	_ = t.walk(quota.Root, func(path string, n *Node) error {
		if len(n.children) == 0 && strings.HasSuffix(path, end) {
			real := path[len(quota.Root):strings.Index(path, end)]
			if real != "" && real[0] == '/' {
				found = append(found, real)
			}
		}
		return nil
	})
	for _, real := range found {
		t.recountQuota(real)
		if t.quotas == nil {
			t.quotas = make(map[string]struct{})
		}
		t.quotas[real] = struct{}{}
	}
}

// QuotaCheck judges a write of countDiff znodes and bytesDiff bytes under
// path against the quota it falls under, as Apache's
// ZooKeeperServer.checkQuota does: each limit passed gives a log line in
// msgs (Apache's words), a hard limit when one is set, else the soft one;
// refuse is set when a hard limit would be passed. The caller holds the
// lock.
func (t *Tree) QuotaCheck(path string, bytesDiff, countDiff int64) (msgs []string, refuse bool) {
	prefix := t.QuotaPrefix(path)
	if prefix == "" {
		return nil, false
	}
	ln := t.nodes[quota.LimitPath(prefix)]
	if ln == nil {
		return nil, false
	}
	limits := quota.Parse(ln.Data)
	checkCount := countDiff != 0 && (limits.Get(quota.Count) > -1 || limits.Get(quota.CountHardLimit) > -1)
	checkBytes := bytesDiff != 0 && (limits.Get(quota.Bytes) > -1 || limits.Get(quota.ByteHardLimit) > -1)
	if !checkCount && !checkBytes {
		return nil, false
	}
	sn := t.nodes[quota.StatPath(prefix)]
	if sn == nil {
		return nil, false
	}
	usage := quota.Parse(sn.Data)
	// judge checks one measure (key: its usage and soft limit); it
	// reports whether a hard limit is passed.
	judge := func(what string, diff int64, key, hardKey string) bool {
		n := usage.Get(key) + diff
		limit := hardOrSoft(limits.Get(hardKey), limits.Get(key))
		if n <= limit {
			return false
		}
		hard, kind := limits.Get(hardKey) > -1, "soft"
		if hard {
			kind = "hard"
		}
		msgs = append(msgs, "Quota exceeded: "+prefix+" [current "+key+"="+strconv.FormatInt(n, 10)+
			", "+kind+what+"Limit="+strconv.FormatInt(limit, 10)+"]")
		return hard
	}
	if checkCount && judge("Count", countDiff, quota.Count, quota.CountHardLimit) {
		return msgs, true
	}
	if checkBytes && judge("Byte", bytesDiff, quota.Bytes, quota.ByteHardLimit) {
		return msgs, true
	}
	return msgs, false
}

// QuotaSums are the limits and the usage of the quotas of one top-level
// namespace (the first component of their paths), summed as Apache's
// QuotaMetricsUtils does for its per-namespace gauges: a limit is the hard
// one when set, else the soft one (-1 when neither is).
type QuotaSums struct {
	HasLimits, HasUsage    bool
	CountLimit, BytesLimit int64
	CountUsage, BytesUsage int64
}

// QuotaSums walks the leaves under /zookeeper/quota as Apache does: a
// limits znode adds to its namespace's limits, a stats znode to its usage.
// The caller holds the lock.
func (t *Tree) QuotaSums() map[string]*QuotaSums {
	out := map[string]*QuotaSums{}
	_ = t.walk(quota.Root, func(path string, n *Node) error {
		if len(n.children) > 0 {
			return nil
		}
		isLimit := strings.HasSuffix(path, "/"+quota.LimitNode)
		if !isLimit && !strings.HasSuffix(path, "/"+quota.StatNode) {
			return nil
		}
		if wire.Parent(path) == quota.Root {
			return nil // a quota on / is not kept (setupQuotas)
		}
		ns := quota.TopNamespace(path[len(quota.Root):])
		s := out[ns]
		if s == nil {
			s = &QuotaSums{}
			out[ns] = s
		}
		st := quota.Parse(n.Data)
		if isLimit {
			s.HasLimits = true
			s.CountLimit += hardOrSoft(st.Get(quota.CountHardLimit), st.Get(quota.Count))
			s.BytesLimit += hardOrSoft(st.Get(quota.ByteHardLimit), st.Get(quota.Bytes))
		} else {
			s.HasUsage = true
			s.CountUsage += st.Get(quota.Count)
			s.BytesUsage += st.Get(quota.Bytes)
		}
		return nil
	})
	return out
}

func hardOrSoft(hard, soft int64) int64 {
	if hard > -1 {
		return hard
	}
	return soft
}
