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
