package quorumtest

import (
	"bufio"
	"net"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// TestLeaderServesNo: with leaderServes=no the leader gives clients no
// session, the followers do, and writes through them still commit.
func TestLeaderServesNo(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.LeaderServes = false
	}))
	l := e.Leader()
	nc, err := net.Dial("tcp", e.Servers[l].Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	enc := wire.NewEncoder(make([]byte, 4, 64))
	(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}).Encode(enc)
	c.send(enc.Bytes())
	if _, err := c.recv(); err == nil {
		t.Error("the leader answered a client's handshake with leaderServes=no")
	}
	f, _ := followerAndOther(t, e)
	w, resp := dialSession(t, e.Servers[f].Addr(), 0, nil, 4000)
	if resp.SessionID == 0 {
		t.Fatal("a follower gave no session")
	}
	if h := w.call(1, wire.OpCreate, &wire.CreateRequest{Path: "/via-follower", ACL: worldAll}); h.Err != wire.CodeOK {
		t.Fatalf("create through a follower: %d", h.Err)
	}
}
