package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// cutProxy forwards TCP connections to a server and can cut every one it
// holds, as a network failure or a restarted server would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(s, c); s.Close() })
		p.wg.Go(func() { _, _ = io.Copy(c, s); c.Close() })
	}
}

// cut closes every connection the proxy holds.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// When connections break in the middle of a run, every client re-attaches
// its session and goes on: the run reports the connection losses, keeps
// counting operations after them, and still deletes what it created.
func TestRunSurvivesConnectionLoss(t *testing.T) {
	srv := servertest.Start(t)
	check := connect(t, srv.Addr())
	proxy := startCutProxy(t, srv.Addr())
	cfg := shortConfig(proxy.Addr(), OpSet)
	cfg.Warmup = 0
	cfg.Duration = time.Hour
	cfg.Root = "/bench-cut"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cutAt int64 = -1
	cfg.Progress = func(_, _ time.Duration, ops int64) {
		switch {
		case cutAt < 0 && ops > 50:
			cutAt = ops
			proxy.cut()
		case cutAt >= 0 && ops > cutAt+200:
			cancel()
		}
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cutAt < 0 || res.Ops <= cutAt+200 {
		t.Fatalf("ops = %d, cut at %d: the run did not go on after the cut", res.Ops, cutAt)
	}
	if res.Errors["ConnectionLoss"] == 0 {
		t.Errorf("errors = %v, want ConnectionLoss counted", res.Errors)
	}
	if n := res.Errors["ConnectionLoss"]; n > int64(cfg.Clients) {
		t.Errorf("ConnectionLoss = %d for %d clients cut once", n, cfg.Clients)
	}
	if res.CleanupError != "" {
		t.Errorf("cleanup: %s", res.CleanupError)
	}
	if ok, _, err := check.Exists("/bench-cut"); err != nil || ok {
		t.Errorf("root still exists after the run (exists=%v, err=%v)", ok, err)
	}
}

// The client re-attaches the same session after a lost connection, as
// ZooKeeper clients do, rather than opening a new one.
func TestClientReattachesSession(t *testing.T) {
	srv := servertest.Start(t)
	proxy := startCutProxy(t, srv.Addr())
	c, err := dialClient(context.Background(), proxy.Addr(), 4*time.Second, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if err := c.create("/reattach", []byte("x")); err != nil {
		t.Fatal(err)
	}
	id := c.sessionID
	proxy.cut()
	if err := c.get("/reattach"); !errors.Is(err, errConnectionLoss) {
		t.Fatalf("get on a cut connection: err = %v, want ConnectionLoss", err)
	}
	if err := c.reconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.sessionID != id {
		t.Errorf("session 0x%x after reconnect, want the same 0x%x", c.sessionID, id)
	}
	if err := c.get("/reattach"); err != nil {
		t.Errorf("get after reconnect: %v", err)
	}
	if err := c.get("/missing"); !errors.Is(err, wire.ErrNoNode) {
		t.Errorf("get /missing: err = %v, want NoNode", err)
	}
}
