package txn

import (
	"encoding/binary"
	"fmt"

	"github.com/zkgo/zkgo/server/wire"
)

// Txn types. They reuse the client opcodes, as Apache's TxnHeader.type does.
const (
	TypeCreate          = wire.OpCreate
	TypeDelete          = wire.OpDelete
	TypeSetData         = wire.OpSetData
	TypeSetACL          = wire.OpSetACL
	TypeCheck           = wire.OpCheck
	TypeMulti           = wire.OpMulti
	TypeCreateContainer = wire.OpCreateContainer
	TypeDeleteContainer = wire.OpDeleteContainer
	TypeCreateTTL       = wire.OpCreateTTL
	TypeCreateSession   = wire.OpCreateSession
	TypeCloseSession    = wire.OpCloseSession
	TypeError           = wire.OpError
)

// Header identifies a txn: who asked (session, cxid), when (the leader's
// clock) and its place in history (zxid).
type Header struct {
	SessionID int64
	Cxid      int32
	Zxid      int64
	Time      int64 // ms since the epoch
	Type      int32
}

// Txn is one committed state change. Exactly one body field matches Type;
// a multi holds its ops in Ops, each an own Txn without header fields.
type Txn struct {
	Header
	Path           string
	Data           []byte
	ACL            []wire.ACL
	Version        int32 // setData: new version; setACL: new aversion; check: expected
	EphemeralOwner int64 // create: raw owner (session id, container or TTL marker)
	ParentCVersion int32 // create: parent's stored cversion after this create
	Timeout        int32 // createSession
	Err            wire.Code
	Ops            []Txn // multi
	// Paths (closeSession) are the session's ephemerals when the txn was
	// prepped, as Apache's CloseSessionTxn.paths2Delete: a replay over a
	// fuzzy snapshot that no longer holds one still raises its parent's
	// pzxid. Nil in txns logged before zkgo recorded them.
	Paths []string
}

// Encode appends the txn (header and body) to e.
func (t *Txn) Encode(e *wire.Encoder) {
	e.Long(t.SessionID)
	e.Int(t.Cxid)
	e.Long(t.Zxid)
	e.Long(t.Time)
	t.encodeBody(e)
}

func (t *Txn) encodeBody(e *wire.Encoder) {
	e.Int(t.Type)
	switch t.Type {
	case TypeCreate, TypeCreateContainer, TypeCreateTTL:
		e.String(t.Path)
		e.Buffer(t.Data)
		wire.EncodeACLs(e, t.ACL)
		e.Long(t.EphemeralOwner)
		e.Int(t.ParentCVersion)
	case TypeDelete, TypeDeleteContainer:
		e.String(t.Path)
	case TypeSetData:
		e.String(t.Path)
		e.Buffer(t.Data)
		e.Int(t.Version)
	case TypeReconfig:
		e.Buffer(t.Data)
	case TypeSetACL:
		e.String(t.Path)
		wire.EncodeACLs(e, t.ACL)
		e.Int(t.Version)
	case TypeCheck:
		e.String(t.Path)
		e.Int(t.Version)
	case TypeCreateSession:
		e.Int(t.Timeout)
	case TypeCloseSession:
		if t.Paths != nil {
			e.Strings(t.Paths)
		}
	case TypeError:
		e.Int(int32(t.Err))
	case TypeMulti:
		e.Int(int32(len(t.Ops)))
		for i := range t.Ops {
			t.Ops[i].encodeBody(e)
		}
	}
}

// Decode reads a txn written by Encode.
func (t *Txn) Decode(d *wire.Decoder) {
	t.SessionID = d.Long()
	t.Cxid = d.Int()
	t.Zxid = d.Long()
	t.Time = d.Long()
	t.decodeBody(d, 0)
}

func (t *Txn) decodeBody(d *wire.Decoder, depth int) {
	t.Type = d.Int()
	switch t.Type {
	case TypeCreate, TypeCreateContainer, TypeCreateTTL:
		t.Path = d.String()
		t.Data = d.Buffer()
		t.ACL = wire.DecodeACLs(d)
		t.EphemeralOwner = d.Long()
		t.ParentCVersion = d.Int()
	case TypeDelete, TypeDeleteContainer:
		t.Path = d.String()
	case TypeSetData:
		t.Path = d.String()
		t.Data = d.Buffer()
		t.Version = d.Int()
	case TypeReconfig:
		t.Path = ConfigNode
		t.Data = d.Buffer()
	case TypeSetACL:
		t.Path = d.String()
		t.ACL = wire.DecodeACLs(d)
		t.Version = d.Int()
	case TypeCheck:
		t.Path = d.String()
		t.Version = d.Int()
	case TypeCreateSession:
		t.Timeout = d.Int()
	case TypeCloseSession:
		// A txn is a whole log entry or packet body: what follows the type
		// of a top-level closeSession is its path list (absent in txns
		// logged before it was recorded).
		if depth == 0 && d.Remaining() > 0 {
			t.Paths = d.Strings()
		}
	case TypeError:
		t.Err = wire.Code(d.Int())
	case TypeMulti:
		if depth > 0 {
			d.Int()
			return
		}
		n := d.VectorLen(4)
		// Sized once for up to 1024 ops (a multi of 1,000 creates grew
		// this slice ten times); a bogus count in a short frame cannot
		// make it allocate more than that. Each op is decoded in place.
		t.Ops = make([]Txn, 0, min(max(n, 0), 1024))
		for i := 0; i < n && d.Err() == nil; i++ {
			t.Ops = append(t.Ops, Txn{})
			t.Ops[i].decodeBody(d, depth+1)
		}
	}
}

// Marshal encodes t into a new slice, sized so that it never grows.
func (t *Txn) Marshal() []byte {
	e := wire.NewEncoder(make([]byte, 0, 28+t.bodySize()))
	t.Encode(e)
	return e.Bytes()
}

// ApacheSize is the size of t as Apache ZooKeeper serializes it (its
// TxnHeader and record, as in its proposals and txn logs), which differs
// from Marshal's where zkgo's records differ: a create keeps its owner,
// not an ephemeral flag; a container keeps one too; a multi's ops are not
// wrapped as buffers; a reconfig holds only the new config, not a
// SetDataTxn of /zookeeper/config; a closeSession always has its paths.
func (t *Txn) ApacheSize() int {
	return 28 + 4 + t.apacheRecordSize() // session id, cxid, zxid, time, type
}

func (t *Txn) apacheRecordSize() int {
	str := func(s string) int { return 4 + len(s) }
	buf := func(b []byte) int { return 4 + len(b) }
	acls := func() int {
		n := 4
		for _, a := range t.ACL {
			n += 4 + str(a.ID.Scheme) + str(a.ID.ID)
		}
		return n
	}
	switch t.Type {
	case TypeCreate: // CreateTxn: path, data, acl, boolean ephemeral, int parentCVersion
		return str(t.Path) + buf(t.Data) + acls() + 1 + 4
	case TypeCreateContainer: // CreateContainerTxn: path, data, acl, int parentCVersion
		return str(t.Path) + buf(t.Data) + acls() + 4
	case TypeCreateTTL: // CreateTTLTxn: path, data, acl, int parentCVersion, long ttl
		return str(t.Path) + buf(t.Data) + acls() + 4 + 8
	case TypeDelete, TypeDeleteContainer:
		return str(t.Path)
	case TypeSetData:
		return str(t.Path) + buf(t.Data) + 4
	case TypeReconfig: // SetDataTxn of /zookeeper/config
		return str("/zookeeper/config") + buf(t.Data) + 4
	case TypeSetACL:
		return str(t.Path) + acls() + 4
	case TypeCheck:
		return str(t.Path) + 4
	case TypeCreateSession, TypeError:
		return 4
	case TypeCloseSession: // CloseSessionTxn: vector<ustring> paths2Delete
		n := 4
		for _, p := range t.Paths {
			n += str(p)
		}
		return n
	case TypeMulti: // MultiTxn: vector<Txn {int type, buffer data}>
		n := 4
		for i := range t.Ops {
			n += 4 + 4 + t.Ops[i].apacheRecordSize()
		}
		return n
	}
	return 0
}

// bodySize bounds the bytes encodeBody writes.
func (t *Txn) bodySize() int {
	n := 32 + len(t.Path) + len(t.Data)
	for _, a := range t.ACL {
		n += 12 + len(a.ID.Scheme) + len(a.ID.ID)
	}
	for _, p := range t.Paths {
		n += 4 + len(p)
	}
	for i := range t.Ops {
		n += t.Ops[i].bodySize()
	}
	return n
}

// TimeOf is the time (ms since the epoch, the leader's clock) of the
// encoded txn b, read without decoding the rest; false when b is too
// short to hold one.
func TimeOf(b []byte) (int64, bool) {
	if len(b) < 28 { // session id, cxid, zxid, time
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[20:28])), true
}

// Unmarshal decodes a txn from b.
func Unmarshal(b []byte) (*Txn, error) {
	t := &Txn{}
	d := wire.NewDecoder(b)
	t.Decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode txn: %w", err)
	}
	return t, nil
}
