package tree

import (
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/server/wire"
)

// Quotas, as Apache's DataTree keeps them. A quota on /p is the znode
// /zookeeper/quota/p/zookeeper_limits (written by a client: zkCli.sh's
// setquota) beside /zookeeper/quota/p/zookeeper_stats, whose data the
// server keeps equal to the number of znodes and data bytes of /p's
// subtree ("count=N,bytes=B"). It rewrites that data in place, without a
// new version or mzxid, when a znode under /p is created, deleted or set,
// and recomputes it when the stats znode is created and after a snapshot
// is loaded. A znode counts toward the deepest quota above it (or on it).
const (
	QuotaRoot      = "/zookeeper/quota"
	QuotaLimitNode = "zookeeper_limits"
	QuotaStatNode  = "zookeeper_stats"
)

// QuotaLimitPath is where the limits of a quota on path are kept.
func QuotaLimitPath(path string) string { return QuotaRoot + path + "/" + QuotaLimitNode }

// QuotaStatPath is where the usage of a quota on path is kept.
func QuotaStatPath(path string) string { return QuotaRoot + path + "/" + QuotaStatNode }

// StatsTrack is the content of a limits or stats znode, Apache's
// StatsTrack: "count=N,bytes=B", then, when there are other keys (the hard
// limits), "=" and ";key=value" for each in key order. A key that is
// missing reads as -1.
type StatsTrack map[string]int64

// The keys of a StatsTrack.
const (
	QuotaCount          = "count"
	QuotaBytes          = "bytes"
	QuotaCountHardLimit = "countHardLimit"
	QuotaByteHardLimit  = "byteHardLimit"
)

// ParseStatsTrack reads a limits or stats znode's data. Pairs are
// separated by runs of ',' and ';', and an empty value reads as -1, as in
// Apache. Where Apache's parser throws (a pair without '=', a value that is
// not a number) this one skips the pair: a znode's data must not stop the
// server applying a txn.
func ParseStatsTrack(data []byte) StatsTrack {
	st := StatsTrack{}
	for _, pair := range strings.FieldsFunc(string(data), func(r rune) bool { return r == ',' || r == ';' }) {
		kv := strings.Split(pair, "=")
		if len(kv) < 2 {
			continue
		}
		if kv[1] == "" {
			st[kv[0]] = -1
			continue
		}
		v, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			continue
		}
		st[kv[0]] = v
	}
	return st
}

// Get returns the value of key, -1 when missing.
func (st StatsTrack) Get(key string) int64 {
	if v, ok := st[key]; ok {
		return v
	}
	return -1
}

// String formats st as Apache's StatsTrack.toString does.
func (st StatsTrack) String() string {
	var b strings.Builder
	b.WriteString("count=")
	b.WriteString(strconv.FormatInt(st.Get(QuotaCount), 10))
	b.WriteString(",bytes=")
	b.WriteString(strconv.FormatInt(st.Get(QuotaBytes), 10))
	var rest []string
	for k := range st {
		if k != QuotaCount && k != QuotaBytes {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		// The extra "=" makes parsers older than hard limits ignore them.
		b.WriteString("=")
		slices.Sort(rest)
		for _, k := range rest {
			b.WriteString(";")
			b.WriteString(k)
			b.WriteString("=")
			b.WriteString(strconv.FormatInt(st[k], 10))
		}
	}
	return b.String()
}

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
	if !strings.HasPrefix(parent, QuotaRoot) {
		return
	}
	real := parent[len(QuotaRoot):]
	if real == "" || real[0] != '/' {
		return
	}
	switch base {
	case QuotaLimitNode:
		if t.quotas == nil {
			t.quotas = make(map[string]struct{})
		}
		t.quotas[real] = struct{}{}
	case QuotaStatNode:
		t.recountQuota(real)
	}
}

func (t *Tree) quotaDeleted(path string) {
	parent := wire.Parent(path)
	if wire.Base(path) != QuotaLimitNode || !strings.HasPrefix(parent, QuotaRoot) {
		return
	}
	delete(t.quotas, parent[len(QuotaRoot):])
}

// chargeQuota adds countDiff znodes and bytesDiff bytes to the usage of
// the quota path falls under, if any (Apache's updateQuotaStat).
func (t *Tree) chargeQuota(path string, bytesDiff, countDiff int64) {
	prefix := t.QuotaPrefix(path)
	if prefix == "" {
		return
	}
	n := t.nodes[QuotaStatPath(prefix)]
	if n == nil {
		return // Apache logs "Missing node for stat"
	}
	st := ParseStatsTrack(n.Data)
	st[QuotaCount] = st.Get(QuotaCount) + countDiff
	st[QuotaBytes] = st.Get(QuotaBytes) + bytesDiff
	t.rewriteStats(n, st)
}

// rewriteStats replaces a stats znode's data, in place: no new version
// or mzxid, as in Apache. The data is a new slice; readers may hold the
// old one.
func (t *Tree) rewriteStats(n *Node, st StatsTrack) {
	data := []byte(st.String())
	t.dataSize += int64(len(data) - len(n.Data))
	n.Data = data
}

// recountQuota sets the usage of a quota on path to what its subtree
// holds now (Apache's updateQuotaForPath).
func (t *Tree) recountQuota(path string) {
	n := t.nodes[QuotaStatPath(path)]
	if n == nil {
		return
	}
	var count, bytes int64
	_ = t.walk(path, func(_ string, m *Node) error {
		count++
		bytes += int64(len(m.Data))
		return nil
	})
	t.rewriteStats(n, StatsTrack{QuotaCount: count, QuotaBytes: bytes})
}

// setupQuotas rebuilds the set of quota paths and recounts every quota's
// usage, after a snapshot was loaded (Apache's setupQuota): a limits
// znode without children names a quota on the path between
// /zookeeper/quota and the first "/zookeeper_limits".
func (t *Tree) setupQuotas() {
	clear(t.quotas)
	const end = "/" + QuotaLimitNode
	var found []string
	_ = t.walk(QuotaRoot, func(path string, n *Node) error {
		if len(n.children) == 0 && strings.HasSuffix(path, end) {
			real := path[len(QuotaRoot):strings.Index(path, end)]
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

// Quotas returns every path that has a quota. The caller holds the lock.
func (t *Tree) Quotas() []string { return keys(t.quotas) }

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
	ln := t.nodes[QuotaLimitPath(prefix)]
	if ln == nil {
		return nil, false
	}
	limits := ParseStatsTrack(ln.Data)
	checkCount := countDiff != 0 && (limits.Get(QuotaCount) > -1 || limits.Get(QuotaCountHardLimit) > -1)
	checkBytes := bytesDiff != 0 && (limits.Get(QuotaBytes) > -1 || limits.Get(QuotaByteHardLimit) > -1)
	if !checkCount && !checkBytes {
		return nil, false
	}
	sn := t.nodes[QuotaStatPath(prefix)]
	if sn == nil {
		return nil, false
	}
	usage := ParseStatsTrack(sn.Data)
	// judge checks one measure; it reports whether a hard limit is passed.
	judge := func(what string, diff int64, soft, hardKey, usageKey string) bool {
		n := usage.Get(usageKey) + diff
		limit, kind := limits.Get(soft), "soft"
		hard := limits.Get(hardKey) > -1
		if hard {
			limit, kind = limits.Get(hardKey), "hard"
		}
		if n <= limit {
			return false
		}
		msgs = append(msgs, "Quota exceeded: "+prefix+" [current "+usageKey+"="+strconv.FormatInt(n, 10)+
			", "+kind+what+"Limit="+strconv.FormatInt(limit, 10)+"]")
		return hard
	}
	if checkCount && judge("Count", countDiff, QuotaCount, QuotaCountHardLimit, QuotaCount) {
		return msgs, true
	}
	if checkBytes && judge("Byte", bytesDiff, QuotaBytes, QuotaByteHardLimit, QuotaBytes) {
		return msgs, true
	}
	return msgs, false
}
