// Package apachefile reads Apache ZooKeeper 3.8's data files, so that
// zkserver can take over a data directory Apache wrote (zkserver convert):
// snapshots (FileSnap: snapshot.<zxid>) and txn logs (FileTxnLog:
// log.<first zxid>), in the jute encoding of the rest of the protocol.
//
// A snapshot is
//
//	FileHeader {int magic "ZKSN", int version 2, long dbid}
//	int sessions; sessions × {long id, int timeoutMs}
//	int acls; acls × {long index, vector<ACL>}   (ReferenceCountedACLCache)
//	nodes × {ustring path, buffer data, long acl index,
//	         StatPersisted {long czxid, mzxid, ctime, mtime,
//	                        int version, cversion, aversion,
//	                        long ephemeralOwner, pzxid}}
//	ustring "/"                                   (the end of the nodes)
//	long Adler32 of all the bytes before it, ustring "/"
//	[long zxid, int digestVersion, long digest, long Adler32, ustring "/"]
//
// where the root's path is "" and the ACL index -1 stands for
// world:anyone with every permission. A txn log is
//
//	FileHeader {int magic "ZKLG", int version 2, long dbid}
//	records × {long Adler32 of the entry, buffer entry, byte 'B'}
//	zeros (the preallocated rest of the file)
//
// where an entry is a TxnHeader {long clientId, int cxid, long zxid, long
// time, int type}, the txn record of that type, and the TxnDigest
// {int version, long digest} when digests are on (ignored here).
package apachefile

import (
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/wire"
)

const (
	snapMagic = 0x5a4b534e // "ZKSN"
	logMagic  = 0x5a4b4c47 // "ZKLG"
	// openACL is the ACL cache's index of world:anyone:cdrwa.
	openACL = -1
)

// ErrCorrupt is returned (wrapped, with the file and what failed) for a
// file that does not read as Apache wrote it.
var ErrCorrupt = errors.New("corrupt Apache ZooKeeper data file")

// Session is a session a snapshot holds.
type Session struct {
	ID      int64
	Timeout int32 // ms
}

// Node is a znode of a snapshot, its ACL resolved from the cache.
type Node struct {
	Path string // "/" for the root
	Node *tree.Node
	ACL  []wire.ACL
}

// Digest is the tree digest a snapshot ends with, and the last zxid
// applied when it was taken.
type Digest struct {
	Zxid    int64
	Version int32
	Digest  int64
}

// Snapshot is a snapshot file's content.
type Snapshot struct {
	Path     string
	Zxid     int64 // from the file name: the last zxid applied when it began
	Sessions []Session
	Nodes    []Node
	Digest   *Digest // nil when Apache wrote none (digest.enabled=false)
}

// Files are the Apache data files of a snapshot and a log directory.
type Files struct {
	Snapshots []string // newest first
	Logs      []string // oldest first
}

// Find lists the Apache snapshots in snapDir (the "ZKSN" magic) and txn
// logs in logDir (log.<hex>); directories that do not exist hold none.
func Find(snapDir, logDir string) (Files, error) {
	var f Files
	ents, err := os.ReadDir(snapDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	for _, e := range ents {
		if _, ok := zxidOf(e.Name(), "snapshot."); !ok || !e.Type().IsRegular() {
			continue
		}
		// A snappy one is listed for ReadSnapshot to refuse by name.
		p := filepath.Join(snapDir, e.Name())
		if strings.HasSuffix(p, ".snappy") || IsSnapshot(p) {
			f.Snapshots = append(f.Snapshots, p)
		}
	}
	ents, err = os.ReadDir(logDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	for _, e := range ents {
		if _, ok := zxidOf(e.Name(), "log."); ok && e.Type().IsRegular() {
			f.Logs = append(f.Logs, filepath.Join(logDir, e.Name()))
		}
	}
	byZxid := func(prefix string) func(a, b string) int {
		return func(a, b string) int {
			za, _ := zxidOf(filepath.Base(a), prefix)
			zb, _ := zxidOf(filepath.Base(b), prefix)
			return cmp.Compare(za, zb)
		}
	}
	slices.SortFunc(f.Snapshots, byZxid("snapshot."))
	slices.Reverse(f.Snapshots)
	slices.SortFunc(f.Logs, byZxid("log."))
	return f, nil
}

// zxidOf parses the hex zxid of a file named prefix + hex (a snapshot may
// end in .gz or .snappy: snapshot.compression.method).
func zxidOf(name, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	rest = strings.TrimSuffix(strings.TrimSuffix(rest, ".gz"), ".snappy")
	z, err := strconv.ParseUint(rest, 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(z), true
}

// LogsAfter returns the logs (oldest first, as Find lists them) that may
// hold txns after zxid: a log whose successor starts at zxid+1 or before
// holds none, as Apache's FileTxnLog.getLogFiles reasons.
func LogsAfter(logs []string, zxid int64) []string {
	for len(logs) > 1 {
		next, _ := zxidOf(filepath.Base(logs[1]), "log.")
		if next > zxid+1 {
			break
		}
		logs = logs[1:]
	}
	return logs
}

// IsSnapshot reports whether the file at path starts as an Apache
// snapshot does.
func IsSnapshot(path string) bool {
	r, closeFn, err := open(path)
	if err != nil {
		return false
	}
	defer closeFn()
	magic := make([]byte, 4)
	_, err = io.ReadFull(r, magic)
	return err == nil && string(magic) == "ZKSN"
}

// open opens a data file, decompressing a snapshot named *.gz
// (snapshot.compression.method=gz); closeFn closes it.
func open(path string) (r io.Reader, closeFn func(), err error) {
	if strings.HasSuffix(path, ".snappy") {
		return nil, nil, fmt.Errorf("%s: snappy-compressed snapshots are not supported (snapshot.compression.method=snappy); restart Apache with the default and let it write a snapshot", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, func() { f.Close() }, nil
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	return gz, func() { f.Close() }, nil
}

func readFile(path string) ([]byte, error) {
	r, closeFn, err := open(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return io.ReadAll(r)
}

// ReadSnapshot reads and checks a snapshot file.
func ReadSnapshot(path string) (*Snapshot, error) {
	zxid, ok := zxidOf(filepath.Base(path), "snapshot.")
	if !ok {
		return nil, fmt.Errorf("%s: not a snapshot's name (snapshot.<zxid in hex>)", path)
	}
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseSnapshot(path, zxid, b)
}

// parseSnapshot decodes a snapshot file's bytes.
func parseSnapshot(path string, zxid int64, b []byte) (*Snapshot, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", path, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	d := wire.NewDecoder(b)
	if magic, version := d.Int(), d.Int(); d.Err() != nil || magic != snapMagic || version != 2 {
		return nil, bad("header: magic 0x%x version %d", magic, version)
	}
	d.Long() // dbid
	s := &Snapshot{Path: path, Zxid: zxid}
	n := d.VectorLen(12)
	for i := 0; i < n && d.Err() == nil; i++ {
		s.Sessions = append(s.Sessions, Session{ID: d.Long(), Timeout: d.Int()})
	}
	acls := map[int64][]wire.ACL{openACL: {{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}
	n = d.VectorLen(12)
	for i := 0; i < n && d.Err() == nil; i++ {
		idx := d.Long()
		list := wire.DecodeACLs(d)
		if list == nil && d.Err() == nil {
			return nil, bad("ACL cache entry %d without its list", idx)
		}
		acls[idx] = list
	}
	for d.Err() == nil {
		p := d.String()
		if p == "/" || d.Err() != nil {
			break
		}
		node := &tree.Node{Data: d.Buffer()}
		idx := d.Long()
		node.Czxid, node.Mzxid = d.Long(), d.Long()
		node.Ctime, node.Mtime = d.Long(), d.Long()
		node.Version, node.Cversion, node.Aversion = d.Int(), d.Int(), d.Int()
		node.Owner, node.Pzxid = d.Long(), d.Long()
		if d.Err() != nil {
			break
		}
		acl, ok := acls[idx]
		if !ok {
			return nil, bad("znode %q: ACL index %d is not in the snapshot's ACL cache", p, idx)
		}
		if p == "" {
			p = "/"
		}
		s.Nodes = append(s.Nodes, Node{Path: p, Node: node, ACL: acl})
	}
	if err := seal(d, b); err != nil {
		return nil, bad("%v", err)
	}
	if d.Remaining() >= 20 {
		dg := &Digest{Zxid: d.Long(), Version: d.Int(), Digest: d.Long()}
		if err := seal(d, b); err != nil {
			return nil, bad("digest: %v", err)
		}
		s.Digest = dg
	}
	return s, nil
}

// seal checks SnapStream's seal: the Adler32 of every byte before it, then
// the path "/".
func seal(d *wire.Decoder, b []byte) error {
	if d.Err() != nil {
		return fmt.Errorf("cut short: %v", d.Err())
	}
	sum := int64(adler32.Checksum(b[:d.Offset()]))
	val := d.Long()
	end := d.String()
	if d.Err() != nil {
		return fmt.Errorf("cut short: %v", d.Err())
	}
	if val != sum || end != "/" {
		return fmt.Errorf("checksum 0x%x, the content's is 0x%x", val, sum)
	}
	return nil
}

// ReadLog calls fn for each txn of the log file at path, in order. It stops
// at the end of what was written: the preallocated zeros, or a last record
// cut short by a crash (torn reports it, as Apache takes it for the end of
// the log too). A record whose checksum does not match is ErrCorrupt.
func ReadLog(path string, fn func(*txn.Txn) error) (torn bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return parseLog(path, b, fn)
}

// parseLog decodes a txn log file's bytes.
func parseLog(path string, b []byte, fn func(*txn.Txn) error) (torn bool, err error) {
	bad := func(off int, format string, args ...any) error {
		return fmt.Errorf("%s at offset %d: %w: %s", path, off, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(b) < 16 || binary.BigEndian.Uint32(b) != logMagic || binary.BigEndian.Uint32(b[4:]) != 2 {
		return false, bad(0, "not an Apache txn log header")
	}
	for off := 16; ; {
		if len(b)-off < 12 {
			// Not even a record's checksum and length: the end, torn
			// unless only zeros are left.
			return !allZero(b[off:]), nil
		}
		crc := int64(binary.BigEndian.Uint64(b[off:]))
		n := int(int32(binary.BigEndian.Uint32(b[off+8:])))
		if n == 0 {
			return crc != 0, nil // the preallocated rest (or a record torn there)
		}
		start := off + 12
		if n < 0 || n >= len(b)-start || b[start+n] != 'B' {
			return true, nil // a record cut short by a crash
		}
		entry := b[start : start+n]
		if sum := adler32.Checksum(entry); int64(sum) != crc {
			return false, bad(off, "checksum 0x%x, the entry's is 0x%x", crc, sum)
		}
		t, err := DecodeTxn(entry)
		if err != nil {
			return false, bad(off, "%v", err)
		}
		if err := fn(t); err != nil {
			return false, err
		}
		off = start + n + 1
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// DecodeTxn decodes a log entry (TxnHeader and record) into zkgo's txn.
func DecodeTxn(b []byte) (*txn.Txn, error) {
	d := wire.NewDecoder(b)
	t := &txn.Txn{}
	t.SessionID, t.Cxid, t.Zxid, t.Time = d.Long(), d.Int(), d.Long(), d.Long()
	typ := d.Int()
	if err := decodeBody(d, t, typ, 0); err != nil {
		return nil, fmt.Errorf("txn 0x%x: %w", t.Zxid, err)
	}
	if d.Err() != nil {
		return nil, fmt.Errorf("txn 0x%x: %v", t.Zxid, d.Err())
	}
	return t, nil
}

// decodeBody decodes the record of a txn of Apache's type typ into t (its
// header set), as SerializeUtils.deserializeTxn and, inside a multi,
// DataTree.processTxn read them.
func decodeBody(d *wire.Decoder, t *txn.Txn, typ int32, depth int) error {
	switch typ {
	case wire.OpCreate, wire.OpCreate2: // CreateTxn
		t.Type = txn.TypeCreate
		t.Path, t.Data, t.ACL = d.String(), d.Buffer(), wire.DecodeACLs(d)
		if d.Bool() {
			t.EphemeralOwner = t.SessionID
		}
		t.ParentCVersion = d.Int()
	case wire.OpCreateTTL: // CreateTTLTxn
		t.Type = txn.TypeCreateTTL
		t.Path, t.Data, t.ACL = d.String(), d.Buffer(), wire.DecodeACLs(d)
		t.ParentCVersion = d.Int()
		t.EphemeralOwner = tree.TTLOwner(d.Long())
	case wire.OpCreateContainer: // CreateContainerTxn
		t.Type = txn.TypeCreateContainer
		t.Path, t.Data, t.ACL = d.String(), d.Buffer(), wire.DecodeACLs(d)
		t.ParentCVersion = d.Int()
		t.EphemeralOwner = tree.ContainerOwner
	case wire.OpDelete, wire.OpDeleteContainer: // DeleteTxn
		t.Type = typ
		t.Path = d.String()
	case wire.OpSetData, wire.OpReconfig: // SetDataTxn (a reconfig sets /zookeeper/config)
		t.Type = txn.TypeSetData
		t.Path, t.Data, t.Version = d.String(), d.Buffer(), d.Int()
	case wire.OpSetACL: // SetACLTxn
		t.Type = txn.TypeSetACL
		t.Path, t.ACL, t.Version = d.String(), wire.DecodeACLs(d), d.Int()
	case wire.OpCheck: // CheckVersionTxn
		t.Type = txn.TypeCheck
		t.Path, t.Version = d.String(), d.Int()
	case wire.OpCreateSession: // CreateSessionTxn
		t.Type = txn.TypeCreateSession
		t.Timeout = d.Int()
	case wire.OpCloseSession: // CloseSessionTxn (closeSessionTxn.enabled, on by default)
		t.Type = txn.TypeCloseSession
		if d.Remaining() >= 4 {
			t.Paths = d.Strings()
		}
	case wire.OpError: // ErrorTxn
		t.Type = txn.TypeError
		t.Err = wire.Code(d.Int())
	case wire.OpMulti: // MultiTxn: vector<Txn {int type, buffer data}>
		if depth > 0 {
			return errors.New("a multi inside a multi")
		}
		t.Type = txn.TypeMulti
		n := d.VectorLen(8)
		for i := 0; i < n && d.Err() == nil; i++ {
			subType := d.Int()
			sub := txn.Txn{Header: t.Header}
			if err := decodeBody(wire.NewDecoder(d.Buffer()), &sub, subType, depth+1); err != nil {
				return fmt.Errorf("op %d: %w", i, err)
			}
			t.Ops = append(t.Ops, sub)
		}
	default:
		return fmt.Errorf("unknown txn type %d", typ)
	}
	return d.Err()
}
