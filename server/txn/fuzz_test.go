package txn

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// fuzzTree is a small tree the fuzzed txns are applied to.
func fuzzTree() *tree.Tree {
	t := tree.New()
	t.Create("/a", []byte("x"), nil, 0, 1, 1, 1)
	t.Create("/a/b", nil, nil, 7, 1, 2, 2)
	t.Create("/c", nil, nil, tree.ContainerOwner, 2, 3, 3)
	return t
}

// FuzzUnmarshalTxn feeds arbitrary bytes as a logged txn (a txn log
// entry, or the body of a PROPOSAL or INFORM from the leader): decoding
// never panics, a txn that decodes re-encodes to one that decodes to the
// same value, and applying it to a tree never panics and leaves a tree
// whose every node is reachable from the root by its own path.
func FuzzUnmarshalTxn(f *testing.F) {
	acl := []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	h := Header{SessionID: 0x100000000000007, Cxid: 3, Zxid: 0x100000005, Time: 1700000000000}
	for _, x := range []Txn{
		{Header: h, Path: "/n", Data: []byte("d"), ACL: acl, EphemeralOwner: 7, ParentCVersion: 2},
		{Header: h, Path: "/c2", ACL: acl, EphemeralOwner: tree.ContainerOwner, ParentCVersion: 2},
		{Header: h, Path: "/a/b"},
		{Header: h, Path: "/a", Data: []byte("y"), Version: 2},
		{Header: h, Path: "/a", ACL: acl, Version: 1},
		{Header: h, Timeout: 30000},
		{Header: h},
		{Header: h, Paths: []string{"/a/b", "/e"}},
		{Header: h, Err: wire.CodeNoNode},
		{Header: h, Data: []byte("server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n")},
		{Header: h, Ops: []Txn{
			{Header: Header{Type: TypeCreate}, Path: "/m", ACL: acl, ParentCVersion: 2},
			{Header: Header{Type: TypeCheck}, Path: "/m", Version: 0},
			{Header: Header{Type: TypeSetData}, Path: "/m", Data: []byte("z"), Version: 1},
			{Header: Header{Type: TypeDelete}, Path: "/m"},
		}},
		{Header: h, Ops: []Txn{{Header: Header{Type: TypeError}, Err: wire.CodeOK}, {Header: Header{Type: TypeError}, Err: wire.CodeNoNode}}},
	} {
		switch {
		case x.Ops != nil:
			x.Type = TypeMulti
		case x.Err != 0:
			x.Type = TypeError
		case x.Timeout != 0:
			x.Type = TypeCreateSession
		case x.Path == "" && x.Data != nil:
			x.Type = TypeReconfig
		case x.Path == "":
			x.Type = TypeCloseSession
		case x.ACL != nil && x.Data == nil && x.EphemeralOwner == 0 && x.ParentCVersion == 0:
			x.Type = TypeSetACL
		case x.ParentCVersion != 0 && x.EphemeralOwner == tree.ContainerOwner:
			x.Type = TypeCreateContainer
		case x.ParentCVersion != 0:
			x.Type = TypeCreate
		case x.Data != nil:
			x.Type = TypeSetData
		default:
			x.Type = TypeDelete
		}
		f.Add(x.Marshal())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Unmarshal(b)
		if err != nil {
			return
		}
		y, err := Unmarshal(x.Marshal())
		if err != nil {
			t.Fatalf("re-encoded txn does not decode: %v", err)
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("round trip changed the txn:\n%#v\n%#v", x, y)
		}
		tr := fuzzTree()
		Apply(tr, x)
		n := 0
		if err := tr.Walk(func(string, *tree.Node) error {
			if n++; n > 100 {
				t.Fatalf("the tree walks more than 100 nodes after applying %#v", x)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n+1 != tr.NodeCount() {
			t.Fatalf("walk reaches %d nodes, the tree holds %d, after applying %#v", n, tr.NodeCount()-1, x)
		}
	})
}

// FuzzReconfigRequest: a reconfig request body decodes without panic and
// round-trips, and computing the next membership from it never panics.
func FuzzReconfigRequest(f *testing.F) {
	s := func(v string) *string { return &v }
	for _, r := range []ReconfigRequest{
		{JoiningServers: s("server.4=127.0.0.1:2891:3891;2184"), CurConfigID: -1},
		{LeavingServers: s("2,3"), CurConfigID: 0x100000000},
		{NewMembers: s("server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889:observer;2182\nversion=100000000"), CurConfigID: -1},
		{JoiningServers: s(""), LeavingServers: s(""), CurConfigID: -1},
	} {
		f.Add(wire.Marshal(&r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ReconfigRequest
		if err := wire.Unmarshal(b, &r); err != nil {
			return
		}
		var r2 ReconfigRequest
		if err := wire.Unmarshal(wire.Marshal(&r), &r2); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %#v -> %#v (%v)", r, r2, err)
		}
		cur, _, err := ParseConfigText([]byte("server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\nversion=1"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = NextMembership(cur, &r)
	})
}

// FuzzParseConfigText: /zookeeper/config text (what a committed reconfig
// txn carries, and a dynamic config file) parses without panic, and what
// parses renders back to text that parses to the same membership.
func FuzzParseConfigText(f *testing.F) {
	f.Add([]byte("server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=127.0.0.1:2889:3889:observer;0.0.0.0:2182\nversion=100000003"))
	f.Add([]byte("server.1=[::1]:2888:3888;[::1]:2181\n"))
	f.Add([]byte("version=zz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		servers, version, err := ParseConfigText(b)
		if err != nil {
			return
		}
		again, v2, err := ParseConfigText(ConfigText(config.ServerLines(servers), version))
		if err != nil {
			t.Fatalf("rendered membership does not parse: %v\n%s", err, config.ServerLines(servers))
		}
		if v2 != version || len(again) != len(servers) {
			t.Fatalf("round trip: %d servers version %x -> %d servers version %x", len(servers), version, len(again), v2)
		}
	})
}

// FuzzApplyPaths applies creates and deletes of paths the fuzzer chooses
// ('|' separates ops, a leading '-' makes a delete) as logged txns: the
// tree stays one tree (its walk ends and reaches every node), whatever
// the paths.
func FuzzApplyPaths(f *testing.F) {
	for _, s := range []string{"/x|/x/y|-/x/y|-/x", "//", "/a/", "/a|/a//b", "-/|/", "/zookeeper/q|-/zookeeper", "/a/./b|/a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tr := fuzzTree()
		for i, op := range strings.Split(spec, "|") {
			x := &Txn{Header: Header{Zxid: int64(10 + i), Type: TypeCreate}, Path: op, ParentCVersion: 1}
			if strings.HasPrefix(op, "-") {
				x.Type, x.Path = TypeDelete, op[1:]
			}
			y, err := Unmarshal(x.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			Apply(tr, y)
		}
		n := 0
		if err := tr.Walk(func(string, *tree.Node) error {
			if n++; n > 1000 {
				t.Fatalf("the tree walks more than 1000 nodes")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n+1 != tr.NodeCount() {
			t.Fatalf("walk reaches %d nodes, the tree holds %d", n, tr.NodeCount()-1)
		}
	})
}
