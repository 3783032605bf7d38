package server_test

import (
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/servertest"
)

// A member whose tree went astray from the leader's (a znode changed with
// no txn) finds out from the digests the leader's pings carry: its mntr
// counts digest_mismatches_count, while the members that applied the
// same txns as the leader count none. A follower and an observer are
// tampered with; the other follower is not.
func TestLearnersCheckTheLeadersDigest(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 1)
	l, c := leaderClient(t, e)
	if _, err := c.Create("/d", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, l)
	// One more write, then a follower and the observer go astray.
	if _, err := c.Set("/d", []byte("w"), -1); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, l) // a set applied after the tampering would undo it
	follower, other, observer := -1, -1, len(e.Servers)-1
	for i := range observer {
		switch {
		case i == l:
		case follower < 0:
			follower = i
		default:
			other = i
		}
	}
	for _, i := range []int{follower, observer} {
		e.Servers[i].TreeAstray = true
		server.TamperTree(e.Servers[i].Server(), "/d", []byte("astray"))
	}
	// Idle: each ping carries the leader's digest at its last zxid, which
	// every member has applied. Then a write, checked after it.
	mismatches := func(i int) int64 { return mntrNumbers(t, e.Servers[i].Addr())["zk_digest_mismatches_count"] }
	testwait.For(t, "the tampered follower and observer to count a digest mismatch", func() bool {
		return mismatches(follower) > 0 && mismatches(observer) > 0
	})
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	before := mismatches(follower)
	testwait.For(t, "the follower to count the next mismatch too", func() bool {
		return mismatches(follower) > before
	})
	for _, i := range []int{l, other} {
		if n := mismatches(i); n != 0 {
			t.Errorf("member %d (%s) counted %d digest mismatches; its tree is the leader's", i+1, e.Servers[i].Addr(), n)
		}
	}
}
