package shell

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	yaml "go.yaml.in/yaml/v3"

	"github.com/zkgo/zkgo/internal/testwait"
)

type runResult struct {
	out, err string
	runErr   error
}

func run(t *testing.T, addr string, in string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	sh, err := New(Config{Server: addr, Timeout: 10 * time.Second, Out: &out, Err: &errb, In: strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	err = sh.Run(testCtx(t), args)
	return runResult{out.String(), errb.String(), err}
}

func wantStat(t *testing.T, got *StatJSON, st *zk.Stat) {
	t.Helper()
	if !reflect.DeepEqual(got, statJSON(st)) {
		t.Errorf("stat = %+v, want %+v", got, statJSON(st))
	}
}

func TestJSONOutput(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	cleanTree(t, conn, "/j")
	mustCreate(t, conn, "/j", []byte("hello"), 0)
	mustCreate(t, conn, "/j/b", []byte{0xff, 0x00, 0x01}, 0)
	mustCreate(t, conn, "/j/a", nil, 0)
	t.Cleanup(func() { cleanTree(t, conn, "/j") })

	t.Run("get", func(t *testing.T) {
		r := run(t, addr, "", "get", "-s", "/j", "-o", "json")
		if r.runErr != nil {
			t.Fatal(r.runErr)
		}
		var got NodeJSON
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		_, st, err := conn.Get("/j")
		if err != nil {
			t.Fatal(err)
		}
		if got.Path != "/j" || got.Data == nil || *got.Data != "hello" || got.Encoding != "" {
			t.Errorf("got %+v", got)
		}
		wantStat(t, got.Stat, st)
		// The raw object has exactly the jute field names.
		var raw map[string]map[string]any
		_ = json.Unmarshal([]byte(r.out), &raw)
		var keys []string
		for k := range raw["stat"] {
			keys = append(keys, k)
		}
		if len(keys) != 11 {
			t.Errorf("stat keys = %v", keys)
		}
	})
	t.Run("get binary is base64", func(t *testing.T) {
		r := run(t, addr, "", "get", "/j/b", "-o", "json")
		var got NodeJSON
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		if got.Encoding != "base64" || got.Data == nil || *got.Data != base64.StdEncoding.EncodeToString([]byte{0xff, 0, 1}) {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("get no data is null", func(t *testing.T) {
		r := run(t, addr, "", "get", "-o", "json", "/j/a")
		if !strings.Contains(r.out, `"data":null`) {
			t.Errorf("out = %s", r.out)
		}
	})
	t.Run("ls", func(t *testing.T) {
		r := run(t, addr, "", "ls", "/j", "-o", "json")
		var got []string
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		if !reflect.DeepEqual(got, []string{"a", "b"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("ls -s yaml", func(t *testing.T) {
		r := run(t, addr, "", "ls", "-s", "/j", "-o", "yaml")
		var got struct {
			Path     string
			Children []string
			Stat     StatJSON
		}
		if err := yaml.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		_, st, _ := conn.Get("/j")
		if got.Path != "/j" || !reflect.DeepEqual(got.Children, []string{"a", "b"}) {
			t.Errorf("got %+v", got)
		}
		wantStat(t, &got.Stat, st)
	})
	t.Run("stat", func(t *testing.T) {
		r := run(t, addr, "", "stat", "/j/b", "-o", "json")
		var got StatJSON
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		_, st, _ := conn.Exists("/j/b")
		wantStat(t, &got, st)
	})
	t.Run("getAcl", func(t *testing.T) {
		r := run(t, addr, "", "getAcl", "/j", "-o", "json")
		var got []ACLJSON
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		if !reflect.DeepEqual(got, []ACLJSON{{Scheme: "world", ID: "anyone", Perms: "cdrwa"}}) {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("create", func(t *testing.T) {
		r := run(t, addr, "", "create", "-s", "/j/s-", "x", "-o", "json")
		var got struct{ Path string }
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		if ok, _, _ := conn.Exists(got.Path); !ok || !strings.HasPrefix(got.Path, "/j/s-") {
			t.Errorf("created %q", got.Path)
		}
		if r.err != "" {
			t.Errorf("stderr %q", r.err)
		}
	})
	t.Run("whoami", func(t *testing.T) {
		r := run(t, addr, "", "whoami", "-o", "json")
		var got []struct{ Scheme, User string }
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v: %q", err, r.out)
		}
		if len(got) != 1 || got[0].Scheme != "ip" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("error in json mode", func(t *testing.T) {
		r := run(t, addr, "", "get", "/j/nope", "-o", "json")
		if r.runErr == nil || r.runErr.Error() != "Node does not exist: /j/nope" || r.out != "" {
			t.Errorf("err %v out %q", r.runErr, r.out)
		}
	})
	t.Run("set from stdin", func(t *testing.T) {
		r := run(t, addr, "from\nstdin", "set", "/j/a", "-")
		if r.runErr != nil {
			t.Fatal(r.runErr)
		}
		if d, _, _ := conn.Get("/j/a"); string(d) != "from\nstdin" {
			t.Errorf("data %q", d)
		}
	})
	t.Run("getAllChildrenNumber and du", func(t *testing.T) {
		r := run(t, addr, "", "getAllChildrenNumber", "/j", "-o", "json")
		var got struct{ Count int }
		_ = json.Unmarshal([]byte(r.out), &got)
		children, _, _ := conn.Children("/j")
		if got.Count != len(children) {
			t.Errorf("count %d, want %d (%s)", got.Count, len(children), r.out)
		}
	})
}

func TestExportImport(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	cleanTree(t, conn, "/x")
	cleanTree(t, conn, "/y")
	t.Cleanup(func() { cleanTree(t, conn, "/x"); cleanTree(t, conn, "/y") })
	mustCreate(t, conn, "/x", []byte("root"), 0)
	mustCreate(t, conn, "/x/a", []byte{0xfe, 0xff}, 0)
	if _, err := conn.Create("/x/a/b", []byte("b"), 0, []zk.ACL{{Perms: zk.PermRead | zk.PermAdmin, Scheme: "world", ID: "anyone"}}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "x.json")
	if r := run(t, addr, "", "export", "/x", file); r.runErr != nil {
		t.Fatal(r.runErr)
	}
	mustCreate(t, conn, "/y", nil, 0)
	if r := run(t, addr, "", "import", file, "/y/x"); r.runErr != nil {
		t.Fatal(r.runErr)
	}
	for _, p := range []string{"", "/a", "/a/b"} {
		d1, _, err1 := conn.Get("/x" + p)
		d2, _, err2 := conn.Get("/y/x" + p)
		a1, _, _ := conn.GetACL("/x" + p)
		a2, _, _ := conn.GetACL("/y/x" + p)
		if err1 != nil || err2 != nil || !bytes.Equal(d1, d2) || !reflect.DeepEqual(a1, a2) {
			t.Errorf("%s: %q %v vs %q %v (%v %v)", p, d1, a1, d2, a2, err1, err2)
		}
	}
	// All or nothing: importing again fails on the existing root and
	// creates nothing.
	cleanTree(t, conn, "/y/x/a")
	r := run(t, addr, "", "import", file, "/y/x")
	if r.runErr == nil || !strings.Contains(r.runErr.Error(), "Node already exists: /y/x") {
		t.Fatalf("second import: %v", r.runErr)
	}
	if ok, _, _ := conn.Exists("/y/x/a"); ok {
		t.Error("a failed import created /y/x/a")
	}
	if _, err := os.Stat(file); err != nil {
		t.Error(err)
	}
}

func TestTreeFindDuLsLong(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/t")
	mustCreate(t, conn, "/t", []byte("12345"), 0)
	mustCreate(t, conn, "/t/a", []byte("1"), 0)
	mustCreate(t, conn, "/t/a/x", []byte("12"), 0)
	mustCreate(t, conn, "/t/b", nil, zk.FlagEphemeral)

	r := run(t, addr, "", "tree", "/t")
	want := "/t (5 B)\n├── a (1 B)\n│   └── x (2 B)\n└── b (0 B)\n"
	if r.out != want {
		t.Errorf("tree:\n%s\nwant:\n%s", r.out, want)
	}
	r = run(t, addr, "", "tree", "-d", "1", "/t", "-o", "json")
	var tree TreeJSON
	if err := json.Unmarshal([]byte(r.out), &tree); err != nil {
		t.Fatal(err)
	}
	if len(tree.Children) != 2 || tree.Children[0].Children != nil {
		t.Errorf("tree -d 1: %s", r.out)
	}
	r = run(t, addr, "", "find", "/t", "x*")
	if r.out != "/t/a/x\n" {
		t.Errorf("find: %q", r.out)
	}
	r = run(t, addr, "", "du", "/t", "-o", "json")
	var du struct{ Bytes, Znodes int }
	_ = json.Unmarshal([]byte(r.out), &du)
	if du.Bytes != 8 || du.Znodes != 4 {
		t.Errorf("du: %s", r.out)
	}
	r = run(t, addr, "", "ls", "-l", "/t", "-o", "json")
	var long []LongEntryJSON
	if err := json.Unmarshal([]byte(r.out), &long); err != nil {
		t.Fatal(err)
	}
	if len(long) != 2 || long[0].Name != "a" || long[0].Type != "persistent" || long[1].Type != "ephemeral" || long[0].Stat.NumChildren != 1 {
		t.Errorf("ls -l: %s", r.out)
	}
	r = run(t, addr, "", "ls", "-l", "/t")
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "NAME") || !strings.HasPrefix(strings.TrimSpace(lines[1]), "a ") {
		t.Errorf("ls -l text:\n%s", r.out)
	}
}

// A child the client may not read: ls -l names it without a Stat (exists
// is refused since Apache 3.8.4), and stat says what zkCli.sh says.
func TestLsLongUnreadableChild(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	if err := conn.AddAuth("digest", []byte("u:p")); err != nil {
		t.Fatal(err)
	}
	freshTree(t, conn, "/lu")
	for _, n := range []struct {
		path string
		acl  []zk.ACL
	}{
		{"/lu", zk.WorldACL(zk.PermAll)},
		{"/lu/open", zk.WorldACL(zk.PermAll)},
		{"/lu/secret", zk.DigestACL(zk.PermAll, "u", "p")},
	} {
		if _, err := conn.Create(n.path, []byte("x"), 0, n.acl); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, addr, "", "ls", "-l", "/lu", "-o", "json")
	var long []LongEntryJSON
	if err := json.Unmarshal([]byte(r.out), &long); err != nil {
		t.Fatalf("%v: %q %q", err, r.out, r.err)
	}
	if len(long) != 2 || long[0].Name != "open" || long[0].Stat == nil || long[1].Name != "secret" || long[1].Type != "unreadable" || long[1].Stat != nil {
		t.Errorf("ls -l: %s", r.out)
	}
	r = run(t, addr, "", "ls", "-l", "/lu")
	if lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n"); len(lines) != 3 || !strings.HasPrefix(strings.TrimSpace(lines[2]), "secret") {
		t.Errorf("ls -l text:\n%s", r.out)
	}
	r = run(t, addr, "", "stat", "/lu/secret")
	if r.runErr == nil || !strings.Contains(r.err+r.runErr.Error(), "Insufficient permission : /lu/secret") {
		t.Errorf("stat of an unreadable znode: err %v, stderr %q", r.runErr, r.err)
	}
}

func TestChroot(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/chr")
	mustCreate(t, conn, "/chr", nil, 0)
	r := run(t, addr+"/chr", "", "create", "-s", "/n-", "v")
	if r.runErr != nil || r.err != "Created /n-0000000000\n" {
		t.Fatalf("%v %q", r.runErr, r.err)
	}
	if ok, _, _ := conn.Exists("/chr/n-0000000000"); !ok {
		t.Error("not created under the chroot")
	}
	r = run(t, addr+"/chr", "", "ls", "/")
	if r.out != "[n-0000000000]\n" {
		t.Errorf("ls / in chroot: %q", r.out)
	}
}

func TestExtraOps(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/eo")
	mustCreate(t, conn, "/eo", nil, 0)
	c, err := Dial(testCtx(t), ConnectString{Servers: []string{addr}}, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/eo/e1", nil, CreateMode{Ephemeral: true}, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	eph, err := c.GetEphemerals("/eo")
	if err != nil || !reflect.DeepEqual(eph, []string{"/eo/e1"}) {
		t.Errorf("getEphemerals = %q, %v", eph, err)
	}
	n, err := c.GetAllChildrenNumber("/eo")
	if err != nil || n != 1 {
		t.Errorf("getAllChildrenNumber = %d, %v", n, err)
	}
	if err := c.AddAuth("digest", []byte("u:p")); err != nil {
		t.Fatal(err)
	}
	who, err := c.WhoAmI()
	if err != nil || len(who) != 2 {
		t.Errorf("whoami = %+v, %v", who, err)
	}
	if err := c.AddWatch("/eo", AddWatchPersistentRecursive); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, conn, "/eo/x", nil, 0)
	deadline := time.After(10 * time.Second)
	var got []Event
	for len(got) == 0 {
		select {
		case <-c.Notify():
		case <-deadline:
			t.Fatal("no persistent watch event")
		}
		for _, ev := range c.Events() {
			if ev.Type != zk.EventSession {
				got = append(got, ev)
			}
		}
	}
	if got[0].Type != zk.EventNodeCreated || got[0].Path != "/eo/x" {
		t.Errorf("event %+v", got[0])
	}
	if err := c.RemoveWatches("/eo", WatcherAny); err != nil {
		t.Errorf("removeWatches: %v", err)
	}
	if err := c.RemoveWatches("/eo", WatcherAny); err == nil || !strings.Contains(cliError(err, "/eo").Error(), "No such watcher") {
		t.Errorf("second removeWatches: %v", err)
	}
}

func TestWatchCommand(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/w")
	mustCreate(t, conn, "/w", nil, 0)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var out testwait.Buffer
			sh, err := New(Config{Server: addr, Timeout: 10 * time.Second, Out: &out, Err: &out})
			if err != nil {
				t.Fatal(err)
			}
			defer sh.Close()
			// Connect first so the watch is set before we change anything.
			if _, err := sh.Client(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			sh.Connected().Events()
			ctx, cancel := context.WithCancel(testCtx(t))
			done := make(chan error, 1)
			go func() { done <- sh.Run(ctx, []string{"watch", "-R", "/w", "-o", format}) }()
			// The watch is in place once the server counts it; poll by
			// writing until an event shows up.
			child := "/w/" + format
			testwait.For(t, "watch output", func() bool {
				_, _ = conn.Set("/w", []byte("x"), -1)
				return strings.Contains(out.String(), "/w")
			})
			mustCreate(t, conn, child, nil, 0)
			if format == "text" {
				testwait.For(t, "NodeCreated line", func() bool {
					return strings.Contains(out.String(), "WatchedEvent state:SyncConnected type:NodeCreated path:"+child+"\n")
				})
			} else {
				testwait.For(t, "NodeCreated json", func() bool { return strings.Contains(out.String(), `"path":"`+child+`"`) })
				for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
					var ev EventJSON
					if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.State != "SyncConnected" || ev.Type == "" {
						t.Errorf("line %q: %+v %v", line, ev, err)
					}
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("watch returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("watch did not stop on cancel")
			}
		})
	}
}
