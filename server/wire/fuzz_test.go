package wire

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// requestBodies maps every client opcode that carries a body to a
// constructor of its request record, as the server decodes them.
var requestBodies = map[int32]func() Record{
	OpCreate:               func() Record { return &CreateRequest{} },
	OpCreate2:              func() Record { return &CreateRequest{} },
	OpCreateContainer:      func() Record { return &CreateRequest{} },
	OpCreateTTL:            func() Record { return &CreateTTLRequest{} },
	OpDelete:               func() Record { return &PathVersionRequest{} },
	OpCheck:                func() Record { return &PathVersionRequest{} },
	OpExists:               func() Record { return &PathWatchRequest{} },
	OpGetData:              func() Record { return &PathWatchRequest{} },
	OpGetChildren:          func() Record { return &PathWatchRequest{} },
	OpGetChildren2:         func() Record { return &PathWatchRequest{} },
	OpSetData:              func() Record { return &SetDataRequest{} },
	OpGetACL:               func() Record { return &PathRequest{} },
	OpSync:                 func() Record { return &PathRequest{} },
	OpGetEphemerals:        func() Record { return &PathRequest{} },
	OpGetAllChildrenNumber: func() Record { return &PathRequest{} },
	OpSetACL:               func() Record { return &SetACLRequest{} },
	OpMulti:                func() Record { return &MultiRequest{} },
	OpMultiRead:            func() Record { return &MultiRequest{} },
	OpReconfig:             func() Record { return &ReconfigRequest{} },
	OpCheckWatches:         func() Record { return &WatchesRequest{} },
	OpRemoveWatches:        func() Record { return &WatchesRequest{} },
	OpAddWatch:             func() Record { return &AddWatchRequest{} },
	OpSetWatches:           func() Record { return &SetWatches{} },
	OpSetWatches2:          func() Record { return &SetWatches{V2: true} },
	OpAuth:                 func() Record { return &AuthPacket{} },
	OpSASL:                 func() Record { return &SASLToken{} },
}

// roundTrip checks that a record that decoded cleanly encodes to bytes that
// decode to the same value (jute has one encoding per value, except that a
// boolean's non-zero byte is normalised to 1).
func roundTrip(t *testing.T, fresh func() Record, b []byte) {
	t.Helper()
	r := fresh()
	if err := Unmarshal(b, r); err != nil {
		return
	}
	enc := Marshal(r)
	r2 := fresh()
	if err := Unmarshal(enc, r2); err != nil {
		t.Fatalf("%T: re-encoded record does not decode: %v", r, err)
	}
	if !reflect.DeepEqual(r, r2) {
		t.Fatalf("%T: round trip changed the value:\n %#v\n %#v", r, r, r2)
	}
}

func FuzzDecodeConnectRequest(f *testing.F) {
	f.Add(Marshal(&ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}))
	f.Add(Marshal(&ConnectRequest{LastZxidSeen: 0x100000005, TimeOut: 4000, SessionID: 0x1000012924600, Passwd: []byte("0123456789abcdef")}))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x75, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, func() Record { return &ConnectRequest{} }, b)
		roundTrip(t, func() Record { return &ConnectResponse{} }, b)
	})
}

func FuzzDecodeMultiRequest(f *testing.F) {
	f.Add(Marshal(&MultiRequest{Ops: []Op{
		{Type: OpCreate, Req: &CreateRequest{Path: "/a", Data: []byte("x"), ACL: []ACL{{Perms: PermAll, ID: ID{"world", "anyone"}}}}},
		{Type: OpCreateTTL, Req: &CreateTTLRequest{Path: "/t", Flags: ModePersistentWithTTL, TTL: 10}},
		{Type: OpSetData, Req: &SetDataRequest{Path: "/a", Data: nil, Version: -1}},
		{Type: OpCheck, Req: &PathVersionRequest{Path: "/a", Version: 1}},
		{Type: OpDelete, Req: &PathVersionRequest{Path: "/a", Version: -1}},
	}}))
	f.Add(Marshal(&MultiRequest{Ops: []Op{{Type: OpGetData, Req: &PathWatchRequest{Path: "/"}}, {Type: OpGetChildren, Req: &PathWatchRequest{Path: "/z"}}}}))
	f.Add(Marshal(&MultiRequest{}))
	f.Add([]byte{0, 0, 0, 3, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, func() Record { return &MultiRequest{} }, b)
		roundTrip(t, func() Record { return &MultiResponse{} }, b)
	})
}

// FuzzDecodeRequest decodes a RequestHeader then the body its opcode names,
// as the server does with every frame.
func FuzzDecodeRequest(f *testing.F) {
	seed := func(op int32, body Record) {
		e := NewEncoder(nil)
		(&RequestHeader{Xid: 1, Type: op}).Encode(e)
		if body != nil {
			body.Encode(e)
		}
		f.Add(e.Bytes())
	}
	acl := []ACL{{Perms: PermRead, ID: ID{"digest", "user1:+owfoSBn/am19roBPzR1/MfCblE="}}}
	seed(OpCreate, &CreateRequest{Path: "/a", Data: []byte("d"), ACL: acl, Flags: ModeEphemeralSequential})
	seed(OpCreateTTL, &CreateTTLRequest{Path: "/a", ACL: acl, Flags: ModePersistentWithTTL, TTL: 1000})
	seed(OpDelete, &PathVersionRequest{Path: "/a", Version: 3})
	seed(OpGetData, &PathWatchRequest{Path: "/a", Watch: true})
	seed(OpSetData, &SetDataRequest{Path: "/a", Data: []byte("x"), Version: -1})
	seed(OpSetACL, &SetACLRequest{Path: "/a", ACL: acl, Version: 0})
	seed(OpSync, &PathRequest{Path: "/"})
	seed(OpReconfig, &ReconfigRequest{JoiningServers: "server.4=h:1:2;3", CurConfigID: -1})
	seed(OpRemoveWatches, &WatchesRequest{Path: "/a", Type: WatcherAny})
	seed(OpAddWatch, &AddWatchRequest{Path: "/a", Mode: AddWatchPersistentRecursive})
	seed(OpSetWatches2, &SetWatches{V2: true, RelativeZxid: 7, DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: []string{"/b"}, PersistentWatches: []string{}, PersistentRecursive: []string{"/"}})
	seed(OpAuth, &AuthPacket{Scheme: "digest", Auth: []byte("user1:12345")})
	seed(OpMulti, &MultiRequest{Ops: []Op{{Type: OpCheck, Req: &PathVersionRequest{Path: "/", Version: 0}}}})
	seed(OpPing, nil)
	seed(OpWhoAmI, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		var h RequestHeader
		h.Decode(d)
		if d.Err() != nil {
			return
		}
		fresh, ok := requestBodies[h.Type]
		if !ok {
			return
		}
		roundTrip(t, fresh, d.Rest())
	})
}

// FuzzDecodeReply decodes every reply record a client may receive.
func FuzzDecodeReply(f *testing.F) {
	st := Stat{Czxid: 3, Mzxid: 4, Ctime: 5, Mtime: 6, Version: 1, Cversion: -1, DataLength: 2, NumChildren: 1, Pzxid: 3}
	f.Add(Marshal(&GetDataResponse{Data: []byte("hi"), Stat: st}))
	f.Add(Marshal(&Children2Response{Children: []string{"a", "b"}, Stat: st}))
	f.Add(Marshal(&GetACLResponse{ACL: []ACL{{Perms: PermAll, ID: ID{"world", "anyone"}}}, Stat: st}))
	f.Add(Marshal(&WhoAmIResponse{Infos: []ID{{"ip", "127.0.0.1"}}}))
	f.Add(Marshal(&WatcherEvent{Type: EventNodeCreated, State: StateSyncConnected, Path: "/a"}))
	f.Add(Marshal(&MultiResponse{Results: []OpResult{{Type: OpCreate, Resp: &CreateResponse{Path: "/a"}}, {Type: OpError, Err: CodeNoNode}}}))
	replies := []func() Record{
		func() Record { return &ReplyHeader{} },
		func() Record { return &CreateResponse{} },
		func() Record { return &Create2Response{} },
		func() Record { return &StatResponse{} },
		func() Record { return &GetDataResponse{} },
		func() Record { return &GetACLResponse{} },
		func() Record { return &ChildrenResponse{} },
		func() Record { return &Children2Response{} },
		func() Record { return &PathResponse{} },
		func() Record { return &CountResponse{} },
		func() Record { return &ErrorResponse{} },
		func() Record { return &WhoAmIResponse{} },
		func() Record { return &WatcherEvent{} },
		func() Record { return &MultiResponse{} },
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fresh := range replies {
			roundTrip(t, fresh, b)
		}
	})
}

// FuzzValidatePath: no panic; a path a client may create is one the
// server loads again from its log or a snapshot (CheckStoredPath), and
// valid paths split and join back.
func FuzzValidatePath(f *testing.F) {
	for _, p := range []string{"/", "/a", "/a/b", "", "a", "/a/", "//", "/a/.", "/a\x00", "/é/ü", "/\xed\xa0\x80", "/a/..b", "/😀", "/a\xff"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePath(p) != nil {
			return
		}
		if err := CheckStoredPath(p); err != nil {
			t.Fatalf("ValidatePath(%q) accepts what CheckStoredPath refuses: %v", p, err)
		}
		if p == "/" {
			return
		}
		if got := Join(Parent(p), Base(p)); got != p {
			t.Fatalf("Join(Parent(%q), Base(%q)) = %q", p, p, got)
		}
	})
}

// A declared length larger than the frame fails before allocating it.
func TestDecoderBoundsAllocation(t *testing.T) {
	huge := binary.BigEndian.AppendUint32(nil, 1<<30)
	for name, decode := range map[string]func(d *Decoder){
		"buffer":  func(d *Decoder) { d.Buffer() },
		"string":  func(d *Decoder) { _ = d.String() },
		"strings": func(d *Decoder) { d.Strings() },
		"acls":    func(d *Decoder) { DecodeACLs(d) },
		"whoami":  func(d *Decoder) { (&WhoAmIResponse{}).Decode(d) },
	} {
		allocs := testing.AllocsPerRun(10, func() {
			d := NewDecoder(huge)
			decode(d)
			if d.Err() == nil {
				t.Fatalf("%s: a 1 GiB length in a 4-byte frame decoded", name)
			}
		})
		if allocs > 2 {
			t.Errorf("%s: %v allocations for a lying length", name, allocs)
		}
	}
}
