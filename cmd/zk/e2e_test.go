package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/server/servertest"
)

var (
	buildOnce sync.Once
	zkBinary  string
	buildErr  error
)

// zkBin builds the zk binary once per test run (tests and benchmarks).
func zkBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(buildZk)
	if buildErr != nil {
		t.Fatalf("build zk: %v", buildErr)
	}
	return zkBinary
}

func buildZk() {
	dir, err := os.MkdirTemp("", "zk-e2e")
	if err != nil {
		buildErr = err
		return
	}
	zkBinary = filepath.Join(dir, "zk")
	out, err := exec.Command("go", "build", "-o", zkBinary, ".").CombinedOutput()
	if err != nil {
		buildErr = errors.New(string(out))
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if zkBinary != "" {
		os.RemoveAll(filepath.Dir(zkBinary))
	}
	os.Exit(code)
}

// testServer returns the address of a ZooKeeper server for a test: an
// in-process zkgo server (servertest), or the server at $ZK_TEST_SERVER
// when set (e.g. Apache ZooKeeper 3.8 for compatibility runs).
func testServer(t testing.TB) string {
	t.Helper()
	if a := os.Getenv("ZK_TEST_SERVER"); a != "" {
		return a
	}
	return servertest.Start(t).Addr()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func oracle(t testing.TB, addr string) *zk.Conn {
	t.Helper()
	conn, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatal("no session")
		}
	}
	t.Cleanup(conn.Close)
	return conn
}

func deleteTree(t testing.TB, conn *zk.Conn, p string) {
	children, _, err := conn.Children(p)
	if err == zk.ErrNoNode {
		return
	}
	for _, c := range children {
		deleteTree(t, conn, p+"/"+c)
	}
	if err := conn.Delete(p, -1); err != nil && err != zk.ErrNoNode {
		t.Fatalf("delete %s: %v", p, err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func runZk(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(zkBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestOneShot(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	deleteTree(t, conn, "/e2e")
	t.Cleanup(func() { deleteTree(t, conn, "/e2e") })
	if _, err := conn.Create("/e2e", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	srv := []string{"-server", addr}
	tests := []struct {
		name   string
		env    []string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string // exact, or prefix when it ends with "…"
	}{
		{name: "get", args: append(srv, "get", "/e2e"), stdout: "v1\n"},
		{name: "env server", env: []string{"ZK_SERVER=" + addr}, args: []string{"get", "/e2e"}, stdout: "v1\n"},
		{name: "server after args", args: []string{"get", "/e2e", "-server", addr}, stdout: "v1\n"},
		{name: "ls", args: append(srv, "ls", "/e2e"), stdout: "[]\n"},
		{name: "create", args: append(srv, "create", "/e2e/a", "x"), stderr: "Created /e2e/a\n"},
		{name: "create exists", args: append(srv, "create", "/e2e", "x"), code: 1, stderr: "zk: Node already exists: /e2e\n"},
		{name: "get nonode", args: append(srv, "get", "/e2e/nope"), code: 1, stderr: "zk: Node does not exist: /e2e/nope\n"},
		{name: "get nonode json", args: append(srv, "get", "/e2e/nope", "-o", "json"), code: 1, stderr: "zk: Node does not exist: /e2e/nope\n"},
		{name: "unknown command", args: append(srv, "frobnicate"), code: 2, stderr: "zk: Command not found: frobnicate\n"},
		{name: "unknown option", args: append(srv, "get", "-z", "/e2e"), code: 2, stderr: "zk: unknown option: -z\nusage: get [-s] [-w] [-b] [-x] path\n"},
		{name: "missing arg", args: append(srv, "get"), code: 2, stderr: "zk: usage: get [-s] [-w] [-b] [-x] path\n"},
		{name: "bad format", args: append(srv, "get", "/e2e", "-o", "xml"), code: 2, stderr: "zk: unknown output format xml…"},
		{name: "bad global flag", args: []string{"-bogus", "get", "/e2e"}, code: 2, stderr: "zk: flag provided but not defined: -bogus\n"},
		{name: "no server", args: []string{"-server", "127.0.0.1:1", "-timeout", "1500", "get", "/"}, code: 1, stderr: "zk: cannot connect to 127.0.0.1:1: connection refused\n"},
		// The server refuses reconfig unless reconfigEnabled=true (zkCli.sh
		// 3.8 prints the same sentence).
		{name: "reconfig disabled", args: append(srv, "reconfig", "-remove", "3"), code: 1, stderr: "zk: KeeperErrorCode = Reconfig is disabled\n"},
		{name: "reconfig disabled json", args: append(srv, "reconfig", "-s", "-add", "server.4=127.0.0.1:2888:3888;2181", "-o", "json"), code: 1, stderr: "zk: KeeperErrorCode = Reconfig is disabled\n"},
		{name: "reconfig usage", args: append(srv, "reconfig"), code: 2, stderr: "zk: usage: reconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]\n"},
		{name: "reconfig mixed", args: []string{"-server", "127.0.0.1:1", "reconfig", "-members", "1=a:1:2;3", "-remove", "2"}, code: 2, stderr: "zk: Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)\nusage: reconfig…"},
		{name: "negative timeout", args: []string{"-timeout", "-5", "-server", addr, "get", "/e2e"}, code: 2, stderr: "zk: -timeout: not a positive number of ms: -5\n"},
		{name: "timeout beyond int32 ms", args: append(srv, "get", "/e2e", "-timeout", "99999999999999"), code: 2, stderr: "zk: -timeout: not a positive number of ms: 99999999999999\n"},
		{name: "bad server address", args: []string{"-server", ":::", "get", "/e2e"}, code: 2, stderr: "zk: -server: bad server address \":::\": too many colons in address\n"},
		{name: "bad port", args: []string{"get", "/e2e", "-server", "h:99999"}, code: 2, stderr: "zk: -server: bad server address \"h:99999\": port \"99999\" is not a number from 1 to 65535\n"},
		{name: "help of a command", args: []string{"get", "--help", "-o", "xml"}, stdout: "usage: get [-s] [-w] [-b] [-x] path\n…"},
		{name: "help COMMAND", args: []string{"help", "reconfig"}, stdout: "usage: reconfig [-s] [-v version]…"},
		{name: "help unknown", args: []string{"help", "frobnicate"}, code: 2, stderr: "zk: Command not found: frobnicate\n"},
		{name: "set from stdin", args: append(srv, "set", "/e2e", "-"), stdin: "v2"},
		{name: "get after set", args: append(srv, "get", "/e2e"), stdout: "v2\n"},
		{name: "delete", args: append(srv, "delete", "/e2e/a")},
		{name: "completion", args: []string{"completion", "bash"}, stdout: "…"},
		{name: "completion bad shell", args: []string{"completion", "tcsh"}, code: 2, stderr: "zk: unknown shell \"tcsh\" (want bash, zsh or fish)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runZk(t, tc.env, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			check := func(what, got, want string) {
				if p, ok := strings.CutSuffix(want, "…"); ok {
					if !strings.HasPrefix(got, p) {
						t.Errorf("%s = %q, want prefix %q", what, got, p)
					}
					return
				}
				if got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("stdout", r.stdout, tc.stdout)
			check("stderr", r.stderr, tc.stderr)
			if strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("stack trace on stderr: %s", r.stderr)
			}
		})
	}
}

func TestOneShotJSON(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	deleteTree(t, conn, "/e2ej")
	t.Cleanup(func() { deleteTree(t, conn, "/e2ej") })
	if _, err := conn.Create("/e2ej", []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Options in every position: before the command, after the path.
	for _, args := range [][]string{
		{"-server", addr, "-o", "json", "get", "-s", "/e2ej"},
		{"-server", addr, "get", "/e2ej", "-s", "-o", "json"},
		{"get", "-o", "json", "/e2ej", "-server", addr},
	} {
		r := runZk(t, nil, "", args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d: %s", args, r.code, r.stderr)
		}
		var got struct {
			Path string
			Data string
			Stat map[string]int64
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%q: %v: %q", args, err, r.stdout)
		}
		_, st, err := conn.Get("/e2ej")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"czxid": st.Czxid, "mzxid": st.Mzxid, "ctime": st.Ctime, "mtime": st.Mtime,
			"version": int64(st.Version), "cversion": int64(st.Cversion), "aversion": int64(st.Aversion),
			"ephemeralOwner": st.EphemeralOwner, "dataLength": int64(st.DataLength), "numChildren": int64(st.NumChildren), "pzxid": st.Pzxid}
		if got.Path != "/e2ej" || got.Data != "data" || !reflect.DeepEqual(got.Stat, want) {
			t.Errorf("%q: got %+v, want stat %v", args, got, want)
		}
	}
	r := runZk(t, nil, "", "-server", addr, "ls", "/", "-o", "json")
	var names []string
	if err := json.Unmarshal([]byte(r.stdout), &names); err != nil || !contains(names, "e2ej") {
		t.Errorf("ls -o json: %q %v", r.stdout, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPipedShell(t *testing.T) {
	addr := testServer(t)
	r := runZk(t, nil, "create /e2ep x\nget /e2ep\nget /nope\ndelete /e2ep\nquit\nls /\n", "-server", addr)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "\nx\n") || strings.Contains(r.stdout, "[") {
		t.Errorf("stdout %q (ls after quit must not run)", r.stdout)
	}
	if !strings.Contains(r.stderr, "Created /e2ep\n") || !strings.Contains(r.stderr, "Node does not exist: /nope\n") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	addr := testServer(t)
	env := []string{"ZK_SERVER=" + addr}
	r := runZk(t, env, "", "__complete", "get", "/zoo")
	if r.code != 0 || r.stdout != "/zookeeper\n" {
		t.Errorf("__complete get /zoo: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runZk(t, env, "", "__complete", "getA")
	if r.stdout != "getAcl\ngetAllChildrenNumber\n" {
		t.Errorf("__complete getA: %q", r.stdout)
	}
	r = runZk(t, env, "", "__complete", "ls", "-")
	if !strings.Contains(r.stdout, "-R\n") || !strings.Contains(r.stdout, "-o\n") {
		t.Errorf("__complete ls -: %q", r.stdout)
	}
	// Without a server, commands and flags still complete, quickly.
	r = runZk(t, []string{"ZK_SERVER=127.0.0.1:1"}, "", "__complete", "get", "/zoo")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("__complete without server: %d %q", r.code, r.stdout)
	}

	// The bash script, driven as bash's completion would.
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := runZk(t, nil, "", "completion", "bash").stdout
	file := filepath.Join(t.TempDir(), "zk.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", `source "$1"; COMP_WORDS=(zk get /zookeeper/); COMP_CWORD=2; _zk_complete; printf '%s\n' "${COMPREPLY[@]}"`, "bash", file)
	cmd.Env = append(os.Environ(), "ZK_SERVER="+addr, "PATH="+filepath.Dir(zkBin(t))+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil || string(out) != "/zookeeper/config\n/zookeeper/quota\n" {
		t.Errorf("bash completion: %q %v", out, err)
	}
}
