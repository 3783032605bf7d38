package txn

import (
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

type fakeQuorum struct {
	servers []config.Server
	version int64
	pending bool
	synced  map[int64]bool
}

func (f *fakeQuorum) Membership() ([]config.Server, int64, bool) {
	return f.servers, f.version, f.pending
}

func (f *fakeQuorum) QuorumSynced(ss []config.Server) bool {
	voters, n := 0, 0
	for _, s := range ss {
		if s.Observer {
			continue
		}
		voters++
		if f.synced[s.ID] {
			n++
		}
	}
	return n > voters/2
}

func three() []config.Server {
	var ss []config.Server
	for i := int64(1); i <= 3; i++ {
		s, err := config.ParseServer(i, "127.0.0.1:"+string(rune('0'+i))+"001:"+string(rune('0'+i))+"002;127.0.0.1:"+string(rune('0'+i))+"181", false)
		if err != nil {
			panic(err)
		}
		ss = append(ss, s)
	}
	return ss
}

func ptr(s string) *string { return &s }

func TestNextMembership(t *testing.T) {
	cur := three()
	tests := []struct {
		name string
		req  ReconfigRequest
		want string // ServerLines of the result, or "error"
	}{
		{"remove", ReconfigRequest{LeavingServers: ptr("3")},
			"server.1=127.0.0.1:1001:1002:participant;127.0.0.1:1181\nserver.2=127.0.0.1:2001:2002:participant;127.0.0.1:2181\n"},
		{"add", ReconfigRequest{JoiningServers: ptr("server.4=127.0.0.1:4001:4002:observer;4181"), LeavingServers: ptr("1,2")},
			"server.3=127.0.0.1:3001:3002:participant;127.0.0.1:3181\nserver.4=127.0.0.1:4001:4002:observer;0.0.0.0:4181\n"},
		{"replace a member's ports", ReconfigRequest{JoiningServers: ptr("server.3=127.0.0.1:3003:3004;3181"), LeavingServers: ptr("1,2")},
			"server.3=127.0.0.1:3003:3004:participant;0.0.0.0:3181\n"},
		{"new members, commas and a version", ReconfigRequest{NewMembers: ptr("server.5=h:1:2;3,version=100000000\nserver.6=h:4:5;6"), JoiningServers: ptr("ignored")},
			"server.5=h:1:2:participant;0.0.0.0:3\nserver.6=h:4:5:participant;0.0.0.0:6\n"},
		{"empty strings are incremental", ReconfigRequest{JoiningServers: ptr(""), LeavingServers: ptr("")},
			config.ServerLines(three())},
		{"joiner without client port", ReconfigRequest{JoiningServers: ptr("server.4=h:1:2")}, "error"},
		{"joiner without =", ReconfigRequest{JoiningServers: ptr("server.4")}, "error"},
		{"bad leaving id", ReconfigRequest{LeavingServers: ptr("two")}, "error"},
		{"duplicate address", ReconfigRequest{JoiningServers: ptr("server.4=127.0.0.1:1001:4002;4181")}, "error"},
		{"bad new member", ReconfigRequest{NewMembers: ptr("server.x=h:1:2;3")}, "error"},
		{"new member twice", ReconfigRequest{NewMembers: ptr("server.1=h:1:2;3\nserver.1=h:4:5;6")}, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, err := NextMembership(cur, &tc.req)
			if tc.want == "error" {
				if err == nil || wire.CodeOf(err) != wire.CodeBadArguments {
					t.Fatalf("got %v, %v; want BADARGUMENTS", next, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := config.ServerLines(next); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestConfigTextRoundTrip(t *testing.T) {
	text := ConfigText(config.ServerLines(three()), 0x100000003)
	if !strings.HasSuffix(string(text), "\nversion=100000003") {
		t.Fatalf("config text %q", text)
	}
	ss, v, err := ParseConfigText(text)
	if err != nil || v != 0x100000003 || config.ServerLines(ss) != config.ServerLines(three()) {
		t.Fatalf("parsed %v %x %v", ss, v, err)
	}
}

// TestPrepReconfigOrder: the checks come in Apache's order and each gives
// its code; a good request becomes a reconfig txn on /zookeeper/config.
func TestPrepReconfigOrder(t *testing.T) {
	q := &fakeQuorum{servers: three(), version: 0x100000000, synced: map[int64]bool{1: true, 2: true, 3: true}}
	remove3 := &ReconfigRequest{LeavingServers: ptr("3"), CurConfigID: -1}
	super := []wire.ID{{Scheme: "super", ID: "admin"}}
	tests := []struct {
		name    string
		setup   func(o *Options, q *fakeQuorum)
		body    wire.Record
		auth    []wire.ID
		want    wire.Code
		members string
	}{
		{name: "disabled", setup: func(o *Options, q *fakeQuorum) { o.ReconfigEnabled = false }, body: remove3, auth: super, want: wire.CodeReconfigDisabled},
		{name: "standalone", setup: func(o *Options, q *fakeQuorum) { o.Quorum = nil }, body: remove3, auth: super, want: wire.CodeUnimplemented},
		{name: "in progress before version", setup: func(o *Options, q *fakeQuorum) { q.pending = true },
			body: &ReconfigRequest{LeavingServers: ptr("3"), CurConfigID: 7}, auth: super, want: wire.CodeReconfigInProgress},
		{name: "bad version before syntax", body: &ReconfigRequest{LeavingServers: ptr("x"), CurConfigID: 7}, auth: super, want: wire.CodeBadVersion},
		{name: "syntax before quorum", body: &ReconfigRequest{JoiningServers: ptr("server.4=h"), CurConfigID: -1}, auth: super, want: wire.CodeBadArguments},
		{name: "one voter left", body: &ReconfigRequest{LeavingServers: ptr("2,3"), CurConfigID: -1}, auth: super, want: wire.CodeBadArguments},
		{name: "one voter allowed without standalone", setup: func(o *Options, q *fakeQuorum) { o.StandaloneEnabled = false },
			body: &ReconfigRequest{LeavingServers: ptr("2,3"), CurConfigID: -1}, auth: super,
			members: "server.1=127.0.0.1:1001:1002:participant;127.0.0.1:1181\n"},
		{name: "no synced quorum before ACL", setup: func(o *Options, q *fakeQuorum) { q.synced = map[int64]bool{1: true} },
			body: &ReconfigRequest{NewMembers: ptr("server.1=127.0.0.1:1001:1002;1181\nserver.4=h:1:2;3\nserver.5=h:4:5;6"), CurConfigID: -1},
			want: wire.CodeNewConfigNoQuorum},
		{name: "no WRITE on /zookeeper/config", body: remove3, want: wire.CodeNoAuth},
		{name: "matching version", body: &ReconfigRequest{LeavingServers: ptr("3"), CurConfigID: 0x100000000}, auth: super,
			members: "server.1=127.0.0.1:1001:1002:participant;127.0.0.1:1181\nserver.2=127.0.0.1:2001:2002:participant;127.0.0.1:2181\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qq := *q
			o := Options{ReconfigEnabled: true, StandaloneEnabled: true, Quorum: &qq}
			if tc.setup != nil {
				tc.setup(&o, &qq)
			}
			p := NewPrep(tree.New(), o)
			x, _ := p.Prep(&Request{SessionID: 1, Cxid: 1, Type: wire.OpReconfig, Body: tc.body, Auth: tc.auth}, 0)
			if tc.members == "" {
				if x.Type != TypeError || x.Err != tc.want {
					t.Fatalf("txn type %d err %d, want error %d", x.Type, x.Err, tc.want)
				}
				return
			}
			if x.Type != TypeReconfig || string(x.Data) != tc.members {
				t.Fatalf("txn type %d (err %d) data %q, want reconfig %q", x.Type, x.Err, x.Data, tc.members)
			}
			// The txn survives the log and applies as /zookeeper/config.
			x.Zxid = 0x100000005
			y, err := Unmarshal(x.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			y.Zxid = x.Zxid
			tr := tree.New()
			res, ev := Apply(tr, y)
			want := tc.members + "version=100000005"
			if res.Err != 0 || string(res.Data) != want || res.Stat.Version != -1 || res.Stat.Mzxid != y.Zxid {
				t.Fatalf("apply: %+v", res)
			}
			if n := tr.Get(ConfigNode); string(n.Data) != want {
				t.Fatalf("/zookeeper/config holds %q", n.Data)
			}
			if len(ev) != 1 || ev[0].Type != wire.EventNodeDataChanged || ev[0].Path != ConfigNode {
				t.Fatalf("events %v", ev)
			}
		})
	}
}
