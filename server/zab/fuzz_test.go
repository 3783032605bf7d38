package zab

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/txn"
)

// FuzzQuorumPayload decodes a quorum packet and then its payload the way
// the receiver of that packet type does (leader.go, learner.go): no
// panic, and what decodes re-encodes to the same bytes or value. The
// REQUEST payload (a forwarded client write) is fuzzed in package server
// (FuzzDecodeForward), SNAP chunks' body there too (FuzzDecodeSnapshot).
func FuzzQuorumPayload(f *testing.F) {
	tx := &txn.Txn{Header: txn.Header{SessionID: 5, Cxid: 1, Zxid: 0x100000002, Time: 1, Type: txn.TypeSetData}, Path: "/a", Data: []byte("v"), Version: 1}
	for _, p := range []Packet{
		{Type: PacketProposal, Zxid: 0x100000002, Data: proposalData(0x100000001, tx.Marshal())},
		{Type: PacketInform, Zxid: 0x100000002, Data: proposalData(0x100000001, tx.Marshal())},
		{Type: PacketAck, Zxid: 0x100000002},
		{Type: PacketCommit, Zxid: 0x100000002},
		{Type: PacketPing, Zxid: 0x100000002, Data: encodeSessions([]int64{1, 2, 0x100000000000003})},
		{Type: PacketPing, Data: []byte{1}},
		{Type: PacketSync, Zxid: 9, Data: int64Bytes(0x100000002)},
		{Type: PacketFollowerInfo, Zxid: 0x100000000, Data: int64Bytes(2)},
		{Type: PacketObserverInfo, Zxid: 0x100000000, Data: int64Bytes(4)},
		{Type: PacketLeaderInfo, Zxid: 0x200000000, Data: []byte{0, 1, 0, 0}},
		{Type: PacketAckEpoch, Zxid: 0x100000002, Data: int64Bytes(1)},
		{Type: PacketNewLeader, Zxid: 0x200000000},
		{Type: PacketUpToDate},
		{Type: PacketDiff, Zxid: 0x100000002},
		{Type: PacketTrunc, Zxid: 0x100000001},
		{Type: PacketSnap, Zxid: 0x100000002},
		{Type: PacketSnapChunk, Zxid: 0, Data: []byte("chunk")},
		{Type: PacketSnapEnd, Zxid: 0x100000002, Data: int64Bytes(5)},
		{Type: PacketRequest, Zxid: 1, Data: []byte{0, 0, 0, 0, 0, 0, 0, 5}},
	} {
		f.Add(p.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalPacket(b)
		if err != nil {
			if len(b) >= packetHeaderLen {
				t.Fatalf("a %d-byte packet was refused: %v", len(b), err)
			}
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("packet re-encodes differently")
		}
		_ = p.String()
		switch p.Type {
		case PacketProposal, PacketInform:
			prev, err := bytesInt64(p.Data)
			if err != nil {
				return
			}
			if !bytes.Equal(int64Bytes(prev), p.Data[:8]) {
				t.Fatalf("prev zxid re-encodes differently")
			}
			x, err := txn.Unmarshal(p.Data[8:])
			if err != nil {
				return
			}
			y, err := txn.Unmarshal(x.Marshal())
			if err != nil || !reflect.DeepEqual(x, y) {
				t.Fatalf("txn round trip: %#v -> %#v (%v)", x, y, err)
			}
		case PacketPing:
			ids, err := decodeSessions(p.Data)
			if err != nil {
				if len(p.Data)%8 == 0 {
					t.Fatalf("%d-byte session list refused", len(p.Data))
				}
				return
			}
			if !bytes.Equal(encodeSessions(ids), p.Data) {
				t.Fatalf("session list re-encodes differently")
			}
		case PacketSync, PacketFollowerInfo, PacketObserverInfo, PacketAckEpoch, PacketSnapEnd:
			v, err := bytesInt64(p.Data)
			if err != nil {
				if len(p.Data) >= 8 {
					t.Fatalf("%d-byte payload refused", len(p.Data))
				}
				return
			}
			if !bytes.Equal(int64Bytes(v), p.Data[:8]) {
				t.Fatalf("int64 payload re-encodes differently")
			}
		}
	})
}

// FuzzElectionFrame is what an election connection receives: the
// dialer's server id, then notifications.
func FuzzElectionFrame(f *testing.F) {
	f.Add(int64Bytes(2), notification{Vote: Vote{State: Looking, Leader: 2, Zxid: 0x100000003, ElectionEpoch: 4, PeerEpoch: 1}}.marshal())
	f.Add(int64Bytes(-1), notification{Vote: Vote{State: Observing, Leader: 3, Zxid: -1, ElectionEpoch: 0, PeerEpoch: -1}}.marshal())
	f.Add([]byte{1}, []byte{0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, first, b []byte) {
		if from, err := bytesInt64(first); err == nil {
			if !bytes.Equal(int64Bytes(from), first[:8]) {
				t.Fatalf("server id re-encodes differently")
			}
		} else if len(first) >= 8 {
			t.Fatalf("%d-byte server id refused", len(first))
		}
		n, err := unmarshalNotification(7, b)
		if err != nil {
			return
		}
		if n.State < Looking || n.State > Observing {
			t.Fatalf("notification with state %d accepted", n.State)
		}
		if !bytes.Equal(n.marshal(), b[:notificationLen]) {
			t.Fatalf("notification re-encodes differently")
		}
	})
}

// bytesConn is a net.Conn that reads from a byte slice.
type bytesConn struct {
	r io.Reader
	net.Conn
}

func (c *bytesConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *bytesConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *bytesConn) Close() error                { return nil }
func (c *bytesConn) SetDeadline(time.Time) error { return nil }

// FuzzStreamRecv feeds arbitrary bytes to the framing of the quorum and
// election channels: frames come out in order, each at most MaxFrame,
// never more bytes than came in, and a length prefix larger than the data
// behind it costs no allocation of that length.
func FuzzStreamRecv(f *testing.F) {
	var seed bytes.Buffer
	for _, fr := range [][]byte{Packet{Type: PacketAck, Zxid: 3}.Marshal(), int64Bytes(2), {}} {
		seed.Write(binary.BigEndian.AppendUint32(nil, uint32(len(fr))))
		seed.Write(fr)
	}
	f.Add(seed.Bytes())
	f.Add([]byte{0x00, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Add([]byte{0x01, 0x00, 0x00, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := NewStreamConn(&bytesConn{r: bytes.NewReader(b)})
		total := 0
		for {
			fr, err := c.Recv()
			if err != nil {
				break
			}
			if len(fr) > MaxFrame {
				t.Fatalf("frame of %d bytes", len(fr))
			}
			total += 4 + len(fr)
		}
		if total > len(b) {
			t.Fatalf("%d bytes of frames from %d bytes of input", total, len(b))
		}
		runtime.ReadMemStats(&after)
		// The reader's own buffers (64 KiB each way) plus what came in.
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(4*len(b)+1<<20); got > limit {
			t.Fatalf("reading %d bytes allocated %d bytes", len(b), got)
		}
	})
}

// FuzzQuorumAuthCheck feeds arbitrary frames to the accepting side of a
// member's login (quorum.auth.*): it ends without a panic, never lets in
// a peer that did not prove a password (the nonce is random, so no input
// can), and lets one through without a login only when logins are not
// required, its first frame intact.
func FuzzQuorumAuthCheck(f *testing.F) {
	frames := func(fs ...[]byte) []byte {
		var b bytes.Buffer
		for _, fr := range fs {
			b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(fr))))
			b.Write(fr)
		}
		return b.Bytes()
	}
	f.Add(true, frames(marshalAuth(authInProgress, []byte{}), marshalAuth(authInProgress,
		[]byte(`charset=utf-8,username="zk1",realm="zk-quorum-sasl-md5",nonce="x",nc=00000001,cnonce="y",digest-uri="zookeeper-quorum/zk-quorum-sasl-md5",maxbuf=65536,response=0123456789abcdef0123456789abcdef,qop=auth`))))
	f.Add(false, frames(int64Bytes(2)))
	f.Add(true, frames(marshalAuth(authSuccess, nil)))
	f.Add(false, []byte{0, 0, 0, 8, 0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc})
	f.Fuzz(func(t *testing.T, require bool, b []byte) {
		a := &QuorumAuth{ServerRequire: require, LearnerRequire: true, Users: map[string]string{"zk1": "pw"}}
		c := newStreamConn(&bytesConn{r: bytes.NewReader(b)})
		out, user, err := a.check(c, func() []string { return []string{"127.0.0.1"} })
		if err != nil {
			return
		}
		if user != "" {
			t.Fatalf("logged in as %q from fuzz input", user)
		}
		if require {
			t.Fatal("let a peer through without a login while logins are required")
		}
		fr, err := out.Recv()
		if err != nil || isAuth(fr) {
			t.Fatalf("first frame after no login: %q, %v", fr, err)
		}
	})
}
