package server

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// Snapshot body layout (the store frames it with a checksum):
//
//	int version (2; 1 wrote parents before children, 2 any order)
//	int sessions; sessions × {long id, int timeoutMs}
//	nodes × {ustring path, buffer data, vector<ACL>, long czxid, mzxid,
//	         pzxid, ctime, mtime, int version, cversion, aversion, long owner}
//	ustring null (end marker)
const snapshotVersion = 2

// encodeSnapshot writes the tree and sessions as they are; the caller
// holds the tree lock.
func (s *Server) encodeSnapshot(w io.Writer) error {
	return s.writeSnapshotBody(w, func(node func(string, *tree.Node) error, _ func() error) error {
		return s.tree.Walk(node)
	})
}

// fuzzyChunk is how many znodes a fuzzy snapshot encodes per hold of the
// tree's read lock (a variable so that tests can make snapshots of small
// trees fuzzy too).
var fuzzyChunk = 256

// fuzzyYield, when set (by tests), runs each time a fuzzy snapshot gives
// up the tree lock.
var fuzzyYield func(*Server)

// errSnapshotAborted ends a fuzzy snapshot when the server shuts down.
var errSnapshotAborted = errors.New("server shutting down")

// encodeFuzzySnapshot writes a fuzzy snapshot, as Apache's are: the caller
// holds no lock; the tree is read a chunk of znodes at a time
// (tree.WalkFuzzy) and the applier goes on in between, so a snapshot of a
// large tree does not stall writes. The snapshot is labelled with the
// last zxid applied before it began; recovery replays every txn after that
// label over it, which gives the tree as it was (see tree.WalkFuzzy).
func (s *Server) encodeFuzzySnapshot(w io.Writer) error {
	return s.writeSnapshotBody(w, func(node func(string, *tree.Node) error, between func() error) error {
		return s.tree.WalkFuzzy(fuzzyChunk, node, func() error {
			select {
			case <-s.quit:
				return errSnapshotAborted
			default:
			}
			if fuzzyYield != nil {
				fuzzyYield(s)
			}
			return between()
		})
	})
}

// snapFlushAt is the size at which the encoder hands its buffer to w.
const snapFlushAt = 1 << 16

// writeSnapshotBody encodes the sessions and then the znodes walk gives
// it; walk calls between (when it has such points) where the encoder may
// write to w without holding the tree lock.
func (s *Server) writeSnapshotBody(w io.Writer, walk func(node func(string, *tree.Node) error, between func() error) error) error {
	e := wire.NewEncoder(make([]byte, 0, 2*snapFlushAt))
	flush := func() error {
		if _, err := w.Write(e.Bytes()); err != nil {
			return err
		}
		e.Reset()
		return nil
	}
	e.Int(snapshotVersion)
	sessions := s.sessions.list()
	e.Int(int32(len(sessions)))
	for _, si := range sessions {
		e.Long(si.ID)
		e.Int(int32(si.Timeout / time.Millisecond))
	}
	node := func(path string, n *tree.Node) error {
		e.String(path)
		e.Buffer(n.Data)
		wire.EncodeACLs(e, n.ACL)
		e.Long(n.Czxid)
		e.Long(n.Mzxid)
		e.Long(n.Pzxid)
		e.Long(n.Ctime)
		e.Long(n.Mtime)
		e.Int(n.Version)
		e.Int(n.Cversion)
		e.Int(n.Aversion)
		e.Long(n.Owner)
		// Between points (if any) come often; flush here only what they
		// would let grow too far (large znodes).
		if e.Len() > 16*snapFlushAt {
			return flush()
		}
		return nil
	}
	between := func() error {
		if e.Len() > snapFlushAt {
			return flush()
		}
		return nil
	}
	if err := walk(node, between); err != nil {
		return err
	}
	e.NullString()
	return flush()
}

// decodeSnapshot restores the tree and sessions from a snapshot body.
func (s *Server) decodeSnapshot(body []byte) error {
	d := wire.NewDecoder(body)
	if v := d.Int(); v != 1 && v != snapshotVersion {
		return fmt.Errorf("snapshot: unknown version %d", v)
	}
	n := d.VectorLen(12)
	for i := 0; i < n && d.Err() == nil; i++ {
		id := d.Long()
		to := d.Int()
		s.sessions.add(id, time.Duration(to)*time.Millisecond)
	}
	var nodes []tree.Restoring
	for d.Err() == nil {
		path, ok := d.NullableString()
		if !ok {
			break
		}
		node := &tree.Node{Data: d.Buffer(), ACL: wire.DecodeACLs(d)}
		node.Czxid = d.Long()
		node.Mzxid = d.Long()
		node.Pzxid = d.Long()
		node.Ctime = d.Long()
		node.Mtime = d.Long()
		node.Version = d.Int()
		node.Cversion = d.Int()
		node.Aversion = d.Int()
		node.Owner = d.Long()
		if d.Err() != nil {
			break
		}
		if wire.ValidatePath(path) != nil {
			return fmt.Errorf("snapshot: invalid path %q", path)
		}
		nodes = append(nodes, tree.Restoring{Path: path, Node: node})
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	t := tree.New()
	if dropped := t.RestoreAll(nodes); dropped > 0 {
		// A fuzzy snapshot caught them after their parent was deleted;
		// the txns after it delete them again.
		s.log.Debug("snapshot: left out znodes whose parent it does not hold", "znodes", dropped)
	}
	s.tree = t
	return nil
}
