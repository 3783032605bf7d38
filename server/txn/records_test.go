package txn

import (
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

// Marshal sizes its buffer once: the encoding of every kind of txn fits
// the estimate, so the write path pays one allocation per txn.
func TestMarshalDoesNotGrow(t *testing.T) {
	acl := []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: "user:Y1g3AxMxNDVxdT7Ys8UqSxHM6ZI="}},
		{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	h := Header{SessionID: 1, Cxid: 2, Zxid: 3, Time: 4}
	for _, x := range []Txn{
		{Header: withType(h, TypeCreate), Path: "/a/long/path/name", Data: make([]byte, 100), ACL: acl, ParentCVersion: 3},
		{Header: withType(h, TypeSetData), Path: "/a", Data: make([]byte, 1000), Version: 2},
		{Header: withType(h, TypeSetACL), Path: "/a", ACL: acl, Version: 1},
		{Header: withType(h, TypeCloseSession), Paths: []string{"/e1", "/a/e2", "/a/b/e3"}},
		{Header: withType(h, TypeMulti), Ops: []Txn{
			{Header: Header{Type: TypeCreate}, Path: "/m", Data: make([]byte, 50), ACL: acl},
			{Header: Header{Type: TypeCheck}, Path: "/m"},
			{Header: Header{Type: TypeSetData}, Path: "/m", Data: make([]byte, 50)},
			{Header: Header{Type: TypeDelete}, Path: "/m"},
		}},
	} {
		b := x.Marshal()
		if want := 28 + x.bodySize(); cap(b) != want {
			t.Errorf("txn type %d: %d bytes in a buffer of cap %d, estimated %d: the buffer grew", x.Type, len(b), cap(b), want)
		}
	}
}

func withType(h Header, typ int32) Header {
	h.Type = typ
	return h
}

// TimeOf reads a txn's time without decoding it, and refuses bytes too
// short to hold one.
func TestTimeOf(t *testing.T) {
	x := &Txn{Header: Header{SessionID: 7, Cxid: 3, Zxid: 0x100000002, Time: 1795865531681, Type: TypeDelete}, Path: "/a"}
	if got, ok := TimeOf(x.Marshal()); !ok || got != x.Time {
		t.Fatalf("TimeOf = %d, %v; want %d", got, ok, x.Time)
	}
	if _, ok := TimeOf(x.Marshal()[:27]); ok {
		t.Fatal("TimeOf of 27 bytes")
	}
}
