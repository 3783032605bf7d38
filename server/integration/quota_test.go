package integration

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// setQuota writes a quota on path as zkCli.sh 3.8's setquota does: the
// /zookeeper/quota/<path> chain, the limits znode, then the stats znode
// with "count=0,bytes=0", which the server recounts.
func setQuota(t *testing.T, c *zk.Conn, path, limits string) {
	t.Helper()
	p := "/zookeeper/quota"
	for _, part := range strings.Split(path, "/")[1:] {
		p += "/" + part
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	must(t, create(c, p+"/zookeeper_limits", limits))
	must(t, create(c, p+"/zookeeper_stats", "count=0,bytes=0"))
}

func create(c *zk.Conn, path, data string) error {
	_, err := c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll))
	return err
}

func wantQuotaStats(t *testing.T, c *zk.Conn, path, want string) *zk.Stat {
	t.Helper()
	data, st, err := c.Get("/zookeeper/quota" + path + "/zookeeper_stats")
	must(t, err)
	if string(data) != want {
		t.Fatalf("stats of %s = %q, want %q", path, data, want)
	}
	return st
}

// The server keeps a quota's usage in its stats znode, whether quotas are
// enforced or not: zkCli.sh's listquota prints it. The data changes in
// place: no new version or mzxid. After a restart it is recounted.
func TestQuotaUsage(t *testing.T) {
	s, c := start(t)
	must(t, create(c, "/q", ""))
	must(t, create(c, "/q/a", "hello"))
	must(t, create(c, "/qq", "beside, not under"))
	setQuota(t, c, "/q", "count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1")
	first := wantQuotaStats(t, c, "/q", "count=2,bytes=5")

	must(t, create(c, "/q/b", ""))
	must(t, create(c, "/q/a/c", "12345"))
	_, err := c.Set("/q/a", []byte("hi"), -1)
	must(t, err)
	must(t, create(c, "/qq/x", "outside"))
	last := wantQuotaStats(t, c, "/q", "count=4,bytes=7")
	if last.Version != first.Version || last.Mzxid != first.Mzxid || last.DataLength != int32(len("count=4,bytes=7")) {
		t.Fatalf("stats znode: first %+v, then %+v: want the same version and mzxid, dataLength %d",
			first, last, len("count=4,bytes=7"))
	}
	must(t, c.Delete("/q/a/c", -1))
	wantQuotaStats(t, c, "/q", "count=3,bytes=2")

	s.Restart()
	c2, _ := connect(t, s.Addr())
	wantQuotaStats(t, c2, "/q", "count=3,bytes=2")
	must(t, create(c2, "/q/d", "4444"))
	wantQuotaStats(t, c2, "/q", "count=4,bytes=6")

	// Without its limits znode the quota is gone.
	must(t, c2.Delete("/zookeeper/quota/q/zookeeper_limits", -1))
	must(t, create(c2, "/q/e", "55555"))
	wantQuotaStats(t, c2, "/q", "count=4,bytes=6")
}

// errQuotaExceeded is how go-zookeeper v1.0.4, which has no name for code
// -125, reports QUOTAEXCEEDED.
const errQuotaExceeded = "unknown error: -125"

func enforceQuota(c *config.Config) { c.EnforceQuota = true }

// With enforceQuota a create or setData that would pass a hard limit fails
// with QUOTAEXCEEDED and changes nothing; soft limits are only logged.
func TestQuotaEnforced(t *testing.T) {
	_, c := start(t, servertest.WithConfig(enforceQuota))
	must(t, create(c, "/h", ""))
	setQuota(t, c, "/h", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3")
	must(t, create(c, "/s", ""))
	setQuota(t, c, "/s", "count=1,bytes=1")

	must(t, create(c, "/h/a", "12345"))
	must(t, create(c, "/h/b", ""))
	err := create(c, "/h/c", "")
	if err == nil || err.Error() != errQuotaExceeded {
		t.Fatalf("fourth znode under countHardLimit=3: %v, want %s", err, errQuotaExceeded)
	}
	if ok, _, _ := c.Exists("/h/c"); ok {
		t.Fatal("the refused create happened")
	}
	_, err = c.Set("/h/a", []byte("1234567890x"), -1)
	if err == nil || err.Error() != errQuotaExceeded {
		t.Fatalf("set past byteHardLimit=10: %v, want %s", err, errQuotaExceeded)
	}
	// The quota is checked before the version, as in Apache.
	_, err = c.Set("/h/a", []byte("1234567890x"), 42)
	if err == nil || err.Error() != errQuotaExceeded {
		t.Fatalf("set past the limit with a wrong version: %v, want %s", err, errQuotaExceeded)
	}
	_, err = c.Set("/h/a", []byte("1234567890"), -1)
	must(t, err)
	wantQuotaStats(t, c, "/h", "count=3,bytes=10")

	// In a multi the op that would pass the limit fails the whole request.
	_, err = c.Multi(&zk.SetDataRequest{Path: "/h/a", Data: []byte("1"), Version: -1},
		&zk.CreateRequest{Path: "/h/z", Data: nil, Acl: zk.WorldACL(zk.PermAll)})
	if err == nil || err.Error() != errQuotaExceeded {
		t.Fatalf("multi with a create past the limit: %v, want %s", err, errQuotaExceeded)
	}
	data, _, err := c.Get("/h/a")
	must(t, err)
	if string(data) != "1234567890" {
		t.Fatalf("the failed multi's set happened: %q", data)
	}

	// Soft limits never refuse.
	must(t, create(c, "/s/a", "more than one byte"))
	must(t, create(c, "/s/b", ""))
	wantQuotaStats(t, c, "/s", "count=3,bytes=18")

	// Deleting frees room.
	must(t, c.Delete("/h/b", -1))
	must(t, create(c, "/h/c", ""))
}

// Without enforceQuota (the default, in Apache too) hard limits are only
// counted against.
func TestQuotaNotEnforcedByDefault(t *testing.T) {
	_, c := start(t)
	must(t, create(c, "/h", ""))
	setQuota(t, c, "/h", "count=-1,bytes=-1=;byteHardLimit=1;countHardLimit=1")
	must(t, create(c, "/h/a", "past every limit"))
	wantQuotaStats(t, c, "/h", "count=2,bytes=16")
}

// mntr has Apache's quota gauges per top-level namespace (the hard limit
// when one is set), and with enforceQuota the count of refused writes.
func TestQuotaMetrics(t *testing.T) {
	s, c := start(t, servertest.WithConfig(enforceQuota))
	must(t, create(c, "/mq", "x"))
	must(t, create(c, "/mq/a", "yy"))
	setQuota(t, c, "/mq", "count=-1,bytes=10=;byteHardLimit=-1;countHardLimit=7")
	must(t, create(c, "/mq/b", ""))
	setQuota(t, c, "/mq/b", "count=4,bytes=-1")
	must(t, create(c, "/other", ""))
	setQuota(t, c, "/other", "count=-1,bytes=-1=;byteHardLimit=1;countHardLimit=-1")
	_, err := c.Set("/other", []byte("too long"), -1)
	if err == nil || err.Error() != errQuotaExceeded {
		t.Fatalf("set past byteHardLimit=1: %v", err)
	}
	out, err := fourletter.Query(context.Background(), s.Addr(), "mntr")
	must(t, err)
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok && strings.Contains(k, "quota") {
			got[k] = v
		}
	}
	want := map[string]string{
		// /mq: 7 + 4 znodes, 10 + -1 bytes. Usage: /mq counts /mq, /mq/a
		// and /mq/b (it was created before the quota on it), /mq/b itself.
		"zk_mq_quota_count_limit_per_namespace":       "11",
		"zk_mq_quota_bytes_limit_per_namespace":       "9",
		"zk_mq_quota_count_usage_per_namespace":       "4",
		"zk_mq_quota_bytes_usage_per_namespace":       "3",
		"zk_other_quota_count_limit_per_namespace":    "-1",
		"zk_other_quota_bytes_limit_per_namespace":    "1",
		"zk_other_quota_count_usage_per_namespace":    "1",
		"zk_other_quota_bytes_usage_per_namespace":    "0",
		"zk_other_quota_exceeded_error_per_namespace": "1",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("mntr quota lines:\n%v\nwant\n%v", got, want)
	}
}
