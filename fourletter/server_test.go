package fourletter_test

import (
	"context"
	"testing"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/servertest"
)

// TestQueryZkgoServer asks a real in-process zkgo server, as `zk status`
// and `zkserver status` do.
func TestQueryZkgoServer(t *testing.T) {
	srv := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	out, err := fourletter.Query(ctx, srv.Addr(), "ruok")
	if err != nil {
		t.Fatal(err)
	}
	if out != "imok" {
		t.Errorf("ruok = %q, want imok", out)
	}
	out, err = fourletter.Query(ctx, srv.Addr(), "srvr")
	if err != nil {
		t.Fatal(err)
	}
	s, err := fourletter.ParseSrvr(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Mode != "standalone" {
		t.Errorf("Mode = %q, want standalone", s.Mode)
	}
	// Apache 3.8.0 answers "Node count: 5" on a fresh server (its
	// DataTree counts the root twice, as "" and "/").
	if s.NodeCount != 5 {
		t.Errorf("Node count = %d, want 5", s.NodeCount)
	}
}
