package server

import (
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/tree"
)

// The digest log keeps every 128th zxid, the last 1024 of them, oldest
// first (Apache's DIGEST_LOG_INTERVAL and DIGEST_LOG_LIMIT); nothing is
// logged before a loaded snapshot's digest is reached, and a mismatch
// there is counted once.
func TestDigestLog(t *testing.T) {
	var d digests
	tr := tree.New()
	for z := int64(1); z <= 1030*128+5; z++ {
		if err := d.applied(z, tr); err != nil {
			t.Fatal(err)
		}
	}
	got := d.List()
	if len(got) != 1024 || got[0].Zxid != 7*128 || got[1023].Zxid != 1030*128 {
		t.Fatalf("%d entries, %+v … %+v", len(got), got[0], got[len(got)-1])
	}
	if got[0].Digest != tr.Digest() || got[0].Version != tree.DigestVersion {
		t.Fatalf("entry %+v, want digest %d", got[0], tr.Digest())
	}

	d.expect(&ZxidDigest{Zxid: 300, Version: tree.DigestVersion, Digest: tr.Digest() + 1})
	for z := int64(1); z < 300; z++ {
		if err := d.applied(z, tr); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.List()); n != 0 {
		t.Fatalf("%d entries logged inside the snapshot's walk", n)
	}
	if err := d.applied(300, tr); err == nil || d.mismatches.Load() != 1 {
		t.Fatalf("the snapshot's digest differs: %v, %d mismatches", err, d.mismatches.Load())
	}
	for z := int64(301); z <= 384; z++ {
		if err := d.applied(z, tr); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.List(); len(got) != 1 || got[0].Zxid != 384 || d.mismatches.Load() != 1 {
		t.Fatalf("after the snapshot's zxid: %+v, %d mismatches", got, d.mismatches.Load())
	}
}

// With digest.enabled=false no digest is kept (the tree's stays 0) and
// the log holds zeros, as Apache's does with the digest off.
func TestDigestDisabled(t *testing.T) {
	s, addr, _ := startPipelineServer(t, t.TempDir(), func(c *config.Config) { c.DigestEnabled = false })
	c := connectZK(t, addr)
	for i := range 130 {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	got := s.digests.List()
	if len(got) != 1 || got[0].Zxid != 128 || got[0].Digest != 0 {
		t.Fatalf("digest log %+v, want zxid 0x80 with digest 0", got)
	}
	s.tree.RLock()
	defer s.tree.RUnlock()
	if d := s.tree.Digest(); d != 0 {
		t.Fatalf("tree digest %d with digests off", d)
	}
}

// A learner compares a leader's digest with its own at the same zxid: at
// once when it is its last txn or a logged one, when it gets there when
// the zxid is still to come, and never when its own digest there is
// unknown (passed and not logged, a tree not yet exact, or one loaded
// from a snapshot that recorded none). Only a difference counts.
func TestDigestCheckPeer(t *testing.T) {
	var d digests
	tr := tree.New()
	at := map[int64]int64{} // zxid → the tree's digest once it was applied
	apply := func(z int64) {
		t.Helper()
		tr.Create(fmt.Sprintf("/n%d", z), []byte("x"), nil, 0, 0, z, 0)
		if err := d.applied(z, tr); err != nil {
			t.Fatalf("applied 0x%x: %v", z, err)
		}
		at[z] = tr.Digest()
	}
	check := func(z, digest int64) error {
		return d.checkPeer(ZxidDigest{Zxid: z, Version: tree.DigestVersion, Digest: digest}, tr)
	}
	mismatches := func(want int64) {
		t.Helper()
		if got := d.mismatches.Load(); got != want {
			t.Fatalf("%d mismatches, want %d", got, want)
		}
	}
	for z := int64(1); z <= 130; z++ {
		apply(z)
	}
	if got := d.latest(tr); len(got) != 2 || got[0].Zxid != 128 || got[0].Digest != at[128] || got[1].Zxid != 130 || got[1].Digest != at[130] {
		t.Fatalf("latest %+v, want 0x80 and 0x82 with their digests", got)
	}

	// A logged txn and the last one, equal and not; a difference at a
	// zxid counts once (an idle leader sends the same digest in every
	// ping).
	if err := check(128, at[128]+1); err == nil {
		t.Fatal("a different digest at a logged zxid passed")
	}
	mismatches(1)
	if err := check(128, at[128]+1); err != nil {
		t.Fatalf("zxid 0x80's difference counted twice: %v", err)
	}
	// Passed and not logged: unknown here.
	if err := check(129, at[129]+1); err != nil {
		t.Fatal(err)
	}
	// Another algorithm's digest is not compared.
	if err := d.checkPeer(ZxidDigest{Zxid: 130, Version: tree.DigestVersion + 1, Digest: 1}, tr); err != nil {
		t.Fatal(err)
	}
	if err := check(130, at[130]); err != nil {
		t.Fatal(err)
	}
	mismatches(1)
	if err := check(130, at[130]+1); err == nil {
		t.Fatal("a different digest at the last zxid passed")
	}
	mismatches(2)

	// Still to come: compared when applied. Here the tree went astray
	// (a change the leader never made), so the leader's digest at 0x84
	// is what this tree would have without it.
	if err := check(132, 0); err != nil {
		t.Fatal(err)
	}
	apply(131)
	mismatches(2)
	tr.Create("/astray", nil, nil, 0, 0, 131, 0)
	tr.Create("/n132", []byte("x"), nil, 0, 0, 132, 0)
	err := d.applied(132, tr)
	if err == nil {
		t.Fatal("the tree that went astray matched the leader's pending digest")
	}
	mismatches(3)

	// A loaded fuzzy snapshot: nothing is compared nor sent until its
	// recorded zxid is reached.
	d.expect(&ZxidDigest{Zxid: 140, Version: tree.DigestVersion, Digest: tr.Digest()})
	if got := d.latest(tr); got != nil {
		t.Fatalf("latest %+v inside the snapshot's walk", got)
	}
	if err := check(132, 1); err != nil {
		t.Fatal(err)
	}
	for z := int64(133); z <= 140; z++ {
		if err := d.applied(z, tr); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.latest(tr); len(got) != 1 || got[0].Zxid != 140 {
		t.Fatalf("latest %+v once the snapshot's zxid was reached, want 0x8c only", got)
	}
	mismatches(3)

	// A snapshot with no digest: this tree's is never compared.
	d.expect(nil)
	apply(141)
	if got := d.latest(tr); got != nil {
		t.Fatalf("latest %+v of a tree loaded without a digest", got)
	}
	if err := check(141, at[141]+1); err != nil {
		t.Fatal(err)
	}
	mismatches(3)
}
