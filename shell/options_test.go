package shell

import (
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/wire"
)

func TestParseArgs(t *testing.T) {
	flags := []Flag{{Name: "s"}, {Name: "w"}, {Name: "v", Arg: "version"}, {Name: "o", Arg: "format"}, {Name: "base64", Long: true}}
	tests := []struct {
		name    string
		args    []string
		opts    Options
		pos     []string
		wantErr bool
	}{
		{name: "before", args: []string{"-s", "/p"}, opts: Options{"s": ""}, pos: []string{"/p"}},
		{name: "after", args: []string{"/p", "-s"}, opts: Options{"s": ""}, pos: []string{"/p"}},
		{name: "between", args: []string{"/p", "-v", "3", "data"}, opts: Options{"v": "3"}, pos: []string{"/p", "data"}},
		{name: "grouped", args: []string{"-sw", "/p"}, opts: Options{"s": "", "w": ""}, pos: []string{"/p"}},
		{name: "equals", args: []string{"/p", "-o=json"}, opts: Options{"o": "json"}, pos: []string{"/p"}},
		{name: "long", args: []string{"--base64", "/p"}, opts: Options{"base64": ""}, pos: []string{"/p"}},
		{name: "dashdash", args: []string{"/p", "--", "-s"}, opts: Options{}, pos: []string{"/p", "-s"}},
		{name: "stdin dash", args: []string{"/p", "-"}, opts: Options{}, pos: []string{"/p", "-"}},
		{name: "negative version", args: []string{"-v", "-1", "/p"}, opts: Options{"v": "-1"}, pos: []string{"/p"}},
		{name: "unknown", args: []string{"-z", "/p"}, wantErr: true},
		{name: "missing value", args: []string{"/p", "-v"}, wantErr: true},
		{name: "value on boolean", args: []string{"-s=1", "/p"}, wantErr: true},
		{name: "grouped with valued", args: []string{"-sv", "/p"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, pos, err := ParseArgs(flags, tc.args)
			if tc.wantErr {
				if err == nil || !IsUsage(err) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(opts, tc.opts) {
				t.Errorf("opts = %v, want %v", opts, tc.opts)
			}
			if !reflect.DeepEqual(pos, tc.pos) {
				t.Errorf("pos = %q, want %q", pos, tc.pos)
			}
		})
	}
}

func TestSplitLine(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"ls /", []string{"ls", "/"}},
		{"  set  /a   b ", []string{"set", "/a", "b"}},
		{`set /a "hello world"`, []string{"set", "/a", "hello world"}},
		{`set /a 'it"s'`, []string{"set", "/a", `it"s`}},
		{`set /a ""`, []string{"set", "/a", ""}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := SplitLine(tc.line); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitLine(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestParseConnectString(t *testing.T) {
	tests := []struct {
		in      string
		servers []string
		chroot  string
		wantErr bool
	}{
		{in: "127.0.0.1:2181", servers: []string{"127.0.0.1:2181"}},
		{in: "a:1,b:2/app/x", servers: []string{"a:1", "b:2"}, chroot: "/app/x"},
		{in: "a,b:2/", servers: []string{"a:2181", "b:2"}},
		{in: "a:1/app/", servers: []string{"a:1"}, chroot: "/app"},
		{in: "/app", wantErr: true},
		{in: "a:1/app//x", wantErr: true},
		{in: "[::1]:2182,[::1]", servers: []string{"[::1]:2182", "[::1]:2181"}},
		{in: ":::", wantErr: true},
		{in: "a:b:c", wantErr: true},
		{in: "[::1", wantErr: true},
		{in: "a:x", wantErr: true},
		{in: "a:0", wantErr: true},
		{in: "a:65536", wantErr: true},
		{in: ":2181", wantErr: true},
	}
	for _, tc := range tests {
		cs, err := ParseConnectString(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(cs.Servers, tc.servers) || cs.Chroot != tc.chroot {
			t.Errorf("%q = %v %q, want %v %q", tc.in, cs.Servers, cs.Chroot, tc.servers, tc.chroot)
		}
	}
}

// The Stat block zkCli.sh 3.8 printed for `get -s /a` on Apache 3.8.0, and
// the Stat go-zookeeper read for the same node at the same moment
// (TZ=UTC).
func TestStatTextMatchesZkCli(t *testing.T) {
	st := &zk.Stat{Czxid: 3, Mzxid: 0x11, Ctime: 1795698115281, Mtime: 1795698120328, Version: 1, Cversion: 3, Aversion: 0, EphemeralOwner: 0, DataLength: 7, NumChildren: 1, Pzxid: 0x30}
	want := `cZxid = 0x3
ctime = Thu Nov 26 13:01:55 UTC 2026
mZxid = 0x11
mtime = Thu Nov 26 13:02:00 UTC 2026
pZxid = 0x30
cversion = 3
dataVersion = 1
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 7
numChildren = 1
`
	var b bytesBuffer
	writeStatTextIn(&b, st, time.UTC)
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPermString(t *testing.T) {
	tests := map[int32]string{zk.PermAll: "cdrwa", zk.PermRead | zk.PermAdmin: "ra", 0: "", zk.PermWrite | zk.PermCreate: "cw"}
	for p, want := range tests {
		if got := wire.PermString(p); got != want {
			t.Errorf("PermString(%d) = %q, want %q", p, got, want)
		}
	}
}

func TestParseACL(t *testing.T) {
	var errs bytesBuffer
	acl, err := parseACL(&errs, "world:anyone:r,digest:u:hash=:cdrwa,ip:10.0.0.1:rw")
	if err != nil {
		t.Fatal(err)
	}
	want := []zk.ACL{{Scheme: "world", ID: "anyone", Perms: zk.PermRead}, {Scheme: "digest", ID: "u:hash=", Perms: zk.PermAll}, {Scheme: "ip", ID: "10.0.0.1", Perms: zk.PermRead | zk.PermWrite}}
	if !reflect.DeepEqual(acl, want) {
		t.Errorf("acl = %v, want %v", acl, want)
	}
	if _, err := parseACL(&errs, "bad:acl"); err == nil || err.Error() != "Acl is not valid : null" {
		t.Errorf("err = %v", err)
	}
	if errs.String() != "bad:acl does not have the form scheme:id:perm\n" {
		t.Errorf("stderr = %q", errs.String())
	}
}

func TestWatchedEventString(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Type: zk.EventNodeChildrenChanged, State: zk.StateHasSession, Path: "/namespace"}, "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/namespace"},
		{Event{Type: zk.EventSession, State: zk.StateHasSession}, "WatchedEvent state:SyncConnected type:None path:null"},
		{Event{Type: zk.EventSession, State: zk.StateDisconnected}, "WatchedEvent state:Disconnected type:None path:null"},
		{Event{Type: zk.EventNodeDeleted, Path: "/a"}, "WatchedEvent state:SyncConnected type:NodeDeleted path:/a"},
	}
	for _, tc := range tests {
		if got := WatchedEventString(tc.ev); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestCompleteOffline(t *testing.T) {
	sh, err := New(Config{Server: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	texts := func(s []Suggestion) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.Text)
		}
		return out
	}
	if got := texts(sh.Complete("getA")); !reflect.DeepEqual(got, []string{"getAcl", "getAllChildrenNumber"}) {
		t.Errorf("commands: %q", got)
	}
	if got := texts(sh.Complete("get -")); !reflect.DeepEqual(got, []string{"-s", "-w", "--base64", "-b", "-x", "-o", "--output"}) {
		t.Errorf("flags: %q", got)
	}
	if got := texts(sh.Complete("get /a -o j")); !reflect.DeepEqual(got, []string{"json"}) {
		t.Errorf("flag values: %q", got)
	}
	// Not connected: no path candidates, no connection attempt.
	if got := sh.Complete("get /a"); got != nil {
		t.Errorf("paths without session: %v", got)
	}
}

func TestSplitKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ls /a", []string{"ls /a"}},
		{"ls /a\n", []string{"ls /a", "\n"}},
		{"ls /a\rget /b\r", []string{"ls /a", "\r", "get /b", "\r"}},
		{"\t", []string{"\t"}},
		{"\x1b[A", []string{"\x1b[A"}},
		{"ab\x1b[A", []string{"ab", "\x1b[A"}},
		{"x\x7f", []string{"x", "\x7f"}},
	}
	for _, tc := range tests {
		var got []string
		for _, k := range splitKeys([]byte(tc.in)) {
			got = append(got, string(k))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitKeys(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClientConfigString(t *testing.T) {
	cfg := "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=10.0.0.2:2888:3888:participant;10.0.0.2:2182\nserver.3=10.0.0.3:2888:3888:observer;2183\nserver.4=10.0.0.4:2888:3888\nversion=100000000"
	want := "100000000 0.0.0.0:2181,10.0.0.2:2182,0.0.0.0:2183"
	if got := clientConfigString(cfg); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
