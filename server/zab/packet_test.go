package zab

import (
	"bytes"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
	}{
		{"proposal", Packet{Type: PacketProposal, Zxid: 0x100000001, Data: proposalData(0, []byte("txn"))}},
		{"empty", Packet{Type: PacketUpToDate}},
		{"negative zxid", Packet{Type: PacketAckEpoch, Zxid: -1, Data: []byte{0xff, 0xff, 0xff, 0xff}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnmarshalPacket(tc.p.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.p.Type || got.Zxid != tc.p.Zxid || !bytes.Equal(got.Data, tc.p.Data) {
				t.Errorf("got %v, want %v", got, tc.p)
			}
		})
	}
	if _, err := UnmarshalPacket(make([]byte, 11)); err == nil {
		t.Error("11-byte packet decoded")
	}
}

func TestPacketNumbersAreApaches(t *testing.T) {
	// Leader.java's constants.
	want := map[PacketType]int32{
		PacketRequest: 1, PacketProposal: 2, PacketAck: 3, PacketCommit: 4, PacketPing: 5,
		PacketRevalidate: 6, PacketSync: 7, PacketInform: 8, PacketNewLeader: 10,
		PacketFollowerInfo: 11, PacketUpToDate: 12, PacketDiff: 13, PacketTrunc: 14,
		PacketSnap: 15, PacketObserverInfo: 16, PacketLeaderInfo: 17, PacketAckEpoch: 18,
	}
	for p, n := range want {
		if int32(p) != n {
			t.Errorf("%s = %d, want %d", p, int32(p), n)
		}
	}
}

func TestNotificationRoundTrip(t *testing.T) {
	n := notification{from: 3, Vote: Vote{State: Following, Leader: 2, Zxid: 0x300000007, ElectionEpoch: 9, PeerEpoch: 3}}
	got, err := unmarshalNotification(3, n.marshal())
	if err != nil || got != n {
		t.Fatalf("got %+v, %v; want %+v", got, err, n)
	}
	bad := n.marshal()
	bad[3] = 9
	if _, err := unmarshalNotification(3, bad); err == nil {
		t.Error("state 9 decoded")
	}
}

func TestSessionsRoundTrip(t *testing.T) {
	ids := []int64{1, -5, 0x7fffffffffffffff}
	got, err := decodeSessions(encodeSessions(ids))
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != -5 || got[2] != ids[2] {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := decodeSessions(make([]byte, 7)); err == nil {
		t.Error("7 bytes decoded as sessions")
	}
}

func FuzzDecodePacket(f *testing.F) {
	f.Add(Packet{Type: PacketProposal, Zxid: 5, Data: []byte("abc")}.Marshal())
	f.Add([]byte{})
	f.Add(make([]byte, notificationLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := UnmarshalPacket(b); err == nil {
			if !bytes.Equal(p.Marshal(), b) {
				t.Errorf("re-encoding differs")
			}
			_, _ = bytesInt64(p.Data)
			_, _ = decodeSessions(p.Data)
		}
		if n, err := unmarshalNotification(1, b); err == nil {
			if m, err := unmarshalNotification(1, n.marshal()); err != nil || m != n {
				t.Errorf("notification round trip: %+v vs %+v (%v)", m, n, err)
			}
		}
	})
}

// digestSM is a StateMachine that is a Digester, for the PING codec.
type digestSM struct {
	StateMachine
	send []Digest
	got  []Digest
}

func (d *digestSM) Digests() []Digest    { return d.send }
func (d *digestSM) CheckDigest(x Digest) { d.got = append(d.got, x) }

// A leader's PING carries the serve flag and its digests; the learner
// gets them back as they were sent. A PING of a member from before
// digests (the flag alone) and bytes short of a digest give none.
func TestPingDigests(t *testing.T) {
	leader := &digestSM{send: []Digest{
		{Zxid: 0x100000080, Version: 2, Digest: 12345678901},
		{Zxid: 0x100000083, Version: 2, Digest: -7},
	}}
	data := pingData(true, pingDigests(leader))
	if data[0] != 1 || len(data) != 1+2*digestSize {
		t.Fatalf("PING data % x", data)
	}
	learner := &digestSM{}
	checkPingDigests(learner, data)
	if len(learner.got) != 2 || learner.got[0] != leader.send[0] || learner.got[1] != leader.send[1] {
		t.Fatalf("learner got %+v, want %+v", learner.got, leader.send)
	}

	learner.got = nil
	checkPingDigests(learner, []byte{0})
	checkPingDigests(learner, nil)
	checkPingDigests(learner, data[:1+digestSize-1])
	if len(learner.got) != 0 {
		t.Fatalf("digests %+v from a PING without a whole one", learner.got)
	}
	if d := pingData(false, pingDigests(&recordingSM{})); len(d) != 1 || d[0] != 0 {
		t.Fatalf("PING data % x of a state machine with no digest, want the flag alone", d)
	}
}
