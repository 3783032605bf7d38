package tree

import (
	"slices"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/internal/quota"
)

// quotaTree applies creates, sets and deletes with increasing zxids.
type quotaTree struct {
	*Tree
	t    *testing.T
	zxid int64
}

func newQuotaTree(t *testing.T) *quotaTree { return &quotaTree{Tree: New(), t: t} }

func (q *quotaTree) create(path, data string) {
	q.t.Helper()
	q.zxid++
	parent := q.Get(parentOf(path))
	if parent == nil {
		q.t.Fatalf("create %s: no parent", path)
	}
	if q.Create(path, []byte(data), OpenACL, 0, parent.Cversion+1, q.zxid, q.zxid) == nil {
		q.t.Fatalf("create %s failed", path)
	}
}

func (q *quotaTree) set(path, data string) {
	q.t.Helper()
	q.zxid++
	n := q.Get(path)
	if q.SetData(path, []byte(data), n.Version+1, q.zxid, q.zxid) == nil {
		q.t.Fatalf("set %s failed", path)
	}
}

func (q *quotaTree) del(path string) {
	q.t.Helper()
	q.zxid++
	if !q.Delete(path, q.zxid) {
		q.t.Fatalf("delete %s failed", path)
	}
}

func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// setQuota does what zkCli.sh's setquota does for a new quota: the
// /zookeeper/quota/<path> chain, the limits znode, then the stats znode
// with "count=0,bytes=0".
func (q *quotaTree) setQuota(path, limits string) {
	q.t.Helper()
	p := quota.Root
	for _, part := range strings.Split(path, "/")[1:] {
		p += "/" + part
		if q.Get(p) == nil {
			q.create(p, "")
		}
	}
	q.create(quota.LimitPath(path), limits)
	q.create(quota.StatPath(path), "count=0,bytes=0")
}

func (q *quotaTree) stats(path string) string {
	q.t.Helper()
	n := q.Get(quota.StatPath(path))
	if n == nil {
		q.t.Fatalf("no stats znode for %s", path)
	}
	return string(n.Data)
}

func (q *quotaTree) wantStats(path, want string) {
	q.t.Helper()
	if got := q.stats(path); got != want {
		q.t.Fatalf("stats of %s = %q, want %q", path, got, want)
	}
}

// The usage of a quota follows its subtree as Apache's DataTree keeps it
// (the same sequence against Apache 3.8.0 through zkCli.sh gave these
// stats), rewritten without a new version or mzxid.
func TestQuotaUsageTracked(t *testing.T) {
	q := newQuotaTree(t)
	q.create("/q", "")
	q.create("/q/a", "hello")
	q.create("/qq", "outside") // a sibling whose name starts the same
	q.setQuota("/q", "count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1")
	q.wantStats("/q", "count=2,bytes=5")
	before := q.Get(quota.StatPath("/q")).Stat()

	q.create("/q/b", "")
	q.create("/q/c", "12345")
	q.create("/q/a/deep", "xy")
	q.wantStats("/q", "count=5,bytes=12")
	q.set("/q/a", "hi")
	q.wantStats("/q", "count=5,bytes=9")
	q.del("/q/a/deep")
	q.del("/q/c")
	q.wantStats("/q", "count=3,bytes=2")
	q.create("/qq/x", "not counted")
	q.set("/qq", "")
	q.wantStats("/q", "count=3,bytes=2")

	after := q.Get(quota.StatPath("/q")).Stat()
	if after.Mzxid != before.Mzxid || after.Version != before.Version || after.DataLength != int32(len("count=3,bytes=2")) {
		t.Fatalf("stats znode's Stat before %+v, after %+v: want the same mzxid and version, the new data length", before, after)
	}

	// Without its limits znode the quota is gone: nothing is counted.
	q.del(quota.LimitPath("/q"))
	q.create("/q/d", "zzz")
	q.wantStats("/q", "count=3,bytes=2")
	if got := q.QuotaPrefix("/q/d"); got != "" {
		t.Fatalf("QuotaPrefix after the limits went = %q", got)
	}
}

// A znode counts toward the deepest quota above it only (Apache's
// PathTrie.findMaxPrefix), and a quota on / is never kept.
func TestQuotaDeepestWins(t *testing.T) {
	q := newQuotaTree(t)
	q.create("/a", "1")
	q.create("/a/b", "22")
	q.setQuota("/a", "count=10,bytes=-1")
	q.setQuota("/a/b", "count=10,bytes=-1")
	q.wantStats("/a", "count=2,bytes=3")
	q.wantStats("/a/b", "count=1,bytes=2")
	q.create("/a/b/c", "333")
	q.create("/a/d", "4444")
	q.wantStats("/a/b", "count=2,bytes=5")
	q.wantStats("/a", "count=3,bytes=7")
	for path, want := range map[string]string{"/a/b/c": "/a/b", "/a/b": "/a/b", "/a/d": "/a", "/a": "/a", "/ab": "", "/": ""} {
		if got := q.QuotaPrefix(path); got != want {
			t.Errorf("QuotaPrefix(%s) = %q, want %q", path, got, want)
		}
	}
	if got := keys(q.quotas); !slices.Equal(sorted(got), []string{"/a", "/a/b"}) {
		t.Fatalf("quota paths = %v", got)
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// Loading a snapshot recounts every quota (Apache's setupQuota): a fuzzy
// snapshot's stats may not match the znodes it caught.
func TestQuotaRecountedOnRestore(t *testing.T) {
	q := newQuotaTree(t)
	q.create("/r", "abc")
	q.create("/r/x", "de")
	q.setQuota("/r", "count=-1,bytes=100")
	q.wantStats("/r", "count=2,bytes=5")
	q.SetData(quota.StatPath("/r"), []byte("count=99,bytes=99"), 1, 100, 100)

	var ns []Restoring
	if err := q.Walk(func(path string, n *Node) error {
		if path != "/" && path != "/zookeeper" && path != quota.Root && path != "/zookeeper/config" {
			c := *n
			c.children = nil
			ns = append(ns, Restoring{Path: path, Node: &c})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fresh := New()
	fresh.RestoreAll(ns)
	if got := string(fresh.Get(quota.StatPath("/r")).Data); got != "count=2,bytes=5" {
		t.Fatalf("stats after restore = %q, want count=2,bytes=5", got)
	}
	fresh.Create("/r/y", []byte("f"), OpenACL, 0, 2, 200, 200)
	if got := string(fresh.Get(quota.StatPath("/r")).Data); got != "count=3,bytes=6" {
		t.Fatalf("stats after a create on the restored tree = %q, want count=3,bytes=6", got)
	}
	// A learner's tree replaced by its leader's snapshot keeps tracking.
	other := New()
	other.ReplaceWith(fresh)
	other.Create("/r/z", nil, OpenACL, 0, 3, 201, 201)
	if got := string(other.Get(quota.StatPath("/r")).Data); got != "count=4,bytes=6" {
		t.Fatalf("stats after ReplaceWith and a create = %q, want count=4,bytes=6", got)
	}
}

// QuotaCheck judges writes as Apache's ZooKeeperServer.checkQuota does:
// the hard limit when one is set, else the soft one, which is only logged.
func TestQuotaCheck(t *testing.T) {
	q := newQuotaTree(t)
	q.create("/s", "")
	q.create("/s/a", "12345")
	q.setQuota("/s", "count=2,bytes=-1") // soft count
	q.create("/h", "")
	q.setQuota("/h", "count=-1,bytes=-1=;byteHardLimit=4;countHardLimit=2") // hard both
	for _, tc := range []struct {
		path         string
		bytes, count int64
		refuse       bool
		msg          string
	}{
		{"/s/b", 0, 1, false, "Quota exceeded: /s [current count=3, softCountLimit=2]"},
		{"/s/a", 100, 0, false, ""}, // no byte limit
		{"/h/a", 4, 1, false, ""},   // count 2 of 2, bytes 4 of 4
		{"/h/a", 5, 1, true, "Quota exceeded: /h [current bytes=5, hardByteLimit=4]"},
		{"/h", 0, 0, false, ""},
		{"/elsewhere", 100, 100, false, ""},
	} {
		msgs, refuse := q.QuotaCheck(tc.path, tc.bytes, tc.count)
		if refuse != tc.refuse || strings.Join(msgs, "|") != tc.msg {
			t.Errorf("QuotaCheck(%s, %d, %d) = %q, %v; want %q, %v", tc.path, tc.bytes, tc.count, msgs, refuse, tc.msg, tc.refuse)
		}
	}
	q.create("/h/a", "1234")
	msgs, refuse := q.QuotaCheck("/h/b", 0, 1)
	if !refuse || strings.Join(msgs, "|") != "Quota exceeded: /h [current count=3, hardCountLimit=2]" {
		t.Fatalf("third znode under a hard count of 2: %q, %v", msgs, refuse)
	}
	// A setData that shrinks the data passes whatever the usage.
	if msgs, refuse := q.QuotaCheck("/h/a", -3, 0); refuse || msgs != nil {
		t.Fatalf("shrinking set: %q, %v", msgs, refuse)
	}
}
