package server_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/servertest"
)

// leaderClient returns the index of e's leader and a session on it.
func leaderClient(t *testing.T, e *servertest.Ensemble) (int, *zk.Conn) {
	t.Helper()
	l := e.Leader()
	if l < 0 {
		t.Fatal("no leader")
	}
	c, _, err := zk.Connect([]string{e.Servers[l].Addr()}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return l, c
}

// waitApplied waits until every member of e has applied what the leader
// (member l) has.
func waitApplied(t *testing.T, e *servertest.Ensemble, l int) {
	t.Helper()
	leader := e.Servers[l].Server()
	testwait.For(t, "every member to apply what the leader applied", func() bool {
		for _, s := range e.Servers {
			if server.LastApplied(s.Server()) != server.LastApplied(leader) {
				return false
			}
		}
		return true
	})
}

// mntrNumbers is the numeric values of addr's mntr, key (with zk_) to
// value.
func mntrNumbers(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	m, err := servertest.Mntr(addr)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for k, v := range m {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}
