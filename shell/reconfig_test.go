package shell

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReconfigParse: reconfig's command-line checks and their zkCli.sh 3.8
// messages (ReconfigCommand.parse, seen with zkCli.sh 3.8.0), before any
// request is sent; usage errors here exit 2 where zkCli.sh exits 1.
func TestReconfigParse(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dyn.cfg")
	if err := os.WriteFile(cfg, []byte("# members\nserver.2=b:2888:3888:observer;127.0.0.1:2182\nserver.1=A:2888:3888;2181\nversion=100000000\ntickTime=2000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                      string
		args                      []string
		err                       string // first line of the error, "" for none
		joining, leaving, members string // "<nil>" for a null string
		version                   int64
	}{
		{name: "nothing", args: nil, err: "usage: " + reconfigUsage},
		{name: "only -s", args: []string{"-s"}, err: "usage: " + reconfigUsage},
		{name: "bad version", args: []string{"-v", "zz", "-remove", "3"}, err: "-v must be followed by a long (configuration version)"},
		{name: "mixed", args: []string{"-members", "1=a:1:2;3", "-add", "2=b:1:2;3"}, err: "Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)"},
		{name: "file and members", args: []string{"-file", cfg, "-members", "x"}, err: "Can't use -file and -members together (conflicting non-incremental modes)"},
		{name: "no file", args: []string{"-file", "/nonexistent"}, err: "Error processing /nonexistent/nonexistent (No such file or directory)"},
		{name: "directory", args: []string{"-file", dir}, err: "Error processing " + dir + dir + " (Is a directory)"},
		{name: "remove", args: []string{"-remove", "3,4"}, joining: "<nil>", leaving: "3,4", members: "<nil>", version: -1},
		{name: "add lower-cased, hex version", args: []string{"-add", "server.4=HostA:2888:3888;2181", "-v", "10000000a"}, joining: "server.4=hosta:2888:3888;2181", leaving: "<nil>", members: "<nil>", version: 0x10000000a},
		{name: "add and remove", args: []string{"-remove", "1", "-add", "server.4=h:1:2;3"}, joining: "server.4=h:1:2;3", leaving: "1", members: "<nil>", version: -1},
		{name: "members", args: []string{"-members", "server.1=a:1:2;3"}, joining: "<nil>", leaving: "<nil>", members: "server.1=a:1:2;3", version: -1},
		{name: "file", args: []string{"-file", cfg}, joining: "<nil>", leaving: "<nil>", version: -1,
			members: "server.1=A:2888:3888:participant;0.0.0.0:2181\nserver.2=b:2888:3888:observer;127.0.0.1:2182\nversion=100000000"},
	}
	sh, err := New(Config{Server: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := sh.Lookup("reconfig")
	str := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, pos, err := ParseArgs(append(cmd.Flags, outputFlags...), tc.args)
			if err != nil || len(pos) != 0 {
				t.Fatalf("ParseArgs: %v %v", pos, err)
			}
			j, l, m, v, err := parseReconfig(opts)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tc.err)
				}
				if first, _, _ := strings.Cut(err.Error(), "\n"); first != tc.err {
					t.Errorf("error %q, want %q", first, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if str(j) != tc.joining || str(l) != tc.leaving || str(m) != tc.members || v != tc.version {
				t.Errorf("got joining %q leaving %q members %q version %d", str(j), str(l), str(m), v)
			}
		})
	}
}

func TestNormaliseServer(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "h:1:2", want: "h:1:2:participant"},
		{in: "h:1:2:OBSERVER;3", want: "h:1:2:observer;0.0.0.0:3"},
		{in: "h:1:2;[::1]:3", want: "h:1:2:participant;[::1]:3"},
		{in: "[::1]:1:2:observer", want: "[::1]:1:2:observer"},
		{in: "[::1]", err: "[::1] does not have the form host:port:port or host:port:port:type"},
		{in: "h:1", err: "h:1 does not have the form host:port:port or host:port:port:type"},
		{in: "h:1:x", err: "x is not a valid port"},
		{in: "h:1:2:leader", err: "unrecognised peertype: leader"},
		{in: "h:1:2;0", err: "0 is not a valid client port"},
	}
	for _, tc := range tests {
		got, err := normaliseServer(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("normaliseServer(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("normaliseServer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

var versionLine = regexp.MustCompile(`(?m)^version=[0-9a-f]+$`)

// TestReconfigMatchesZkCli runs reconfig through zkCli.sh 3.8 and through
// our shell against an Apache ensemble started with reconfigEnabled=true
// and -Dzookeeper.skipACL=yes (ZK_RECONFIG_SERVER=host:port of a member,
// ZKCLI=path of zkCli.sh), and compares what they print. The server side
// of reconfig is not in zkgo yet, so only Apache can answer these.
func TestReconfigMatchesZkCli(t *testing.T) {
	addr, zkcli := os.Getenv("ZK_RECONFIG_SERVER"), os.Getenv("ZKCLI")
	if addr == "" || zkcli == "" {
		t.Skip("needs ZK_RECONFIG_SERVER (Apache 3.8 with reconfigEnabled=true, skipACL) and ZKCLI")
	}
	conn := oracle(t, addr)
	cfg, _, err := conn.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, l := range strings.Split(string(cfg), "\n") {
		if strings.HasPrefix(l, "server.") {
			members = append(members, l)
		}
	}
	same := strings.Join(members, ",")
	// The same membership as a dynamic config file, written the short way
	// (no ":participant", client address as in zoo.cfg): both sides must
	// normalise it alike.
	file := filepath.Join(t.TempDir(), "dyn.cfg")
	short := strings.ReplaceAll(same, ":participant", "")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(short, ",", "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{
		"reconfig -v 5 -remove 99",
		"reconfig -s -members " + same,
		"reconfig -remove 99",
		"reconfig -file " + file,
	} {
		t.Run(cmd, func(t *testing.T) {
			want := runZkCli(t, zkcli, addr, cmd)
			got := runOurs(t, addr, cmd)
			norm := func(s string) string { return versionLine.ReplaceAllString(normalise(t, s), "version=<V>") }
			if got.exit != want.exit || norm(got.stdout) != norm(want.stdout) || got.stderr != want.stderr {
				t.Errorf("ours: exit %d\n%s%s\nzkCli.sh: exit %d\n%s%s", got.exit, got.stdout, got.stderr, want.exit, want.stdout, want.stderr)
			}
		})
	}
}
