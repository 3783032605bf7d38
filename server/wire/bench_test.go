package wire

import (
	"bytes"
	"testing"
)

var benchStat = Stat{Czxid: 0x100000003, Mzxid: 0x100000009, Ctime: 1795699166673, Mtime: 1795699167000,
	Version: 4, Cversion: 12, Aversion: 1, DataLength: 128, NumChildren: 6, Pzxid: 0x10000000a}

var benchRecords = []struct {
	name  string
	rec   Record
	fresh func() Record
}{
	{"CreateRequest", &CreateRequest{Path: "/app/locks/lock-", Data: bytes.Repeat([]byte("x"), 128),
		ACL: []ACL{{Perms: PermAll, ID: ID{"world", "anyone"}}}, Flags: ModeEphemeralSequential},
		func() Record { return &CreateRequest{} }},
	{"GetDataResponse", &GetDataResponse{Data: bytes.Repeat([]byte("y"), 128), Stat: benchStat},
		func() Record { return &GetDataResponse{} }},
	{"Children2Response", &Children2Response{Children: []string{"lock-0000000001", "lock-0000000002", "lock-0000000003",
		"lock-0000000004", "lock-0000000005", "lock-0000000006"}, Stat: benchStat},
		func() Record { return &Children2Response{} }},
	{"MultiRequest", &MultiRequest{Ops: []Op{
		{Type: OpCheck, Req: &PathVersionRequest{Path: "/app/config", Version: 4}},
		{Type: OpCreate, Req: &CreateRequest{Path: "/app/a", Data: []byte("1"), ACL: []ACL{{Perms: PermAll, ID: ID{"world", "anyone"}}}}},
		{Type: OpSetData, Req: &SetDataRequest{Path: "/app/config", Data: []byte("v5"), Version: 4}},
		{Type: OpDelete, Req: &PathVersionRequest{Path: "/app/b", Version: -1}},
	}}, func() Record { return &MultiRequest{} }},
	{"MultiResponse", &MultiResponse{Results: []OpResult{
		{Type: OpCheck}, {Type: OpCreate, Resp: &CreateResponse{Path: "/app/a"}},
		{Type: OpSetData, Resp: &StatResponse{Stat: benchStat}}, {Type: OpDelete},
	}}, func() Record { return &MultiResponse{} }},
}

func BenchmarkEncode(b *testing.B) {
	for _, br := range benchRecords {
		b.Run(br.name, func(b *testing.B) {
			e := NewEncoder(make([]byte, 0, 1024))
			b.ReportAllocs()
			b.SetBytes(int64(len(Marshal(br.rec))))
			for b.Loop() {
				e.Reset()
				br.rec.Encode(e)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, br := range benchRecords {
		b.Run(br.name, func(b *testing.B) {
			enc := Marshal(br.rec)
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if err := Unmarshal(enc, br.fresh()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReplyFrame encodes a whole getData reply frame as the server
// does: reserved length, ReplyHeader, body.
func BenchmarkReplyFrame(b *testing.B) {
	body := &GetDataResponse{Data: bytes.Repeat([]byte("y"), 128), Stat: benchStat}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		e := NewEncoder(append(buf[:0], 0, 0, 0, 0))
		(&ReplyHeader{Xid: 7, Zxid: 0x10000000a}).Encode(e)
		body.Encode(e)
	}
}
