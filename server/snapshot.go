package server

import (
	"fmt"
	"io"
	"time"

	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// Snapshot body layout (the store frames it with a checksum):
//
//	int version (1)
//	int sessions; sessions × {long id, int timeoutMs}
//	nodes × {ustring path, buffer data, vector<ACL>, long czxid, mzxid,
//	         pzxid, ctime, mtime, int version, cversion, aversion, long owner}
//	ustring null (end marker)
const snapshotVersion = 1

// encodeSnapshot writes the tree and sessions; the caller holds the tree lock.
func (s *Server) encodeSnapshot(w io.Writer) error {
	e := wire.NewEncoder(make([]byte, 0, 1<<16))
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
	err := s.tree.Walk(func(path string, n *tree.Node) error {
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
		if e.Len() > 1<<16 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.NullString()
	return flush()
}

// decodeSnapshot restores the tree and sessions from a snapshot body.
func (s *Server) decodeSnapshot(body []byte) error {
	d := wire.NewDecoder(body)
	if v := d.Int(); v != snapshotVersion {
		return fmt.Errorf("snapshot: unknown version %d", v)
	}
	n := d.VectorLen(12)
	for i := 0; i < n && d.Err() == nil; i++ {
		id := d.Long()
		to := d.Int()
		s.sessions.add(id, time.Duration(to)*time.Millisecond)
	}
	t := tree.New()
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
		if path != "/" && t.Get(wire.Parent(path)) == nil {
			return fmt.Errorf("snapshot: node %s has no parent", path)
		}
		t.Restore(path, node)
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	s.tree = t
	return nil
}
