package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
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

// Connections and bytes: each connect request counts (and is a received
// packet, as in Apache), a connection over maxClientCnxns is rejected, a
// session whose client went away without closing it expires
// (stale_sessions_expired), and the sizes of what clients were sent are
// kept (last, smallest and largest; -1 before the first and after srst).
func TestServerConnectionMetrics(t *testing.T) {
	s, addr, _ := startPipelineServer(t, t.TempDir(), func(c *config.Config) { c.MaxClientCnxns = 1 })
	m := mntrOf(s)
	if m["last_client_response_size"] != "-1" || m["min_client_response_size"] != "-1" || m["max_client_response_size"] != "-1" {
		t.Fatalf("response sizes before any response: %s %s %s", m["last_client_response_size"], m["min_client_response_size"], m["max_client_response_size"])
	}

	// A session that goes away without closeSession: its socket closes
	// after the server's answer.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	connect := wire.Marshal(&wire.ConnectRequest{TimeOut: 400, Passwd: make([]byte, 16)})
	if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(connect))), connect...)); err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	testwait.For(t, "the abandoned session to expire", func() bool { return mntrInt(t, mntrOf(s), "stale_sessions_expired") == 1 })

	c := connectZK(t, addr)
	if _, err := c.Create("/big", make([]byte, 5000), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/big"); err != nil {
		t.Fatal(err)
	}
	// A second connection from this address is one too many. The server
	// resets it at once, which may end the dial itself.
	if extra, err := net.Dial("tcp", addr); err == nil {
		defer extra.Close()
	}
	testwait.For(t, "the connection over maxClientCnxns to be rejected", func() bool {
		return mntrInt(t, mntrOf(s), "connection_rejected") == 1
	})
	m = mntrOf(s)
	if n := mntrInt(t, m, "connection_request_count"); n != 2 {
		t.Errorf("connection_request_count %d after two connect requests", n)
	}
	if n := mntrInt(t, m, "packets_received"); n < 2+2 {
		t.Errorf("packets_received %d: two connect requests, a create and a get at least", n)
	}
	if n := mntrInt(t, m, "bytes_received_count"); n < 5000 {
		t.Errorf("bytes_received_count %d after a create of 5000 bytes", n)
	}
	if n := mntrInt(t, m, "response_bytes"); n < 5000 {
		t.Errorf("response_bytes %d after a get of 5000 bytes", n)
	}
	last, lo, hi := mntrInt(t, m, "last_client_response_size"), mntrInt(t, m, "min_client_response_size"), mntrInt(t, m, "max_client_response_size")
	if hi < 5000 || lo <= 0 || lo > last || last > hi {
		t.Errorf("client response sizes: last %d, min %d, max %d; the get's reply was over 5000 bytes", last, lo, hi)
	}
	s.View().ResetStats()
	if m = mntrOf(s); m["max_client_response_size"] != "-1" || m["connection_request_count"] != "0" {
		t.Errorf("after srst: max_client_response_size %s, connection_request_count %s", m["max_client_response_size"], m["connection_request_count"])
	}
}

// node_*_watch_count: each event adds the watchers it fired, once for
// the data watches and once for the child watches when it fired any of
// that side, as Apache's two WatchManagers do.
func TestWatchMetrics(t *testing.T) {
	s, addr, _ := startPipelineServer(t, t.TempDir())
	a, b := connectZK(t, addr), connectZK(t, addr)
	summary := func(name string) string {
		m := mntrOf(s)
		return m["cnt_"+name] + "/" + m["sum_"+name]
	}
	waitFor := func(what string, ch <-chan zk.Event) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s notification", what)
		}
	}
	_, _, created, err := a.ExistsW("/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, children, err := a.ChildrenW("/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitFor("created", created)
	waitFor("children", children)
	if c, ch := summary("node_created_watch_count"), summary("node_children_watch_count"); c != "1/1" || ch != "1/1" {
		t.Errorf("after a create watched by one exists and one children watch: created %s, children %s (cnt/sum), want 1/1 each", c, ch)
	}
	_, _, ca, err := a.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, cb, err := b.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Set("/w", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	waitFor("a's changed", ca)
	waitFor("b's changed", cb)
	if got := summary("node_changed_watch_count"); got != "1/2" {
		t.Errorf("a set watched by two sessions: node_changed_watch_count %s, want 1/2", got)
	}
	_, _, d1, err := a.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, d2, err := a.ChildrenW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("/w", -1); err != nil {
		t.Fatal(err)
	}
	waitFor("deleted (data watch)", d1)
	waitFor("deleted (child watch)", d2) // one notification; go-zookeeper hands it to both
	if got := summary("node_deleted_watch_count"); got != "2/2" {
		t.Errorf("a delete with a data and a child watch: node_deleted_watch_count %s, want 2/2 (one per side)", got)
	}
}

// A new session's connect request is its connection's first request, as
// in Apache: cons shows it received, with lop=SESS, lcxid 0 and the
// createSession's zxid, and its latency counts in srvr's. A four-letter
// word counts as a packet received and its answer as one sent.
func TestConnectCountsAsARequest(t *testing.T) {
	s, addr, _ := startPipelineServer(t, t.TempDir())
	c := connectZK(t, addr)
	var conn fourletter.Conn
	for _, fc := range s.View().Connections() {
		if fc.SessionID == c.SessionID() {
			conn = fc
		}
	}
	if conn.SessionID == 0 {
		t.Fatal("no connection of the session in cons")
	}
	if conn.LastOp != "SESS" || conn.LastCxid != 0 || conn.LastZxid != LastApplied(s) || conn.Received < 1 || conn.Sent < 1 {
		t.Errorf("cons after the connect: lop=%s lcxid=0x%x lzxid=0x%x recved=%d sent=%d; want SESS, 0x0, 0x%x, 1, 1",
			conn.LastOp, conn.LastCxid, conn.LastZxid, conn.Received, conn.Sent, LastApplied(s))
	}
	st := s.View().Stats()
	if st.LatencyCount != 1 || st.PacketsReceived != 1 {
		t.Errorf("srvr after the connect: %d latency samples, %d packets received; want 1 and 1", st.LatencyCount, st.PacketsReceived)
	}
	out, err := fourletter.Query(context.Background(), addr, "srvr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Received: 2\n") {
		t.Errorf("srvr counts itself as a packet received:\n%s", out)
	}
	if st := s.View().Stats(); st.PacketsSent != conn.Sent+1 {
		t.Errorf("packets sent %d after srvr's answer, want the connection's %d and srvr's 1", st.PacketsSent, conn.Sent)
	}
}
