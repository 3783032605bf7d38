package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// dirs sizes the snapshot directory as datadir_size and the txn log's as
// logdir_size, as Apache since 3.8.4 (ZOOKEEPER-4730); 3.8.0 swapped them.
// With the log in a directory of its own, the log's (a preallocated file
// of 64 MB once a txn is logged) is the larger.
func TestDirsSizesEachDirectory(t *testing.T) {
	s := newServer(t, servertest.WithConfig(func(c *config.Config) { c.DataLogDir = t.TempDir() }))
	fixed, err := servertest.Since(s.Addr(), "3.8.4", "3.9.2")
	if err != nil {
		t.Fatal(err)
	}
	c := rawSession(t, s.Addr())
	c.create("/d", []byte("data"), wire.ModePersistent)
	out, err := fourletter.Query(context.Background(), s.Addr(), "dirs")
	if err != nil {
		t.Fatal(err)
	}
	var data, log int64
	if _, err := fmt.Sscanf(out, "datadir_size: %d\nlogdir_size: %d\n", &data, &log); err != nil {
		t.Fatalf("dirs %q: %v", out, err)
	}
	if log < 64<<20 && data < 64<<20 {
		t.Fatalf("dirs %q: neither directory holds a 64 MB log file", out)
	}
	if fixed != (log > data) {
		t.Errorf("dirs %q: want the txn log's directory (the larger) as logdir_size: %v", out, fixed)
	}
}
