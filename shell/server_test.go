package shell

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/server/servertest"
)

var update = flag.Bool("update", false, "rewrite golden files from zkCli.sh (needs ZK_APACHE and ZKCLI)")

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

// oracle connects an independent go-zookeeper client to addr.
func oracle(t testing.TB, addr string) *zk.Conn {
	t.Helper()
	conn, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	deadline := time.After(10 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			conn.Close()
			t.Fatalf("no session with %s", addr)
		}
	}
	t.Cleanup(conn.Close)
	return conn
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// cleanTree deletes root and everything under it.
func cleanTree(t testing.TB, conn *zk.Conn, root string) {
	t.Helper()
	var del func(p string)
	del = func(p string) {
		children, _, err := conn.Children(p)
		if err == zk.ErrNoNode {
			return
		}
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		for _, c := range children {
			del(JoinPath(p, c))
		}
		if err := conn.Delete(p, -1); err != nil && err != zk.ErrNoNode {
			t.Fatalf("delete %s: %v", p, err)
		}
	}
	del(root)
}

// freshTree deletes the subtree at root now and again when the test ends.
func freshTree(t testing.TB, conn *zk.Conn, root string) {
	t.Helper()
	cleanTree(t, conn, root)
	t.Cleanup(func() { cleanTree(t, conn, root) })
}

func mustCreate(t testing.TB, conn *zk.Conn, p string, data []byte, flags int32) {
	t.Helper()
	if _, err := conn.Create(p, data, flags, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
