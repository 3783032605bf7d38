package clusterstatus

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/servertest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// srvrText is srvr output in Apache ZooKeeper 3.8.0's format (observed on
// the Debian package); leaders add the proposal sizes line.
func srvrText(mode, zxid string, nodes int) string {
	s := "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
		"Latency min/avg/max: 0/0.2659/80\n" +
		"Received: 120\n" +
		"Sent: 119\n" +
		"Connections: 3\n" +
		"Outstanding: 0\n" +
		"Zxid: " + zxid + "\n" +
		"Mode: " + mode + "\n" +
		fmt.Sprintf("Node count: %d\n", nodes)
	if mode == "leader" {
		s += "Proposal sizes last/min/max: 92/48/210\n"
	}
	return s
}

func mntrText(state string, extra ...string) string {
	s := "zk_version\t3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
		"zk_server_state\t" + state + "\n" +
		"zk_num_alive_connections\t3\n" +
		"zk_outstanding_requests\t0\n" +
		"zk_znode_count\t7\n" +
		"zk_avg_latency\t0.5\n" +
		"zk_min_latency\t0\n" +
		"zk_max_latency\t12\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

const (
	notWhitelisted = "mntr is not executed because it is not in the whitelist.\n"
	notServing     = "This ZooKeeper instance is not currently serving requests\n"
)

// fake4lw serves four-letter words from a table on 127.0.0.1:0 until the
// test ends; a word missing from the table gets the connection closed
// without an answer.
func fake4lw(t *testing.T, replies map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				b := make([]byte, 4)
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				if r, ok := replies[string(b)]; ok {
					_, _ = io.WriteString(c, r)
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// deadAddr is a 127.0.0.1 port nobody listens on, below the ephemeral
// range: a port the kernel hands out for :0 may soon be another test's.
func deadAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(servertest.FreePorts(t, 1)[0])
}

type fakeSpec struct {
	down  bool
	srvr  string
	mntr  string // "" means not in the whitelist
	nosrv bool   // srvr answers "not currently serving"
	hash  string // "" means not in the whitelist
}

func start(t *testing.T, specs []fakeSpec) []string {
	addrs := make([]string, len(specs))
	for i, s := range specs {
		if s.down {
			addrs[i] = deadAddr(t)
			continue
		}
		rep := map[string]string{"srvr": s.srvr, "mntr": s.mntr, "hash": s.hash}
		if s.mntr == "" {
			rep["mntr"] = notWhitelisted
		}
		if s.hash == "" {
			rep["hash"] = "hash is not executed because it is not in the whitelist.\n"
		}
		if s.nosrv {
			rep["srvr"], rep["mntr"] = notServing, notServing
		}
		addrs[i] = fake4lw(t, rep)
	}
	return addrs
}

// The tree digests (hash) of the servers that log them are compared at
// the newest zxid all of them have: equal, the report names that zxid;
// different, the list is degraded and the summary names each server's
// digest there. A server without hash (whitelist) is left out.
func TestCheckDigests(t *testing.T) {
	leader := fakeSpec{srvr: srvrText("leader", "0x100000205", 7), hash: "100000080: 11\n100000100: 22\n100000180: 33\n100000200: 44\n"}
	behind := fakeSpec{srvr: srvrText("follower", "0x100000190", 7), hash: "100000080: 11\n100000100: 22\n100000180: 33\n"}
	synced := fakeSpec{srvr: srvrText("follower", "0x100000190", 7), hash: "100000100: 22\n100000180: 33\n"} // SNAP-synced: no older entries
	diverged := fakeSpec{srvr: srvrText("follower", "0x100000190", 7), hash: "100000100: 22\n100000180: 34\n"}
	noHash := fakeSpec{srvr: srvrText("follower", "0x100000190", 7)}

	addrs := start(t, []fakeSpec{leader, behind, synced, noHash})
	r := Check(context.Background(), addrs, 5*time.Second)
	if r.Health != HealthOK || r.DigestZxid != "0x100000180" || !strings.HasSuffix(r.Summary, "; tree digests agree at zxid 0x100000180") {
		t.Fatalf("health %s, digest zxid %q (%s)", r.Health, r.DigestZxid, r.Summary)
	}
	if d := r.Servers[1].Digest; d == nil || *d != 33 || r.Servers[3].Digest != nil {
		t.Fatalf("digests %v %v", r.Servers[1].Digest, r.Servers[3].Digest)
	}

	addrs = start(t, []fakeSpec{leader, behind, diverged})
	r = Check(context.Background(), addrs, 5*time.Second)
	want := "tree digests differ at zxid 0x100000180: " + addrs[0] + " has 33, " + addrs[1] + " has 33, " + addrs[2] + " has 34"
	if r.Health != HealthDegraded || r.ExitCode() != 1 || !strings.Contains(r.Summary, want) {
		t.Fatalf("health %s, summary %q; want degraded with %q", r.Health, r.Summary, want)
	}

	// A server that counted mismatches (mntr) makes the list degraded,
	// named with its count, even where the logs agree.
	counted := leader
	counted.srvr = srvrText("follower", "0x100000190", 7)
	counted.mntr = mntrText("follower", "zk_digest_mismatches_count\t2")
	addrs = start(t, []fakeSpec{leader, behind, counted})
	r = Check(context.Background(), addrs, 5*time.Second)
	want = "tree digest mismatches counted on " + addrs[2] + " (2)"
	if r.Health != HealthDegraded || r.Servers[2].DigestMismatches != 2 || !strings.Contains(r.Summary, want) {
		t.Fatalf("health %s, summary %q; want degraded with %q", r.Health, r.Summary, want)
	}

	// One server with a log, or none in common: nothing to compare.
	addrs = start(t, []fakeSpec{leader, noHash, noHash})
	if r := Check(context.Background(), addrs, 5*time.Second); r.DigestZxid != "" || r.Health != HealthOK {
		t.Fatalf("one log: %q %s", r.DigestZxid, r.Health)
	}
}

func TestCheckVerdict(t *testing.T) {
	leader := fakeSpec{srvr: srvrText("leader", "0x100000005", 7), mntr: mntrText("leader", "zk_peer_state\tleading - broadcast", "zk_quorum_size\t3", "zk_synced_followers\t2")}
	follower := fakeSpec{srvr: srvrText("follower", "0x100000005", 7), mntr: mntrText("follower", "zk_peer_state\tfollowing - broadcast", "zk_quorum_size\t3")}
	followerNoMntr := fakeSpec{srvr: srvrText("follower", "0x100000005", 7)}
	observer := fakeSpec{srvr: srvrText("observer", "0x100000005", 7)}
	standalone := fakeSpec{srvr: srvrText("standalone", "0x0", 5)}
	down := fakeSpec{down: true}

	tests := []struct {
		name     string
		specs    []fakeSpec
		health   Health
		code     int
		leader   int // index of the leader, -1 for none
		summary  string
		up       int
		voters   int
		wantMntr []bool
	}{
		{"single standalone", []fakeSpec{standalone}, HealthOK, 0, -1, "standalone server up", 1, 1, []bool{false}},
		{"ensemble of three", []fakeSpec{leader, follower, followerNoMntr}, HealthOK, 0, 0, "2 followers, 0 observers, all 3 servers up", 3, 3, []bool{true, true, false}},
		{"ensemble with observer", []fakeSpec{follower, leader, follower, observer}, HealthOK, 0, 1, "2 followers, 1 observer, all 4 servers up", 4, 3, nil},
		{"one follower down", []fakeSpec{leader, follower, down}, HealthDegraded, 1, 0, "1 of 3 servers down", 2, 3, nil},
		{"leader down", []fakeSpec{down, follower, follower}, HealthDegraded, 1, -1, "no leader", 2, 3, nil},
		{"two leaders", []fakeSpec{leader, leader, follower}, HealthDegraded, 1, -1, "2 servers claim to lead", 3, 3, nil},
		{"leader without quorum", []fakeSpec{leader, observer, observer}, HealthDegraded, 1, 0, "no quorum: leader and 0 followers of 3 voters", 3, 3, nil},
		{"standalones are not an ensemble", []fakeSpec{standalone, standalone}, HealthDegraded, 1, -1, "2 standalone servers in a list of 2", 2, 2, nil},
		{"not serving", []fakeSpec{{nosrv: true}}, HealthDegraded, 1, -1, "1 not serving requests", 0, 1, nil},
		{"all down", []fakeSpec{down, down}, HealthDown, 2, -1, "no server answered", 0, 2, nil},
		{"srvr garbage, mntr fine", []fakeSpec{{srvr: "hello\n", mntr: mntrText("standalone")}}, HealthOK, 0, -1, "standalone server up", 1, 1, []bool{true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addrs := start(t, tc.specs)
			r := Check(context.Background(), addrs, 5*time.Second)
			if r.Health != tc.health || r.ExitCode() != tc.code {
				t.Errorf("health = %s (exit %d), want %s (exit %d); summary %q", r.Health, r.ExitCode(), tc.health, tc.code, r.Summary)
			}
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary = %q, want it to contain %q", r.Summary, tc.summary)
			}
			wantLeader := ""
			if tc.leader >= 0 {
				wantLeader = addrs[tc.leader]
			}
			if r.Leader != wantLeader {
				t.Errorf("leader = %q, want %q", r.Leader, wantLeader)
			}
			if r.Up != tc.up || r.Voters != tc.voters {
				t.Errorf("up/voters = %d/%d, want %d/%d", r.Up, r.Voters, tc.up, tc.voters)
			}
			if len(r.Servers) != len(addrs) {
				t.Fatalf("%d servers in report, want %d", len(r.Servers), len(addrs))
			}
			for i, s := range r.Servers {
				if s.Addr != addrs[i] {
					t.Errorf("server %d = %s, want %s (list order)", i, s.Addr, addrs[i])
				}
				if tc.specs[i].down && (s.State != StateDown || s.Error == "") {
					t.Errorf("server %d: state %q error %q, want down with an error", i, s.State, s.Error)
				}
				if tc.wantMntr != nil && s.Mntr != tc.wantMntr[i] {
					t.Errorf("server %d: mntr = %v, want %v", i, s.Mntr, tc.wantMntr[i])
				}
			}
		})
	}
}

func TestCheckFields(t *testing.T) {
	addrs := start(t, []fakeSpec{
		{srvr: srvrText("leader", "0x100000005", 7), mntr: mntrText("leader", "zk_peer_state\tleading - broadcast", "zk_quorum_size\t3", "zk_synced_followers\t2")},
		{srvr: srvrText("follower", "0x100000004", 7)},
		{srvr: srvrText("follower", "0x100000005", 7)},
	})
	r := Check(context.Background(), addrs, 5*time.Second)
	s := r.Servers[0]
	if s.State != StateUp || s.Mode != "leader" || s.Zxid != "0x100000005" || s.Znodes != 7 ||
		s.LatencyMin != 0 || s.LatencyAvg != 0.2659 || s.LatencyMax != 80 || s.Connections != 3 || s.Outstanding != 0 {
		t.Errorf("leader = %+v", s)
	}
	if !strings.HasPrefix(s.Version, "3.8.0-") {
		t.Errorf("version = %q", s.Version)
	}
	if s.PeerState != "leading - broadcast" || s.QuorumSize != 3 || s.SyncedFollowers == nil || *s.SyncedFollowers != 2 {
		t.Errorf("mntr fields = %q %d %v", s.PeerState, s.QuorumSize, s.SyncedFollowers)
	}
	if r.Servers[1].Zxid != "0x100000004" {
		t.Errorf("follower zxid = %q", r.Servers[1].Zxid)
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"servers", "health", "summary", "leader", "up", "voters"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json has no %q: %s", k, b)
		}
	}
	srv := m["servers"].([]any)[0].(map[string]any)
	for _, k := range []string{"server", "state", "mode", "zxid", "latency_min_ms", "latency_avg_ms", "latency_max_ms", "connections", "outstanding", "znodes", "version"} {
		if _, ok := srv[k]; !ok {
			t.Errorf("json server has no %q: %s", k, b)
		}
	}
}

// A server that accepts but never answers is reported down within the
// timeout, and does not hold up the others.
func TestCheckHangingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	good := start(t, []fakeSpec{{srvr: srvrText("standalone", "0x0", 5)}})
	r := Check(context.Background(), []string{good[0], ln.Addr().String()}, 200*time.Millisecond)
	if r.Servers[0].State != StateUp || r.Servers[1].State != StateDown {
		t.Fatalf("states = %s/%s, want up/down", r.Servers[0].State, r.Servers[1].State)
	}
	if r.ExitCode() != 1 {
		t.Errorf("exit = %d, want 1", r.ExitCode())
	}
}

func TestWriteTableGolden(t *testing.T) {
	addrs := start(t, []fakeSpec{
		{srvr: srvrText("leader", "0x100000005", 7), mntr: mntrText("leader")},
		{srvr: srvrText("follower", "0x100000005", 7)},
		{down: true},
	})
	r := Check(context.Background(), addrs, 5*time.Second)
	// Replace the random ports and the OS's error text with stable names.
	for i := range r.Servers {
		r.Servers[i].Addr = fmt.Sprintf("server%d:2181", i+1)
		if r.Servers[i].Error != "" {
			r.Servers[i].Error = "connection refused"
		}
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	golden := filepath.Join("testdata", "table.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("table differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
