package server

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
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
//	long zxid, int digestVersion, long digest: the tree's digest when the
//	  walk ended, and the last zxid applied then (absent in snapshots of
//	  zkgo before it; readers before it stop at the end marker; version 0
//	  when the tree kept no digest)
const snapshotVersion = 2

// encodeSnapshot writes the tree and sessions as they are; the caller
// holds the tree lock.
func (s *Server) encodeSnapshot(w io.Writer) error {
	return s.writeSnapshotBody(w, func(node func(string, *tree.Node) error, _ func() error) error {
		return s.tree.Walk(node)
	}, s.currentDigest)
}

// currentDigest is the last zxid applied and the tree's digest; the caller
// holds the tree lock. A tree that keeps no digest (digest.enabled=false)
// gives version 0, which no reader compares.
func (s *Server) currentDigest() ZxidDigest {
	if !s.tree.KeepsDigest() {
		return ZxidDigest{Zxid: s.lastZxid.Load()}
	}
	return ZxidDigest{Zxid: s.lastZxid.Load(), Version: tree.DigestVersion, Digest: s.tree.Digest()}
}

// fuzzyChunk is how many znodes a fuzzy snapshot encodes per hold of the
// tree's read lock, 256 when zero (settable so that tests can make
// snapshots of small trees fuzzy too, while servers run: atomic).
var fuzzyChunk atomic.Int32

// fuzzyYield, when set (by tests), runs each time a fuzzy snapshot gives
// up the tree lock.
var fuzzyYield atomic.Pointer[func(*Server)]

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
		chunk := int(fuzzyChunk.Load())
		if chunk == 0 {
			chunk = 256
		}
		return s.tree.WalkFuzzy(chunk, node, func() error {
			select {
			case <-s.quit:
				return errSnapshotAborted
			default:
			}
			if yield := fuzzyYield.Load(); yield != nil {
				(*yield)(s)
			}
			return between()
		})
	}, func() ZxidDigest {
		s.tree.RLock()
		defer s.tree.RUnlock()
		return s.currentDigest()
	})
}

// snapFlushAt is the size at which the encoder hands its buffer to w.
const snapFlushAt = 1 << 16

// writeSnapshotBody encodes the sessions and then the znodes walk gives
// it; walk calls between (when it has such points) where the encoder may
// write to w without holding the tree lock. end gives the digest the
// snapshot ends with, once the walk is over.
func (s *Server) writeSnapshotBody(w io.Writer, walk func(node func(string, *tree.Node) error, between func() error) error, end func() ZxidDigest) error {
	return encodeSnapshotBody(w, s.sessions.list(), func(node func(string, *tree.Node, []wire.ACL) error, between func() error) error {
		return walk(func(path string, n *tree.Node) error { return node(path, n, s.tree.ACL(n)) }, between)
	}, func() *ZxidDigest {
		d := end()
		return &d
	})
}

// encodeSnapshotBody writes a snapshot body (the layout above) of the
// sessions and the znodes walk gives node, each with its ACL; walk calls
// between where the encoder may write to w. end gives the digest the body
// ends with, nil for none.
func encodeSnapshotBody(w io.Writer, sessions []SessionInfo, walk func(node func(string, *tree.Node, []wire.ACL) error, between func() error) error, end func() *ZxidDigest) error {
	e := wire.NewEncoder(make([]byte, 0, 2*snapFlushAt))
	flush := func() error {
		if _, err := w.Write(e.Bytes()); err != nil {
			return err
		}
		e.Reset()
		return nil
	}
	e.Int(snapshotVersion)
	e.Int(int32(len(sessions)))
	for _, si := range sessions {
		e.Long(si.ID)
		e.Int(int32(si.Timeout / time.Millisecond))
	}
	node := func(path string, n *tree.Node, acl []wire.ACL) error {
		e.String(path)
		e.Buffer(n.Data)
		wire.EncodeACLs(e, acl)
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
	if d := end(); d != nil {
		e.Long(d.Zxid)
		e.Int(d.Version)
		e.Long(d.Digest)
	}
	return flush()
}

// decodeSnapshot restores the tree and sessions from a snapshot body,
// read from r a record at a time: the body, as large as the tree's
// content, is never held whole in memory.
func (s *Server) decodeSnapshot(r io.Reader) error {
	rr := recordReader{r: r}
	var version int32
	if err := rr.next(func(d *wire.Decoder) { version = d.Int() }); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if version != 1 && version != snapshotVersion {
		return fmt.Errorf("snapshot: unknown version %d", version)
	}
	type session struct {
		id int64
		to int32
	}
	var sessions []session
	err := rr.next(func(d *wire.Decoder) {
		n := d.VectorLen(12)
		sessions = sessions[:0]
		for i := 0; i < n && d.Err() == nil; i++ {
			sessions = append(sessions, session{d.Long(), d.Int()})
		}
	})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for _, se := range sessions {
		s.sessions.add(se.id, time.Duration(se.to)*time.Millisecond)
	}
	t := s.newTree()
	var nodes []tree.Restoring
	for end := false; !end; {
		var path string
		var node *tree.Node
		var acl []wire.ACL
		err := rr.next(func(d *wire.Decoder) {
			p, ok := d.NullableString()
			if !ok {
				end = d.Err() == nil
				return
			}
			n := &tree.Node{Data: d.Buffer()}
			a := wire.DecodeACLs(d)
			n.Czxid = d.Long()
			n.Mzxid = d.Long()
			n.Pzxid = d.Long()
			n.Ctime = d.Long()
			n.Mtime = d.Long()
			n.Version = d.Int()
			n.Cversion = d.Int()
			n.Aversion = d.Int()
			n.Owner = d.Long()
			path, node, acl = p, n, a
		})
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if end {
			// The digest the snapshot ends with, when it has one.
			var zd ZxidDigest
			err := rr.next(func(d *wire.Decoder) {
				zd = ZxidDigest{Zxid: d.Long(), Version: d.Int(), Digest: d.Long()}
			})
			switch {
			case err == nil:
				s.digests.expect(&zd)
			case errors.Is(err, wire.ErrShort) && rr.atEnd():
				s.digests.expect(nil) // written before snapshots had one
			default:
				return fmt.Errorf("snapshot: digest: %w", err)
			}
			// Read to the end of r all the same: the store's reader
			// checks the body's checksum there.
			if err := rr.drain(); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			break
		}
		if wire.CheckStoredPath(path) != nil {
			return fmt.Errorf("snapshot: invalid path %q", path)
		}
		t.GiveACL(node, acl)
		nodes = append(nodes, tree.Restoring{Path: path, Node: node})
	}
	if dropped := t.RestoreAll(nodes); dropped > 0 {
		// A fuzzy snapshot caught them after their parent was deleted;
		// the txns after it delete them again.
		s.log.Debug("snapshot: left out znodes whose parent it does not hold", "znodes", dropped)
	}
	s.tree = t
	return nil
}

// recordChunk is how much of a snapshot recordReader reads at a time.
const recordChunk = 1 << 20

// recordReader decodes a stream of jute records through one buffer: a
// record cut off at the buffer's end is decoded again once more of the
// stream is in, and a record larger than the buffer grows it.
type recordReader struct {
	r        io.Reader
	buf      []byte
	off, end int // the unread bytes are buf[off:end]
	eof      bool
	d        wire.Decoder
}

// next calls decode on the unread bytes and consumes what it read. decode
// must leave no trace until it has read a whole record: when it runs out
// of bytes (wire.ErrShort) before the stream's end, it is called again
// from the same record's start with more bytes.
func (rr *recordReader) next(decode func(*wire.Decoder)) error {
	for {
		rr.d.Reset(rr.buf[rr.off:rr.end])
		decode(&rr.d)
		err := rr.d.Err()
		if err == nil {
			rr.off += rr.d.Offset()
			return nil
		}
		if !errors.Is(err, wire.ErrShort) || rr.eof {
			return err
		}
		if err := rr.fill(); err != nil {
			return err
		}
	}
}

// atEnd reports whether the stream ended with nothing unread.
func (rr *recordReader) atEnd() bool { return rr.eof && rr.off == rr.end }

// drain reads what is left of the stream, unread.
func (rr *recordReader) drain() error {
	if rr.eof {
		return nil
	}
	_, err := io.Copy(io.Discard, rr.r)
	return err
}

// fill moves the unread bytes to the front of the buffer, doubling it if
// they fill it, and reads until the buffer is full or the stream ends.
func (rr *recordReader) fill() error {
	n := copy(rr.buf, rr.buf[rr.off:rr.end])
	rr.off, rr.end = 0, n
	if n == len(rr.buf) {
		rr.buf = append(rr.buf, make([]byte, max(recordChunk, len(rr.buf)))...)
		rr.buf = rr.buf[:cap(rr.buf)]
	}
	m, err := io.ReadFull(rr.r, rr.buf[n:])
	rr.end += m
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		rr.eof = true
	case err != nil:
		return err
	}
	return nil
}
