package tree

import (
	"testing"
)

func TestNewTreeHasApacheSystemNodes(t *testing.T) {
	tr := New()
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		if tr.Get(p) == nil {
			t.Fatalf("%s missing", p)
		}
	}
	// Apache's DataTree keys the root as "" and "/": a fresh server reports 5.
	if n := tr.NodeCount(); n != 5 {
		t.Fatalf("NodeCount = %d, want 5", n)
	}
}

func TestCversionCountsCreatesAndDeletes(t *testing.T) {
	tr := New()
	tr.Create("/p", nil, OpenACL, 0, 1, 10, 1000)
	tr.Create("/p/a", nil, OpenACL, 0, 1, 11, 1001)
	tr.Create("/p/b", nil, OpenACL, 0, 2, 12, 1002)
	tr.Delete("/p/a", 13)
	st := tr.Get("/p").Stat()
	// Two creates and one delete: clients see cversion 3 (DataNode.copyStat).
	if st.Cversion != 3 || st.NumChildren != 1 || st.Pzxid != 13 {
		t.Fatalf("stat %+v: want cversion 3, numChildren 1, pzxid 13", st)
	}
}

func TestOwnerEncodings(t *testing.T) {
	if IsEphemeral(ContainerOwner) {
		t.Fatal("container counted as ephemeral")
	}
	owner := TTLOwner(5000)
	if ttl, ok := IsTTL(owner); !ok || ttl != 5000 {
		t.Fatalf("IsTTL(TTLOwner(5000)) = %d, %v", ttl, ok)
	}
	if IsEphemeral(owner) {
		t.Fatal("TTL node counted as ephemeral")
	}
	if !IsEphemeral(0x1234) {
		t.Fatal("session id not ephemeral")
	}
	tr := New()
	tr.Create("/c", nil, OpenACL, ContainerOwner, 1, 2, 3)
	tr.Create("/t", nil, OpenACL, owner, 2, 3, 4)
	tr.Create("/e", nil, OpenACL, 0x1234, 3, 4, 5)
	// Clients see ephemeralOwner only for normal ephemerals.
	for p, want := range map[string]int64{"/c": 0, "/t": 0, "/e": 0x1234} {
		if got := tr.Get(p).Stat().EphemeralOwner; got != want {
			t.Fatalf("%s ephemeralOwner = %#x, want %#x", p, got, want)
		}
	}
	if got := tr.Ephemerals(0x1234); len(got) != 1 || got[0] != "/e" {
		t.Fatalf("Ephemerals = %v", got)
	}
	if len(tr.Containers()) != 1 || len(tr.TTLs()) != 1 {
		t.Fatalf("containers %v ttls %v", tr.Containers(), tr.TTLs())
	}
}

func TestSystemNodesCannotBeDeleted(t *testing.T) {
	tr := New()
	for _, p := range []string{"/zookeeper/config", "/zookeeper/quota"} {
		if tr.Delete(p, 1) {
			t.Fatalf("deleted %s", p)
		}
	}
	if got := tr.CountDescendants("/"); got != 3 {
		t.Fatalf("descendants of / = %d, want 3", got)
	}
}
