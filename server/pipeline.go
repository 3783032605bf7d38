package server

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/txn"
)

// writeReq is a write on its way into the pipeline. done runs on the
// applier once the txn is applied, outside the tree lock.
type writeReq struct {
	req  txn.Request
	done func(zxid int64, res txn.Result)
}

// proposal is a prepped txn on its way to the log and the applier.
type proposal struct {
	t    *txn.Txn
	data []byte
	done func(zxid int64, res txn.Result)
}

// submit preps a write and passes it on to the log, in zxid order. The
// prep step runs on the caller's goroutine under prepMu, which saves a
// goroutine hop per write. It reports false when the server is shutting down.
func (s *Server) submit(w *writeReq) bool {
	if s.peer != nil {
		return s.submitQuorum(w)
	}
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	select {
	case <-s.quit:
		return false
	default:
	}
	t, changes := s.prep.Prep(&w.req, time.Now().UnixMilli())
	s.nextZxid++
	t.Zxid = s.nextZxid
	s.prep.Commit(changes, t.Zxid)
	p := &proposal{t: t, data: t.Marshal(), done: w.done}
	select {
	case s.logCh <- p:
		return true
	case <-s.quit:
		return false
	}
}

// maxBatch bounds a group commit.
const maxBatch = 1024

// logLoop group-commits: every proposal waiting when the previous fsync
// finished goes into the next Append, one fsync for all of them.
func (s *Server) logLoop() {
	defer s.wg.Done()
	batch := make([]*proposal, 0, maxBatch)
	entries := make([]storage.Entry, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-s.quit:
			return
		case p := <-s.logCh:
			batch = append(batch, p)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case p := <-s.logCh:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		entries = entries[:0]
		for _, p := range batch {
			entries = append(entries, storage.Entry{Zxid: p.t.Zxid, Data: p.data})
		}
		if err := s.store.Append(entries); err != nil {
			// Nothing of this batch was acknowledged; stop rather than
			// answer writes we cannot keep, as Apache does.
			s.fail(fmt.Errorf("txn log append failed at zxid 0x%x: %w", batch[0].t.Zxid, err))
			return
		}
		out := make([]*proposal, len(batch))
		copy(out, batch)
		select {
		case s.applyCh <- out:
		case <-s.quit:
			return
		}
	}
}

// applyLoop is the only writer of the tree.
func (s *Server) applyLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.quit:
			return
		case batch := <-s.applyCh:
			for _, p := range batch {
				res := s.applyTxn(p.t, true)
				if p.done != nil {
					p.done(p.t.Zxid, res)
				}
			}
			s.maybeSnapshot(len(batch))
		}
	}
}

// applyTxn applies one committed txn: tree, sessions, watches. With live
// set it also acts on connections (closing an expired session's socket).
func (s *Server) applyTxn(t *txn.Txn, live bool) txn.Result {
	s.tree.Lock()
	res, events := txn.Apply(s.tree, t)
	var closed *session
	switch t.Type {
	case txn.TypeCreateSession:
		s.sessions.add(t.SessionID, time.Duration(t.Timeout)*time.Millisecond)
	case txn.TypeCloseSession:
		closed = s.sessions.remove(t.SessionID)
	}
	if live {
		for _, ev := range events {
			s.watches.Trigger(ev.Type, ev.Path)
		}
	}
	s.lastZxid.Store(t.Zxid)
	s.tree.Unlock()
	s.prep.Applied(t.Zxid)
	if live && closed != nil && closed.conn != nil && t.Cxid == 0 {
		// Expired (not closed by its client, whose reply closes the socket).
		closed.conn.close()
	}
	return res
}

// maybeSnapshot takes a snapshot after roughly snapCount txns, randomised
// as Apache does so that the servers of an ensemble do not snapshot at once.
func (s *Server) maybeSnapshot(n int) {
	s.sinceSnap += n
	if s.sinceSnap < s.snapAt {
		return
	}
	if !s.snapping.CompareAndSwap(false, true) {
		return
	}
	s.sinceSnap = 0
	count := s.cfg.SnapCount
	if count < 2 {
		count = 2
	}
	s.snapAt = count/2 + rand.IntN(count/2+1)
	// Serialising in memory on the applier is fast; the file is written in
	// the background so writes keep flowing.
	var buf bytes.Buffer
	zxid := s.lastZxid.Load()
	s.tree.RLock()
	err := s.encodeSnapshot(&buf)
	s.tree.RUnlock()
	if err != nil {
		s.snapping.Store(false)
		s.log.Warn("snapshot encode failed", "err", err)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.snapping.Store(false)
		start := time.Now()
		if err := s.store.WriteSnapshot(zxid, func(w io.Writer) error {
			_, err := w.Write(buf.Bytes())
			return err
		}); err != nil {
			s.log.Warn("snapshot write failed", "zxid", fmt.Sprintf("0x%x", zxid), "err", err)
			return
		}
		s.log.Info("snapshot written", "zxid", fmt.Sprintf("0x%x", zxid), "bytes", buf.Len(), "took", time.Since(start).Round(time.Millisecond))
	}()
}
