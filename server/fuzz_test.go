package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/wire"
)

// snapNode is what a snapshot keeps of a node, for comparisons.
type snapNode struct {
	Path string
	Node tree.Node
	ACL  []wire.ACL
}

func snapState(t *testing.T, s *Server) ([]SessionInfo, []snapNode) {
	t.Helper()
	var nodes []snapNode
	err := s.tree.Walk(func(p string, n *tree.Node) error {
		if len(nodes) > 100000 {
			return errors.New("walk does not end")
		}
		nodes = append(nodes, snapNode{p, tree.Node{Data: n.Data, Czxid: n.Czxid, Mzxid: n.Mzxid,
			Pzxid: n.Pzxid, Ctime: n.Ctime, Mtime: n.Mtime, Version: n.Version, Cversion: n.Cversion,
			Aversion: n.Aversion, Owner: n.Owner}, s.tree.ACL(n)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Path < nodes[j].Path })
	sess := s.sessions.list()
	for i := range sess {
		sess[i].ExpireAt = time.Time{}
	}
	return sess, nodes
}

func snapServer() *Server {
	return &Server{sessions: newSessionTable(time.Second, 0), tree: tree.New(), log: slog.New(slog.DiscardHandler)}
}

// FuzzDecodeSnapshot feeds arbitrary bytes as a snapshot body (what a
// follower gets from the leader in SNAP chunks, or a file whose checksum
// matched): decoding never panics, and a body that decodes re-encodes to
// one that decodes to the same tree and sessions.
func FuzzDecodeSnapshot(f *testing.F) {
	s := snapServer()
	s.sessions.add(0x100000000000001, 4000*time.Millisecond)
	s.tree.Create("/a", []byte("x"), []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}, 0, 1, 2, 3)
	s.tree.Create("/a/e", nil, nil, 0x100000000000001, 1, 3, 4)
	s.tree.Create("/c", nil, nil, tree.ContainerOwner, 1, 4, 5)
	var buf bytes.Buffer
	if err := s.encodeSnapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-3])
	buf.Reset()
	if err := snapServer().encodeSnapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		s1 := snapServer()
		if err := s1.decodeSnapshot(bytes.NewReader(b)); err != nil {
			return
		}
		sess1, nodes1 := snapState(t, s1)
		var enc bytes.Buffer
		if err := s1.encodeSnapshot(&enc); err != nil {
			t.Fatalf("encode a decoded snapshot: %v", err)
		}
		s2 := snapServer()
		if err := s2.decodeSnapshot(&enc); err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		sess2, nodes2 := snapState(t, s2)
		if !reflect.DeepEqual(sess1, sess2) {
			t.Fatalf("sessions changed in a round trip:\n%v\n%v", sess1, sess2)
		}
		if !reflect.DeepEqual(nodes1, nodes2) {
			t.Fatalf("nodes changed in a round trip:\n%+v\n%+v", nodes1, nodes2)
		}
	})
}

// FuzzDecodeForward feeds arbitrary bytes as the payload of a quorum
// REQUEST packet (a write a learner forwards to the leader): never a
// panic, and a request that decodes re-encodes to the same request.
func FuzzDecodeForward(f *testing.F) {
	auth := []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "u:x"}}
	acl := []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	joining := "server.4=127.0.0.1:2888:3888;2181"
	for _, r := range []txn.Request{
		{SessionID: 7, Cxid: 1, Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/a", Data: []byte("d"), ACL: acl}, Auth: auth},
		{SessionID: 7, Cxid: 2, Type: wire.OpSetData, Body: &wire.SetDataRequest{Path: "/a", Data: []byte("e"), Version: -1}},
		{SessionID: 7, Cxid: 3, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: []wire.Op{
			{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/a", Version: 1}},
			{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/a", Version: -1}}}}},
		{SessionID: 7, Type: wire.OpCreateSession, Timeout: 4000},
		{SessionID: 7, Type: wire.OpCloseSession},
		{Type: wire.OpDeleteContainer, Body: &wire.PathRequest{Path: "/c"}},
		{SessionID: 7, Cxid: 9, Type: wire.OpReconfig, Body: &txn.ReconfigRequest{JoiningServers: &joining, CurConfigID: -1}},
	} {
		f.Add(encodeForward(&r))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeForward(b)
		if err != nil {
			return
		}
		r2, err := decodeForward(encodeForward(r))
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the request:\n%#v\n%#v", r, r2)
		}
	})
}

// errorLog records the server's Error-level log lines (a recovered panic
// in a connection logs one).
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// clientFrame prefixes a payload with its length.
func clientFrame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// FuzzClientStream sends arbitrary bytes as everything a client says on a
// fresh connection to a running server (four-letter word detection,
// frames, handshake, requests), then half-closes. The server must close
// the connection within a deadline (no hang), never panic in a
// connection (it would log an error), and still serve a proper client.
func FuzzClientStream(f *testing.F) {
	connect := wire.Marshal(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
	req := func(xid, op int32, body wire.Record) []byte {
		e := wire.NewEncoder(nil)
		(&wire.RequestHeader{Xid: xid, Type: op}).Encode(e)
		if body != nil {
			body.Encode(e)
		}
		return clientFrame(e.Bytes())
	}
	stream := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	acl := []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	f.Add([]byte("ruok"))
	f.Add([]byte("srvr"))
	f.Add([]byte("stmk\x00\x00\x00\x00\x00\x00\x01\x32"))
	f.Add([]byte("stmk\x00\x01"))
	f.Add([]byte("\xff\xf4\xff\xfd"))
	f.Add(clientFrame(connect))
	f.Add(clientFrame(connect)[:10])
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0xff, 0xff, 0xff, 0xfe})
	f.Add(stream(clientFrame(connect),
		req(1, wire.OpCreate, &wire.CreateRequest{Path: "/f", Data: []byte("x"), ACL: acl, Flags: wire.ModeEphemeralSequential}),
		req(2, wire.OpGetChildren2, &wire.PathWatchRequest{Path: "/", Watch: true}),
		req(3, wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/", Version: -1}}}}),
		req(4, wire.OpSetWatches2, &wire.SetWatches{V2: true, DataWatches: []string{"/f"}, ExistWatches: []string{}, ChildWatches: []string{}, PersistentWatches: []string{}, PersistentRecursive: []string{"/"}}),
		req(5, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")}),
		req(-2, wire.OpPing, nil),
		req(6, wire.OpCloseSession, nil)))
	f.Add(stream(clientFrame(connect), req(1, wire.OpCheck, &wire.PathVersionRequest{Path: "/", Version: 0})))
	f.Add(stream(clientFrame(connect), req(1, wire.OpCreate, nil)))
	f.Add(stream(req(1, wire.OpGetData, &wire.PathWatchRequest{Path: "/"})))
	// A SASL login (the server below has the user bob), then a response
	// with a wrong digest.
	f.Add(stream(clientFrame(connect), req(1, wire.OpSASL, &wire.SASLToken{Token: []byte{}}),
		req(2, wire.OpSASL, &wire.SASLToken{Token: []byte(`username="bob",realm="zk-sasl-md5",nonce="x",cnonce="y",nc=00000001,qop=auth,digest-uri="zookeeper/zk-sasl-md5",response=0123456789abcdef0123456789abcdef`)}),
		req(3, wire.OpSASL, &wire.SASLToken{Token: []byte("x")})))

	dir := f.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dir, dir
	cfg.TickTime = 200 * time.Millisecond
	cfg.MinSessionTimeout, cfg.MaxSessionTimeout = 400*time.Millisecond, 4*time.Second
	cfg.ForceSync = false
	cfg.AdminEnableServer = false
	cfg.MetricsEnabled = false
	cfg.MaxClientCnxns = 0
	cfg.SnapCount = 1000
	cfg.SASL.Users, cfg.SASL.Provider = map[string]string{"bob": "bobsecret"}, true
	errs := &errorLog{}
	srv, err := New(cfg, slog.New(errs))
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	defer func() {
		srv.Close()
		<-done
	}()
	addr := ln.Addr().String()
	f.Fuzz(func(t *testing.T, b []byte) {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		// Write what the server takes; it may close early (that is fine).
		_, _ = nc.Write(b)
		_ = nc.(*net.TCPConn).CloseWrite()
		_, err = io.Copy(io.Discard, nc)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server did not close the connection within 10 s after the client's EOF")
		}
		if lines := errs.take(); len(lines) > 0 {
			t.Fatalf("server logged errors: %q", lines)
		}
		// A proper client is still served.
		pc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		pc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := pc.Write([]byte("ruok")); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(pc)
		if string(out) != "imok" {
			t.Fatalf("ruok after the input: %q", out)
		}
	})
}

// FuzzSnapshotPaths builds well-formed snapshot bodies whose node paths
// the fuzzer chooses ('|' separates them, in file order): the byte-level
// target rarely forms a path like "//" on its own. A body that decodes
// gives a tree whose walk ends and reaches every node, and re-encodes to
// a body that decodes to the same tree.
func FuzzSnapshotPaths(f *testing.F) {
	for _, s := range []string{"/|/a|/a/b", "/|//", "/|/a|/a/", "/a|/", "/|/zookeeper|/zookeeper/quota|/x", "/|/a|/a/./b", "/|/\x00", "/|/a|/a|/a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		e := wire.NewEncoder(nil)
		e.Int(snapshotVersion)
		e.Int(0)
		for _, p := range strings.Split(spec, "|") {
			e.String(p)
			e.Buffer([]byte("d"))
			wire.EncodeACLs(e, nil)
			for range 5 {
				e.Long(1)
			}
			for range 3 {
				e.Int(0)
			}
			e.Long(0)
		}
		e.NullString()
		s1 := snapServer()
		if err := s1.decodeSnapshot(bytes.NewReader(e.Bytes())); err != nil {
			return
		}
		_, nodes1 := snapState(t, s1)
		if len(nodes1)+1 != s1.tree.NodeCount() {
			t.Fatalf("walk reaches %d nodes, the tree holds %d", len(nodes1), s1.tree.NodeCount()-1)
		}
		var enc bytes.Buffer
		if err := s1.encodeSnapshot(&enc); err != nil {
			t.Fatal(err)
		}
		s2 := snapServer()
		if err := s2.decodeSnapshot(&enc); err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if _, nodes2 := snapState(t, s2); !reflect.DeepEqual(nodes1, nodes2) {
			t.Fatalf("round trip changed the tree")
		}
	})
}
