package integration

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/apachefile"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/wire"
)

// convertWorkload writes, through Apache, what zkserver convert must carry
// over: sequential, container and TTL znodes, ACLs, deletes, a multi with
// a create2 and a check, a failed multi, a session closed with its
// ephemerals, and one left open holding two (returned, to resume later).
func convertWorkload(t *testing.T, addr string) *rawConn {
	c := rawSession(t, addr)
	c.addAuth("digest", "user1:12345")
	c.create("/app", []byte("x"), wire.ModePersistent)
	for i := 0; i < 40; i++ {
		c.create("/app/n-", []byte(fmt.Sprintf("v%d", i)), wire.ModePersistentSequential)
	}
	c.setData("/app", "y")
	c.delete("/app/n-0000000003")
	c.mustOK("container", c.call(wire.OpCreateContainer, &wire.CreateRequest{Path: "/cont", ACL: openACL, Flags: wire.ModeContainer}, nil))
	c.create("/cont/kid", []byte("k"), wire.ModePersistent)
	c.mustOK("ttl", c.call(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl", Data: []byte("t"), ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 3600000}, nil))
	c.mustOK("private", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/private", Data: []byte("p"), ACL: digestACL(wire.PermAll)}, nil))
	c.mustOK("setACL", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/app", ACL: []wire.ACL{{Perms: wire.PermRead | wire.PermWrite | wire.PermCreate | wire.PermDelete, ID: wire.ID{Scheme: "world", ID: "anyone"}}}, Version: -1}, nil))
	var mr wire.MultiResponse
	c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m1", Data: []byte("1"), ACL: openACL}},
		{Type: wire.OpCreate2, Req: &wire.CreateRequest{Path: "/m2", Data: []byte("2"), ACL: openACL}},
		{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/app", Version: 1}},
		{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/app", Data: []byte("z"), Version: 1}},
		{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/app/n-0000000004", Version: -1}},
	}}, &mr))
	c.mustOK("failed multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m3", ACL: openACL}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m1", ACL: openACL}},
	}}, &mr))
	gone := rawSession(t, addr)
	gone.create("/gone", nil, wire.ModeEphemeral)
	gone.mustOK("close", gone.call(wire.OpCloseSession, nil, nil))
	holder := rawSession(t, addr)
	holder.create("/eph", []byte("e"), wire.ModeEphemeral)
	holder.create("/app/eph-", nil, wire.ModeEphemeralSequential)
	return holder
}

// dumpTree lists every znode as a line: path, data, Stat and ACL, read by
// a client that holds user1's digest.
func dumpTree(t *testing.T, addr string) string {
	c := rawSession(t, addr)
	defer c.close()
	c.addAuth("digest", "user1:12345")
	var lines []string
	var walk func(p string)
	walk = func(p string) {
		data, st := c.getData(p)
		var acl wire.GetACLResponse
		c.mustOK("getACL "+p, c.call(wire.OpGetACL, &wire.PathRequest{Path: p}, &acl))
		lines = append(lines, fmt.Sprintf("%s %q %+v %v", p, data, st, acl.ACL))
		var kids wire.ChildrenResponse
		c.mustOK("getChildren "+p, c.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: p}, &kids))
		for _, k := range kids.Children {
			walk(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	walk("/")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// convertAndServe converts the Apache data in dir and serves it with
// zkgo: the tree reads back as want, and the session held open resumes
// with its ephemerals.
func convertAndServe(t *testing.T, dir, logDir, want string, session int64, passwd []byte) {
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dir, logDir
	rep, err := server.ConvertApache(cfg)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	t.Logf("converted: %+v", rep)
	if entries, _ := os.ReadDir(filepath.Join(dir, "apache-zookeeper-data")); len(entries) == 0 {
		t.Errorf("Apache's files were not kept in %s", filepath.Join(dir, "apache-zookeeper-data"))
	}
	if _, err := server.ConvertApache(cfg); err == nil {
		t.Error("a second convert found Apache data again")
	}
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.DataDir, c.DataLogDir = dir, logDir }))
	// The session first: it expires unless resumed within its timeout.
	c, resp := reattach(t, s.Addr(), session, passwd)
	if resp.TimeOut <= 0 || resp.SessionID != session {
		t.Fatalf("resuming session 0x%x on zkgo: %+v", session, resp)
	}
	if st := c.stat("/eph"); st.EphemeralOwner != session {
		t.Errorf("/eph's owner 0x%x, want the resumed session 0x%x", st.EphemeralOwner, session)
	}
	got := dumpTree(t, s.Addr())
	if got != want {
		t.Errorf("tree after convert differs:\n%s", lineDiff(want, got))
	}
	if mntr, err := servertest.Mntr(s.Addr()); err != nil || mntr["zk_digest_mismatches_count"] != "0" {
		t.Errorf("digest mismatches after convert: %q (%v)", mntr["zk_digest_mismatches_count"], err)
	}
}

// convertCases are Apache's runs whose data zkserver convert takes over:
// snapshots every few txns (most of the state comes from a snapshot), and
// none but the empty one of the first start (all of it from the logs).
var convertCases = []struct {
	name      string
	snapCount int
}{{"snapshots", 16}, {"log", 100000}}

// dataLogDir is a live case of its own: the logs in a dataLogDir apart.
const dataLogDir = "dataLogDir"

// TestConvertApacheData: Apache (ZKGO_IT_APACHE=1) takes a workload, is
// killed (SIGKILL), and zkserver convert takes over its dataDir. With
// ZKGO_SAVE_APACHE_DATA=DIR the Apache files and the expected tree are
// kept under DIR (how testdata/apache-3.8.0 was made).
func TestConvertApacheData(t *testing.T) {
	if !apacheMode() {
		t.Skip("needs Apache ZooKeeper (ZKGO_IT_APACHE=1); TestConvertApacheTestdata reads files it wrote")
	}
	for _, tc := range append(convertCases, struct {
		name      string
		snapCount int
	}{dataLogDir, 16}) {
		t.Run(tc.name, func(t *testing.T) {
			a := startApache(t, servertest.WithConfig(func(c *config.Config) {
				c.SnapCount = tc.snapCount
				if tc.name == dataLogDir {
					c.DataLogDir = "elsewhere" // the harness puts it in its datalog
				}
			}))
			holder := convertWorkload(t, a.Addr())
			want := dumpTree(t, a.Addr())
			a.cmd.Process.Kill()
			<-a.done
			a.cmd = nil
			dir, logDir := filepath.Join(a.dir, "data"), filepath.Join(a.dir, "data")
			if tc.name == dataLogDir {
				logDir = filepath.Join(a.dir, "datalog")
			} else if save := os.Getenv("ZKGO_SAVE_APACHE_DATA"); save != "" {
				saveApacheData(t, dir, filepath.Join(save, tc.name), want, holder)
			}
			convertAndServe(t, dir, logDir, want, holder.SessionID, holder.Passwd)
		})
	}
}

// A newest snapshot that does not check out (a flipped bit, or cut short
// or left empty by Apache killed while writing it) is passed over for the
// one before it, whose txns the logs hold: the tree is the same.
func TestConvertPassesOverCorruptSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"flipped bit", func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }},
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }},
		{"header only", func(b []byte) []byte { return b[:3] }},
		{"empty", func(b []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) { convertDamagedSnapshot(t, tc.damage) })
	}
}

func convertDamagedSnapshot(t *testing.T, damage func([]byte) []byte) {
	dir, v2, want := apacheTestdata(t, "snapshots")
	ents, _ := os.ReadDir(v2)
	newest, newestZxid := "", int64(-1)
	for _, e := range ents {
		if z, err := strconv.ParseInt(strings.TrimPrefix(e.Name(), "snapshot."), 16, 64); err == nil && z > newestZxid {
			newest, newestZxid = e.Name(), z
		}
	}
	b, err := os.ReadFile(filepath.Join(v2, newest))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v2, newest), damage(b), 0o644); err != nil {
		t.Fatal(err)
	}
	starts := apachefile.IsSnapshot(filepath.Join(v2, newest))
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dir, dir
	rep, err := server.ConvertApache(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// One that still starts as a snapshot is reported as skipped; one too
	// short to say is not a snapshot at all, as for Apache's FileSnap.
	skipped := len(rep.Skipped) == 1 && strings.Contains(rep.Skipped[0], newest)
	if rep.SnapshotZxid >= newestZxid || skipped != starts {
		t.Fatalf("convert took snapshot 0x%x, skipped %q; want %s passed over", rep.SnapshotZxid, rep.Skipped, newest)
	}
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.DataDir, c.DataLogDir = dir, dir }))
	got := dumpTree(t, s.Addr())
	// (The open session's ephemerals are there: it has not expired yet.)
	if got != want {
		t.Errorf("tree differs:\n%s", lineDiff(want, got))
	}
}

// A record cut short ends its log, in an earlier log too: Apache began a
// new file after the crash that tore it, and reads on there. (Here the
// txn torn away is simply missing from the history, which a real crash
// would have left unacknowledged and Apache would not have redone.)
func TestConvertTornEarlierLog(t *testing.T) {
	dir, v2, _ := apacheTestdata(t, "snapshots")
	// Only the first start's snapshot: every log is read.
	ents, _ := os.ReadDir(v2)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "snapshot.") && e.Name() != "snapshot.0" {
			if err := os.Remove(filepath.Join(v2, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := filepath.Join(v2, "log.1")
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first, b[:len(b)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dir, dir
	rep, err := server.ConvertApache(cfg)
	if err != nil || !rep.Torn || rep.SnapshotZxid != 0 || len(rep.Logs) < 2 {
		t.Fatalf("convert with a torn first log: %+v, %v", rep, err)
	}
	if rep.LastZxid != 0x3b {
		t.Errorf("the logs after the torn one were not read to their end: last zxid 0x%x", rep.LastZxid)
	}
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.DataDir, c.DataLogDir = dir, dir }))
	if st := rawSession(t, s.Addr()).stat("/m2"); st.Czxid == 0 {
		t.Errorf("/m2 (a txn of a later log) missing: %+v", st)
	}
}

// A directory without Apache's files, or with zkgo's beside them, is
// refused and left as it is.
func TestConvertRefuses(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DataLogDir = cfg.DataDir
	if _, err := server.ConvertApache(cfg); err == nil || !strings.Contains(err.Error(), "no Apache ZooKeeper data files") {
		t.Errorf("empty dataDir: %v", err)
	}
	v2 := filepath.Join(cfg.DataDir, "version-2")
	copyDir(t, filepath.Join("testdata", "apache-3.8.0", "log", "version-2"), v2)
	if err := os.WriteFile(filepath.Join(v2, "log.bolt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ConvertApache(cfg); err == nil || !strings.Contains(err.Error(), "holds zkgo's data beside Apache's") {
		t.Errorf("zkgo's files beside Apache's: %v", err)
	}
	if ents, _ := os.ReadDir(v2); len(ents) != 3 {
		t.Errorf("the refused directory changed: %d files", len(ents))
	}
}

// TestConvertApacheTestdata converts the files Apache 3.8.0 wrote in
// TestConvertApacheData (testdata/apache-3.8.0/<case>: its version-2 with
// the logs' preallocated zeros cut, the tree a client read before the
// kill, and the open session's id and password).
func TestConvertApacheTestdata(t *testing.T) {
	for _, tc := range convertCases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join("testdata", "apache-3.8.0", tc.name)
			want, err := os.ReadFile(filepath.Join(src, "tree.txt"))
			if err != nil {
				t.Fatal(err)
			}
			sess, err := os.ReadFile(filepath.Join(src, "session.txt"))
			if err != nil {
				t.Fatal(err)
			}
			var id int64
			var pw string
			if _, err := fmt.Sscanf(string(sess), "0x%x %s", &id, &pw); err != nil {
				t.Fatalf("session.txt: %v", err)
			}
			passwd, err := hex.DecodeString(pw)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			copyDir(t, filepath.Join(src, "version-2"), filepath.Join(dir, "version-2"))
			convertAndServe(t, dir, dir, string(want), id, passwd)
		})
	}
}

// apacheTestdata copies testdata/apache-3.8.0/<name>'s version-2 into a
// new dataDir and returns it, its version-2 and the tree Apache served.
func apacheTestdata(t *testing.T, name string) (dir, v2, tree string) {
	src := filepath.Join("testdata", "apache-3.8.0", name)
	want, err := os.ReadFile(filepath.Join(src, "tree.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	v2 = filepath.Join(dir, "version-2")
	copyDir(t, filepath.Join(src, "version-2"), v2)
	return dir, v2, string(want)
}

func saveApacheData(t *testing.T, dir, save, tree string, holder *rawConn) {
	v2 := filepath.Join(save, "version-2")
	if err := os.MkdirAll(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(dir, "version-2"), v2)
	ents, _ := os.ReadDir(v2)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") {
			p := filepath.Join(v2, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Records end in 'B': cutting the zeros cuts no record.
			if err := os.WriteFile(p, bytes.TrimRight(b, "\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(save, "tree.txt"), []byte(tree), 0o644); err != nil {
		t.Fatal(err)
	}
	session := fmt.Sprintf("0x%x %s\n", holder.SessionID, hex.EncodeToString(holder.Passwd))
	if err := os.WriteFile(filepath.Join(save, "session.txt"), []byte(session), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// lineDiff shows the lines only one side has.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// An ensemble member's epochs (currentEpoch and acceptedEpoch in
// version-2, where Apache keeps them) become zkgo's, and the files move
// aside with the rest.
func TestConvertKeepsEpochs(t *testing.T) {
	dir := t.TempDir()
	v2 := filepath.Join(dir, "version-2")
	copyDir(t, filepath.Join("testdata", "apache-3.8.0", "log", "version-2"), v2)
	for k, v := range map[string]string{"currentEpoch": "3", "acceptedEpoch": "4"} {
		if err := os.WriteFile(filepath.Join(v2, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dir, dir
	if _, err := server.ConvertApache(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "apache-zookeeper-data", "currentEpoch")); err != nil {
		t.Errorf("currentEpoch not moved aside: %v", err)
	}
	st, err := storage.Open(dir, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for k, want := range map[string]int64{"currentEpoch": 3, "acceptedEpoch": 4} {
		if got, err := st.GetInt(k); err != nil || got != want {
			t.Errorf("%s = %d (%v), want %d", k, got, err, want)
		}
	}
}

// convertToApache stops s and writes its data in dir as Apache's.
func convertToApache(t *testing.T, s *servertest.Server, dir string) *server.ToApacheReport {
	s.Stop()
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dir, dir
	rep, err := server.ConvertToApache(cfg)
	if err != nil {
		t.Fatalf("convert to Apache: %v", err)
	}
	t.Logf("converted to Apache: %+v", rep)
	if _, err := server.ConvertToApache(cfg); err == nil {
		t.Error("a second convert --to-apache found zkgo data again")
	}
	return rep
}

// zkgo → Apache's format → zkgo: the tree, the session and its ephemerals
// come back as they were.
func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.DataDir, c.DataLogDir = dir, dir }))
	holder := convertWorkload(t, s.Addr())
	want := dumpTree(t, s.Addr())
	convertToApache(t, s, dir)
	convertAndServe(t, dir, dir, want, holder.SessionID, holder.Passwd)
}

// TestConvertToApache: zkgo's data, converted, is served by Apache
// (ZKGO_IT_APACHE=1) as zkgo served it, the open session included, and
// Apache finds the tree digest it was given.
func TestConvertToApache(t *testing.T) {
	if !apacheMode() {
		t.Skip("needs Apache ZooKeeper (ZKGO_IT_APACHE=1)")
	}
	dir := t.TempDir()
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.DataDir, c.DataLogDir = dir, dir }))
	holder := convertWorkload(t, s.Addr())
	want := dumpTree(t, s.Addr())
	convertToApache(t, s, dir)

	a := startApache(t)
	a.Stop()
	apacheV2 := filepath.Join(a.dir, "data", "version-2")
	if err := os.RemoveAll(apacheV2); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(dir, "version-2"), apacheV2)
	a.start()
	c, resp := reattach(t, a.Addr(), holder.SessionID, holder.Passwd)
	if resp.TimeOut <= 0 || resp.SessionID != holder.SessionID {
		t.Fatalf("resuming session 0x%x on Apache: %+v", holder.SessionID, resp)
	}
	if st := c.stat("/eph"); st.EphemeralOwner != holder.SessionID {
		t.Errorf("/eph's owner 0x%x, want 0x%x", st.EphemeralOwner, holder.SessionID)
	}
	if got := dumpTree(t, a.Addr()); got != want {
		t.Errorf("Apache's tree differs from zkgo's:\n%s", lineDiff(want, got))
	}
	if mntr, err := servertest.Mntr(a.Addr()); err != nil || mntr["zk_digest_mismatches_count"] != "0" {
		t.Errorf("Apache's digest mismatches: %q (%v)", mntr["zk_digest_mismatches_count"], err)
	}
}
