package shell

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

func znodeData(t *testing.T, conn *zk.Conn, path string) string {
	t.Helper()
	data, _, err := conn.Get(path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return string(data)
}

func mustRun(t *testing.T, addr string, args ...string) runResult {
	t.Helper()
	r := run(t, addr, "", args...)
	if r.runErr != nil {
		t.Fatalf("zk %s: %v (stderr %q)", strings.Join(args, " "), r.runErr, r.err)
	}
	return r
}

// What setquota and delquota write is what zkCli.sh writes (its
// SetQuotaCommand and DelQuotaCommand): the golden tests compare their
// words, this checks the znodes they leave, which the server counts under.
func TestQuotaCommands(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	cleanTree(t, conn, "/qt")
	cleanTree(t, conn, "/zookeeper/quota/qt")
	t.Cleanup(func() { cleanTree(t, conn, "/qt"); cleanTree(t, conn, "/zookeeper/quota/qt") })
	mustCreate(t, conn, "/qt", nil, 0)
	mustCreate(t, conn, "/qt/deep", nil, 0)
	mustCreate(t, conn, "/qt/deep/p", []byte("abc"), 0)
	mustCreate(t, conn, "/qt/deep/p/c", []byte("de"), 0)
	const limits, stats = "/zookeeper/quota/qt/deep/p/zookeeper_limits", "/zookeeper/quota/qt/deep/p/zookeeper_stats"

	mustRun(t, addr, "setquota", "-n", "5", "/qt/deep/p")
	if got := znodeData(t, conn, limits); got != "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" {
		t.Fatalf("limits after setquota -n 5: %q", got)
	}
	if got := znodeData(t, conn, stats); got != "count=2,bytes=5" {
		t.Fatalf("usage after setquota: %q", got)
	}
	// A second setquota changes one limit and keeps the others.
	mustRun(t, addr, "setquota", "-B", "100", "/qt/deep/p")
	if got := znodeData(t, conn, limits); got != "count=5,bytes=-1=;byteHardLimit=100;countHardLimit=-1" {
		t.Fatalf("limits after setquota -B 100: %q", got)
	}
	// zk takes several limits at once (zkCli.sh refuses a second flag).
	mustRun(t, addr, "setquota", "-N", "10", "-b", "50", "/qt/deep/p")
	if got := znodeData(t, conn, limits); got != "count=5,bytes=50=;byteHardLimit=100;countHardLimit=10" {
		t.Fatalf("limits after setquota -N 10 -b 50: %q", got)
	}

	r := mustRun(t, addr, "listquota", "/qt/deep/p", "-o", "json")
	var q QuotaJSON
	if err := json.Unmarshal([]byte(r.out), &q); err != nil {
		t.Fatalf("%v: %q", err, r.out)
	}
	if q.Path != "/qt/deep/p" || q.Limits == nil || *q.Limits != (QuotaLimits{Count: 5, Bytes: 50, CountHardLimit: 10, ByteHardLimit: 100}) ||
		q.Usage == nil || *q.Usage != (QuotaUsage{Count: 2, Bytes: 5}) {
		t.Fatalf("listquota -o json: %s", r.out)
	}
	r = mustRun(t, addr, "listquota", "/qt", "-o", "json")
	if strings.TrimSpace(r.out) != `{"path":"/qt","limits":null,"usage":null}` {
		t.Fatalf("listquota -o json without a quota: %s", r.out)
	}

	mustRun(t, addr, "delquota", "-b", "-N", "/qt/deep/p")
	if got := znodeData(t, conn, limits); got != "count=5,bytes=-1=;byteHardLimit=100;countHardLimit=-1" {
		t.Fatalf("limits after delquota -b -N: %q", got)
	}
	// Deleting the quota removes its znodes and the chain above them up
	// to /zookeeper/quota.
	mustRun(t, addr, "delquota", "/qt/deep/p")
	if ok, _, err := conn.Exists("/zookeeper/quota/qt"); err != nil || ok {
		t.Fatalf("/zookeeper/quota/qt after delquota: exists %v, %v", ok, err)
	}
	if ok, _, err := conn.Exists("/zookeeper/quota"); err != nil || !ok {
		t.Fatalf("/zookeeper/quota after delquota: exists %v, %v", ok, err)
	}
	// A chain shared with another quota stays.
	mustCreate(t, conn, "/qt/deep/q", nil, 0)
	mustRun(t, addr, "setquota", "-n", "5", "/qt/deep/p")
	mustRun(t, addr, "setquota", "-n", "5", "/qt/deep/q")
	mustRun(t, addr, "delquota", "/qt/deep/q")
	if got := znodeData(t, conn, limits); got != "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" {
		t.Fatalf("the quota on /qt/deep/p after deleting its sibling's: %q", got)
	}
	if ok, _, err := conn.Exists("/zookeeper/quota/qt/deep/q"); err != nil || ok {
		t.Fatalf("/zookeeper/quota/qt/deep/q after delquota: exists %v, %v", ok, err)
	}

	r = run(t, addr, "", "setquota", "/qt")
	if !IsUsage(r.runErr) {
		t.Fatalf("setquota without a limit: %v, want a usage error", r.runErr)
	}
}

// With enforceQuota a write past a hard limit fails with zkCli.sh's words.
func TestQuotaExceededMessage(t *testing.T) {
	addr := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.EnforceQuota = true })).Addr()
	mustRun(t, addr, "create", "/h")
	mustRun(t, addr, "setquota", "-N", "1", "/h")
	r := run(t, addr, "", "create", "/h/x")
	if r.runErr == nil || r.runErr.Error() != "Quota has exceeded : /h/x" {
		t.Fatalf("create past countHardLimit=1: %v", r.runErr)
	}
}
