// Package quota holds what the server and the shell share about ZooKeeper
// quotas: where they live and the text format of their znodes.
//
// A quota on /p is the znode /zookeeper/quota/p/zookeeper_limits, written
// by a client (zkCli.sh's and zk's setquota), beside
// /zookeeper/quota/p/zookeeper_stats, whose data the server keeps equal to
// the number of znodes and data bytes in /p's subtree.
package quota

import (
	"slices"
	"strconv"
	"strings"
)

// Where quotas live.
const (
	Root      = "/zookeeper/quota"
	LimitNode = "zookeeper_limits"
	StatNode  = "zookeeper_stats"
)

// LimitPath is where the limits of a quota on path are kept.
func LimitPath(path string) string { return Root + path + "/" + LimitNode }

// StatPath is where the usage of a quota on path is kept.
func StatPath(path string) string { return Root + path + "/" + StatNode }

// TopNamespace is the first component of path ("app" for "/app/x", ""
// for "/"), Apache's PathUtils.getTopNamespace: the key of the quota
// metrics.
func TopNamespace(path string) string {
	ns, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ns
}

// StatsTrack is the content of a limits or stats znode, Apache's
// StatsTrack: "count=N,bytes=B", then, when there are other keys (the hard
// limits), "=" and ";key=value" for each in key order. A key that is
// missing reads as -1.
type StatsTrack map[string]int64

// The keys of a StatsTrack.
const (
	Count          = "count"
	Bytes          = "bytes"
	CountHardLimit = "countHardLimit"
	ByteHardLimit  = "byteHardLimit"
)

// Parse reads a limits or stats znode's data. Pairs are separated by runs
// of ',' and ';', and an empty value reads as -1, as in Apache. Where
// Apache's parser throws (a pair without '=', a value that is not a
// number) this one skips the pair: a znode's data must not stop a server
// applying a txn.
func Parse(data []byte) StatsTrack {
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
	b.WriteString(strconv.FormatInt(st.Get(Count), 10))
	b.WriteString(",bytes=")
	b.WriteString(strconv.FormatInt(st.Get(Bytes), 10))
	var rest []string
	for k := range st {
		if k != Count && k != Bytes {
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
