package server_test

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// A member that lost its data comes back by SNAP while writes go on. The
// leader streams a fuzzy snapshot (walked a few znodes at a time, writes
// applied in between, so it holds some of them and not others) and then
// the txns after its zxid; the member ends with exactly the leader's
// tree: data, ACLs, children and every Stat field.
func TestSnapSyncUnderWrites(t *testing.T) {
	zk.DefaultLogger = log.New(io.Discard, "", 0)
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) { c.SnapCount = 40 }))
	l := e.Leader()
	if l < 0 {
		t.Fatal("no leader")
	}
	f := (l + 1) % 3
	dial := func() *zk.Conn {
		c, _, err := zk.Connect([]string{e.Servers[l].Addr()}, 4*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	c := dial()
	paths := []string{"/s", "/s/a", "/s/b", "/s/a/x", "/s/b/x", "/s/a/x/y", "/s/c"}
	for _, p := range paths[:3] {
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if _, err := c.Create(fmt.Sprintf("/s/a/n%d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// A member whose log is empty gets SNAP once the leader has a snapshot.
	snaps := filepath.Join(e.Servers[l].Cfg.DataDir, "version-2", "snapshot.*")
	testwait.For(t, "a snapshot on the leader", func() bool {
		m, _ := filepath.Glob(snaps)
		return len(m) > 0
	})
	e.Servers[f].Stop()
	if err := os.RemoveAll(filepath.Join(e.Servers[f].Cfg.DataDir, "version-2")); err != nil {
		t.Fatal(err)
	}

	defer server.MakeSnapshotsFuzzy()()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		c := dial()
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := server.RandomWrite(c, rng, paths[1:], w); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	e.Servers[f].Restart()
	e.WaitServing(30 * time.Second)
	// Go on writing for a while with the member in the ensemble.
	before := server.LastApplied(e.Servers[l].Server())
	testwait.For(t, "writes after the member came back", func() bool {
		return server.LastApplied(e.Servers[l].Server()) > before+50 || t.Failed()
	})
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	leader, member := e.Servers[l].Server(), e.Servers[f].Server()
	testwait.For(t, "the member to apply what the leader applied", func() bool {
		return server.LastApplied(member) == server.LastApplied(leader)
	})
	// The member's tree digest is the leader's (its fuzzy snapshot's
	// recorded digest matched when the member reached it).
	ld, lm := server.TreeDigest(leader)
	md, mm := server.TreeDigest(member)
	if ld != md || lm != 0 || mm != 0 {
		t.Errorf("tree digests: leader %d (%d mismatches), member %d (%d mismatches)", ld, lm, md, mm)
	}
	want, got := server.TreeView(leader), server.TreeView(member)
	// Each member writes its membership into /zookeeper/config when it
	// starts to serve, with its own clock's mtime, as Apache's do.
	delete(want, "/zookeeper/config")
	delete(got, "/zookeeper/config")
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s missing on the member", p)
		} else if g != w {
			t.Errorf("%s on the member:\n got %s\nwant %s", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s on the member, not on the leader", p)
		}
	}
}
