package hostile

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/suitesum"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// suite counts the tests for the summary TestMain prints.
var suite = suitesum.New("hostile")

func TestMain(m *testing.M) { suite.Main(m) }

// count records the outcome of a top-level test for TestMain's summary.
func count(t *testing.T) { suite.Track(t) }

// ioTimeout bounds every blocking step so that a hung server fails the
// test instead of hanging it; it is a safety net, never a timing assertion.
const ioTimeout = 10 * time.Second

// logRecorder keeps the server's log records at Warn and above.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// has reports whether a recorded line contains s.
func (l *logRecorder) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (l *logRecorder) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.HasPrefix(line, "ERROR") {
			out = append(out, line)
		}
	}
	return out
}

// env is one attacked server with its bystander client.
type env struct {
	t    *testing.T
	cfg  *config.Config
	srv  *server.Server
	addr string
	log  *logRecorder
	by   *zk.Conn
	seq  int
	heap uint64 // HeapAlloc after GC when the attack started
	tree map[string]string
}

// start runs a standalone server configured as servertest does (tickTime
// 200 ms, sessions 0.4–4 s, forceSync off), with cfg adjusted by opts,
// connects the bystander and records the tree and the heap.
func start(t *testing.T, opts ...func(*config.Config)) *env {
	t.Helper()
	count(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DataLogDir = cfg.DataDir
	cfg.TickTime = 200 * time.Millisecond
	cfg.MinSessionTimeout = 2 * cfg.TickTime
	cfg.MaxSessionTimeout = 20 * cfg.TickTime
	cfg.ForceSync = false
	cfg.AdminEnableServer = false
	cfg.MetricsEnabled = false
	for _, o := range opts {
		o(cfg)
	}
	e := &env{t: t, cfg: cfg, log: &logRecorder{}}
	srv, err := server.New(cfg, slog.New(e.log))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	e.srv, e.addr = srv, ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		if errs := e.log.errors(); len(errs) > 0 {
			t.Errorf("server logged errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	by, ev, err := zk.Connect([]string{e.addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(by.Close)
	waitConnected(t, ev)
	e.by = by
	if _, err := by.Create("/bystander", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("bystander create: %v", err)
	}
	e.tree = e.snapshot()
	e.heap = heapAlloc()
	return e
}

func waitConnected(t *testing.T, ev <-chan zk.Event) {
	t.Helper()
	deadline := time.After(ioTimeout)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return
			}
		case <-deadline:
			t.Fatal("bystander did not connect")
		}
	}
}

// check makes the bystander write a new value and read it back: the
// server still answers a well-behaved client, correctly.
func (e *env) check() {
	e.t.Helper()
	e.seq++
	want := fmt.Sprint(e.seq)
	if _, err := e.by.Set("/bystander", []byte(want), -1); err != nil {
		e.t.Fatalf("bystander set: %v", err)
	}
	got, st, err := e.by.Get("/bystander")
	if err != nil || string(got) != want || st.Version != int32(e.seq) {
		e.t.Fatalf("bystander get: %q version %d (%v), want %q version %d", got, st.Version, err, want, e.seq)
	}
	e.tree["/bystander"] = want
}

// snapshot reads every znode's data through the bystander (the system
// nodes under /zookeeper excepted).
func (e *env) snapshot() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		if p == "/zookeeper" {
			return
		}
		data, _, err := e.by.Get(p)
		if err != nil {
			e.t.Fatalf("get %s: %v", p, err)
		}
		out[p] = string(data)
		kids, _, err := e.by.Children(p)
		if err != nil {
			e.t.Fatalf("children %s: %v", p, err)
		}
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

// expectTree fails unless the tree is what it was at the start plus the
// changes the test made on purpose (a nil value deletes a path).
func (e *env) expectTree(changes map[string]*string) {
	e.t.Helper()
	want := map[string]string{}
	for p, d := range e.tree {
		want[p] = d
	}
	for p, d := range changes {
		if d == nil {
			delete(want, p)
		} else {
			want[p] = *d
		}
	}
	got := e.snapshot()
	var diff []string
	for p, d := range got {
		if w, ok := want[p]; !ok {
			diff = append(diff, fmt.Sprintf("unexpected %s=%q", p, d))
		} else if w != d {
			diff = append(diff, fmt.Sprintf("%s=%q, want %q", p, d, w))
		}
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			diff = append(diff, "missing "+p)
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		e.t.Fatalf("tree after the attack:\n%s", strings.Join(diff, "\n"))
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// expectHeap fails unless the live heap is back within limit bytes of
// what it was at the start (the write pipeline and the storage's move of
// log entries into bbolt may hold memory for a moment after a burst).
func (e *env) expectHeap(limit uint64) {
	e.t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		now := heapAlloc()
		if now <= e.heap+limit {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("heap grew from %d to %d MiB (bound %d MiB)", e.heap>>20, now>>20, limit>>20)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mntr returns the server's mntr values.
func (e *env) mntr() map[string]string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	out, err := fourletter.Query(ctx, e.addr, "mntr")
	if err != nil {
		e.t.Fatalf("mntr: %v", err)
	}
	m, err := fourletter.ParseMntr(out)
	if err != nil {
		e.t.Fatalf("mntr: %v", err)
	}
	return m
}

// eventually polls cond until it holds or ioTimeout passes.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// raw is a hand-driven client connection.
type raw struct {
	t        *testing.T
	nc       net.Conn
	r        *bufio.Reader
	xid      int32
	session  int64
	passwd   []byte
	timeout  int32
	lastZxid int64
}

// dial opens a raw connection from 127.0.0.1.
func (e *env) dial() *raw { return e.dialFrom("", 0) }

// dialFrom opens a raw connection from the local address ip (any
// 127.0.0.0/8 address works on loopback) with a receive buffer of rcvbuf
// bytes when rcvbuf > 0.
func (e *env) dialFrom(ip string, rcvbuf int) *raw {
	e.t.Helper()
	d := net.Dialer{Timeout: ioTimeout}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := e.dialWith(d)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	return c
}

// tryDial is dial for a connection the server may refuse (reset).
func (e *env) tryDial() (*raw, error) {
	return e.dialWith(net.Dialer{Timeout: ioTimeout})
}

func (e *env) dialWith(d net.Dialer) (*raw, error) {
	nc, err := d.Dial("tcp", e.addr)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { nc.Close() })
	return &raw{t: e.t, nc: nc, r: bufio.NewReader(nc)}, nil
}

// session dials and opens a new session.
func (e *env) session() *raw {
	e.t.Helper()
	c := e.dial()
	resp, err := c.connect(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
	if err != nil || resp.SessionID == 0 {
		e.t.Fatalf("handshake: %+v %v", resp, err)
	}
	return c
}

func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// write writes bytes; a server that already closed may refuse them.
func (c *raw) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.nc.Write(b)
	return err
}

func (c *raw) readFrame() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > 8<<20 {
		return nil, fmt.Errorf("frame length %d", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return b, err
}

// connect sends a ConnectRequest and reads the ConnectResponse.
func (c *raw) connect(req *wire.ConnectRequest) (wire.ConnectResponse, error) {
	var resp wire.ConnectResponse
	if err := c.write(frame(wire.Marshal(req))); err != nil {
		return resp, err
	}
	f, err := c.readFrame()
	if err != nil {
		return resp, err
	}
	if err := wire.Unmarshal(f, &resp); err != nil {
		return resp, err
	}
	c.session, c.passwd, c.timeout = resp.SessionID, resp.Passwd, resp.TimeOut
	return resp, nil
}

// request encodes a request frame with the next xid.
func (c *raw) request(op int32, body wire.Record) []byte {
	c.xid++
	e := wire.NewEncoder(nil)
	(&wire.RequestHeader{Xid: c.xid, Type: op}).Encode(e)
	if body != nil {
		body.Encode(e)
	}
	return frame(e.Bytes())
}

// call sends one request and reads frames until its reply, skipping
// notifications; it returns the reply header and the body decoder.
func (c *raw) call(op int32, body wire.Record) (wire.ReplyHeader, *wire.Decoder) {
	c.t.Helper()
	if err := c.write(c.request(op, body)); err != nil {
		c.t.Fatalf("write %s: %v", wire.OpName(op), err)
	}
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("%s: %v", wire.OpName(op), err)
		}
		d := wire.NewDecoder(f)
		var h wire.ReplyHeader
		h.Decode(d)
		if h.Xid == wire.XidNotification {
			continue
		}
		if h.Xid != c.xid {
			c.t.Fatalf("%s: reply xid %d, want %d", wire.OpName(op), h.Xid, c.xid)
		}
		return h, d
	}
}

// expectClosed reads until the server closes the connection and returns
// the frames it sent before; it fails if the connection stays open.
func (c *raw) expectClosed() [][]byte {
	c.t.Helper()
	var frames [][]byte
	for {
		f, err := c.readFrame()
		if err == nil {
			frames = append(frames, f)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("server did not close the connection")
		}
		return frames
	}
}

var worldACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

func strp(s string) *string { return &s }

// quiet drops go-zookeeper's log lines (its connections are closed on
// purpose here).
type quiet struct{}

func (quiet) Printf(string, ...any) {}
