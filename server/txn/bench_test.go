package txn

import (
	"strconv"
	"testing"

	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// The write path's CPU outside the log: prep (checks and the in-flight
// overlay), the txn's encoding for the log, and its application to the tree.

func benchTree(b *testing.B, n int) *tree.Tree {
	b.Helper()
	t := tree.New()
	t.Lock()
	t.Create("/bench", nil, tree.OpenACL, 0, 0, 1, 0)
	for i := range n {
		t.Create("/bench/k"+strconv.Itoa(i), make([]byte, 100), tree.OpenACL, 0, int32(i), int64(i+2), 0)
	}
	t.Unlock()
	return t
}

// BenchmarkPrepSetData is prep and commit of a setData, then the applier's
// Applied, as the pipeline runs them for one write.
func BenchmarkPrepSetData(b *testing.B) {
	t := benchTree(b, 1000)
	p := NewPrep(t, Options{})
	data := make([]byte, 100)
	zxid := int64(1 << 20)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := Request{SessionID: 1, Cxid: int32(i), Type: wire.OpSetData,
			Body: &wire.SetDataRequest{Path: "/bench/k" + strconv.Itoa(i%1000), Data: data, Version: -1}}
		x, ch := p.Prep(&req, 0)
		if x.Type != TypeSetData {
			b.Fatalf("prep made txn type %d", x.Type)
		}
		zxid++
		p.Commit(ch, zxid)
		p.Applied(zxid)
	}
}

// BenchmarkPrepCreate is prep and commit of a create of a new node.
func BenchmarkPrepCreate(b *testing.B) {
	t := benchTree(b, 0)
	p := NewPrep(t, Options{})
	data := make([]byte, 100)
	zxid := int64(1 << 20)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := Request{SessionID: 1, Cxid: int32(i), Type: wire.OpCreate,
			Body: &wire.CreateRequest{Path: "/bench/n" + strconv.Itoa(i), Data: data, ACL: tree.OpenACL}}
		x, ch := p.Prep(&req, 0)
		if x.Type != TypeCreate {
			b.Fatalf("prep made txn type %d", x.Type)
		}
		zxid++
		p.Commit(ch, zxid)
		// Not applied: the overlay holds every create, as under a burst
		// of writes ahead of the applier; Applied trims it now and then.
		if i%1024 == 1023 {
			p.Applied(zxid)
		}
	}
}

// BenchmarkMarshalApplySetData encodes a setData txn for the log, decodes
// it as a follower or a replay does, and applies it to the tree.
func BenchmarkMarshalApplySetData(b *testing.B) {
	t := benchTree(b, 1000)
	data := make([]byte, 100)
	zxid := int64(1 << 20)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		zxid++
		x := &Txn{Header: Header{Type: TypeSetData, Zxid: zxid}, Path: "/bench/k" + strconv.Itoa(i%1000), Data: data, Version: int32(i)}
		y, err := Unmarshal(x.Marshal())
		if err != nil {
			b.Fatal(err)
		}
		t.Lock()
		res, _ := Apply(t, y)
		t.Unlock()
		if res.Err != 0 {
			b.Fatalf("apply: %v", res.Err)
		}
	}
}
