package zab

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PacketType is the type of a quorum packet. The numbers are Apache
// ZooKeeper's (Leader.java); the bytes on the wire are zkgo's own, since a
// zkgo ensemble has only zkgo members.
type PacketType int32

// Quorum packet types.
const (
	PacketRequest      PacketType = 1  // learner→leader: forwarded client request
	PacketProposal     PacketType = 2  // leader→follower: zxid, txn
	PacketAck          PacketType = 3  // follower→leader: everything up to zxid is logged
	PacketCommit       PacketType = 4  // leader→follower: everything up to zxid is committed
	PacketPing         PacketType = 5  // both: heartbeat; learner's carries touched sessions, leader's its digests
	PacketRevalidate   PacketType = 6  // both: session move check (reserved)
	PacketSync         PacketType = 7  // learner→leader: sync request id; leader→learner: id + committed zxid
	PacketInform       PacketType = 8  // leader→observer: committed txn
	PacketNewLeader    PacketType = 10 // leader→learner: end of the sync stream, zxid = epoch<<32
	PacketFollowerInfo PacketType = 11 // follower→leader: zxid = acceptedEpoch<<32, data = sid
	PacketUpToDate     PacketType = 12 // leader→learner: start serving
	PacketDiff         PacketType = 13 // leader→learner: proposals follow, zxid = last of them
	PacketTrunc        PacketType = 14 // leader→learner: truncate the log after zxid, proposals follow
	PacketSnap         PacketType = 15 // leader→learner: snapshot at zxid follows in SnapChunks
	PacketObserverInfo PacketType = 16 // observer→leader: like FOLLOWERINFO
	PacketLeaderInfo   PacketType = 17 // leader→learner: zxid = newEpoch<<32
	PacketAckEpoch     PacketType = 18 // learner→leader: zxid = last logged, data = currentEpoch or -1
	// PacketSnapChunk carries a piece of the snapshot after SNAP (zxid =
	// offset); PacketSnapEnd ends it (zxid = the snapshot's zxid, data =
	// its length). Apache streams the snapshot raw, then "BenWasHere".
	PacketSnapChunk PacketType = 100
	PacketSnapEnd   PacketType = 101
)

var packetNames = map[PacketType]string{
	PacketRequest: "REQUEST", PacketProposal: "PROPOSAL", PacketAck: "ACK",
	PacketCommit: "COMMIT", PacketPing: "PING", PacketRevalidate: "REVALIDATE",
	PacketSync: "SYNC", PacketInform: "INFORM", PacketNewLeader: "NEWLEADER",
	PacketFollowerInfo: "FOLLOWERINFO", PacketUpToDate: "UPTODATE",
	PacketDiff: "DIFF", PacketTrunc: "TRUNC", PacketSnap: "SNAP",
	PacketObserverInfo: "OBSERVERINFO", PacketLeaderInfo: "LEADERINFO",
	PacketAckEpoch: "ACKEPOCH", PacketSnapChunk: "SNAPCHUNK", PacketSnapEnd: "SNAPEND",
}

func (t PacketType) String() string {
	if s, ok := packetNames[t]; ok {
		return s
	}
	return fmt.Sprintf("PacketType(%d)", int32(t))
}

// Packet is one quorum message: Apache's QuorumPacket without authinfo
// (the server carries auth inside its opaque request bytes).
type Packet struct {
	Type PacketType
	Zxid int64
	Data []byte
}

const packetHeaderLen = 12

// MaxFrame bounds one frame on the quorum and election channels. Requests
// are bounded by jute.maxbuffer and snapshots are chunked, so 16 MiB is
// plenty; a larger length is a protocol error, never an allocation.
const MaxFrame = 16 << 20

// errBadPacket marks undecodable input from the network.
var errBadPacket = errors.New("bad quorum packet")

// Marshal encodes p: int32 type, int64 zxid, data (the frame carries the
// length).
func (p Packet) Marshal() []byte {
	return p.AppendTo(make([]byte, 0, packetHeaderLen+len(p.Data)))
}

// AppendTo appends the packet's frame (as Marshal makes it) to b.
func (p Packet) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(p.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Zxid))
	return append(b, p.Data...)
}

// UnmarshalPacket decodes a frame produced by Marshal. Data aliases b.
func UnmarshalPacket(b []byte) (Packet, error) {
	if len(b) < packetHeaderLen {
		return Packet{}, fmt.Errorf("%w: %d bytes, need %d", errBadPacket, len(b), packetHeaderLen)
	}
	return Packet{
		Type: PacketType(binary.BigEndian.Uint32(b)),
		Zxid: int64(binary.BigEndian.Uint64(b[4:])),
		Data: b[packetHeaderLen:],
	}, nil
}

func (p Packet) String() string {
	return fmt.Sprintf("%s zxid=0x%x len=%d", p.Type, p.Zxid, len(p.Data))
}

// putInt64 / getInt64 encode the small fixed payloads (sid, epoch, sync ids).
func int64Bytes(v int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b
}

func bytesInt64(b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("%w: payload of %d bytes, want 8", errBadPacket, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// encodeSessions / decodeSessions are the payload of a learner's PING: the
// session ids it saw activity for since the last one.
func encodeSessions(ids []int64) []byte {
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], uint64(id))
	}
	return b
}

func decodeSessions(b []byte) ([]int64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%w: session list of %d bytes", errBadPacket, len(b))
	}
	ids := make([]int64, len(b)/8)
	for i := range ids {
		ids[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
	}
	return ids, nil
}

// A leader's (or observer master's) PING data is a flag byte (1: the
// learner may serve) and, when its state machine is a Digester, its
// digests, digestSize bytes each: zxid, version, digest. Members from
// before digests read the flag only.
const digestSize = 20

// pingDigests encodes sm's digests for the PINGs of one round (nil when sm
// keeps none); pingData puts a flag before them.
func pingDigests(sm StateMachine) []byte {
	d, ok := sm.(Digester)
	if !ok {
		return nil
	}
	ds := d.Digests()
	b := make([]byte, 0, digestSize*len(ds))
	for _, x := range ds {
		b = binary.BigEndian.AppendUint64(b, uint64(x.Zxid))
		b = binary.BigEndian.AppendUint32(b, uint32(x.Version))
		b = binary.BigEndian.AppendUint64(b, uint64(x.Digest))
	}
	return b
}

func pingData(serve bool, digests []byte) []byte {
	b := make([]byte, 1, 1+len(digests))
	if serve {
		b[0] = 1
	}
	return append(b, digests...)
}

// checkPingDigests hands the digests of a PING from the leader (or an
// observer master) to sm, when it is a Digester; bytes short of a whole
// digest are ignored.
func checkPingDigests(sm StateMachine, data []byte) {
	d, ok := sm.(Digester)
	if !ok || len(data) < 1 {
		return
	}
	for b := data[1:]; len(b) >= digestSize; b = b[digestSize:] {
		d.CheckDigest(Digest{
			Zxid:    int64(binary.BigEndian.Uint64(b)),
			Version: int32(binary.BigEndian.Uint32(b[8:])),
			Digest:  int64(binary.BigEndian.Uint64(b[12:])),
		})
	}
}

// Zxid helpers: high 32 bits epoch, low 32 bits counter (ZxidUtils.java).
func zxidEpoch(z int64) int64       { return z >> 32 }
func zxidCounter(z int64) int64     { return z & 0xffffffff }
func makeZxid(epoch, c int64) int64 { return epoch<<32 | c&0xffffffff }
