package server

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
)

// mntrOf is s's mntr, key (without zk_) → value, as the word prints it.
func mntrOf(s *Server) map[string]string {
	m := map[string]string{}
	for _, kv := range fourletter.Monitor(s.View()) {
		m[kv.Key] = kv.Value
	}
	return m
}

func mntrInt(t *testing.T, m map[string]string, key string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(m[key], 10, 64)
	if err != nil {
		t.Fatalf("mntr %s = %q: %v", key, m[key], err)
	}
	return n
}

// Apache's ServerMetrics in mntr: requests' latencies split into reads
// and updates, the log's synced writes (fsynctime) and their txns (every
// txn once: sync_processor_batch_size sums to the txns written),
// snapshots, and what loading took at start; srst empties them.
func TestServerMetrics(t *testing.T) {
	dir := t.TempDir()
	s, addr, stop := startPipelineServer(t, dir, func(c *config.Config) { c.SnapCount = 40 })
	c := connectZK(t, addr)
	for i := range 60 {
		if _, err := c.Create(fmt.Sprintf("/m%d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if _, _, err := c.Get(fmt.Sprintf("/m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testwait.For(t, "a snapshot (snapCount 40: one every 20 to 40 txns)", func() bool { return mntrInt(t, mntrOf(s), "cnt_snapshottime") > 0 })
	m := mntrOf(s)
	if n := mntrInt(t, m, "cnt_updatelatency"); n < 60 {
		t.Errorf("cnt_updatelatency %d after 60 creates", n)
	}
	if n := mntrInt(t, m, "cnt_readlatency"); n < 50 {
		t.Errorf("cnt_readlatency %d after 50 reads", n)
	}
	for _, k := range []string{"p50_readlatency", "p95_readlatency", "p99_readlatency", "p999_readlatency", "p99_updatelatency"} {
		mntrInt(t, m, k)
	}
	if _, ok := m["p99_fsynctime"]; ok {
		t.Error("fsynctime has percentiles in mntr; Apache's (a BASIC summary) has none")
	}
	txns := LastApplied(s) & 0xffffffff // the session and 60 creates, in epoch 0
	if n := mntrInt(t, m, "sum_sync_processor_batch_size"); n != txns {
		t.Errorf("sum_sync_processor_batch_size %d, want the %d txns written", n, txns)
	}
	if n := mntrInt(t, m, "cnt_fsynctime"); n < 1 || n != mntrInt(t, m, "cnt_sync_processor_batch_size") {
		t.Errorf("cnt_fsynctime %d: one per synced log write (%s)", n, m["cnt_sync_processor_batch_size"])
	}
	if n := mntrInt(t, m, "cnt_dbinittime"); n != 1 {
		t.Errorf("cnt_dbinittime %d on a server started once", n)
	}
	s.View().ResetStats()
	m = mntrOf(s)
	for _, k := range []string{"cnt_readlatency", "cnt_updatelatency", "cnt_fsynctime", "sum_sync_processor_batch_size", "max_readlatency"} {
		if n := mntrInt(t, m, k); n != 0 {
			t.Errorf("%s %d after srst", k, n)
		}
	}
	c.Close()
	stop()

	// A restart loads the newest snapshot and replays the txns after it.
	s, _, _ = startPipelineServer(t, dir)
	m = mntrOf(s)
	if mntrInt(t, m, "cnt_startup_snap_load_time") != 1 || mntrInt(t, m, "cnt_startup_txns_loaded") != 1 || mntrInt(t, m, "cnt_dbinittime") != 1 {
		t.Errorf("after a restart: snapshot loads %s, txn replays %s, loads %s; want 1 each",
			m["cnt_startup_snap_load_time"], m["cnt_startup_txns_loaded"], m["cnt_dbinittime"])
	}
}
