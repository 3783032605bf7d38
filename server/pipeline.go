package server

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/metric"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/watch"
	"github.com/zkgo/zkgo/server/wire"
)

// writeReq is a write on its way into the pipeline. done runs on the
// applier once the txn is applied, outside the tree lock.
type writeReq struct {
	req  txn.Request
	done func(zxid int64, res txn.Result)
	// conn, when set, is the connection whose reader submits: it may
	// commit the write itself (commitInline).
	conn *conn
}

// proposal is a prepped txn on its way to the log and the applier.
type proposal struct {
	t    *txn.Txn
	data []byte
	done func(zxid int64, res txn.Result)
	conn *conn // the submitting connection, if any
}

// submit preps a write and passes it on to the log, in zxid order. The
// prep step runs on the caller's goroutine under prepMu, which saves a
// goroutine hop per write. It reports false when the server is shutting
// down, or when it refuses a new session because its log cannot be written
// (the handshake then closes the connection).
func (s *Server) submit(w *writeReq) bool {
	if s.peer != nil {
		return s.submitQuorum(w)
	}
	s.prepMu.Lock()
	select {
	case <-s.quit:
		s.prepMu.Unlock()
		return false
	default:
	}
	if s.logFault.refusing.Load() {
		now := time.Now()
		if now.Before(s.logFault.nextProbe) {
			s.prepMu.Unlock()
			return s.refuse(w.req.Type, w.req.SessionID, w.done)
		}
		// This write probes the log: if its append succeeds, writes
		// resume; if not, it is refused like the others.
		s.logFault.nextProbe = now.Add(logProbeInterval)
	}
	t, changes := s.prep.Prep(&w.req, time.Now().UnixMilli())
	s.nextZxid++
	t.Zxid = s.nextZxid
	s.prep.Commit(changes, t.Zxid)
	p := &proposal{t: t, data: t.Marshal(), done: w.done, conn: w.conn}
	if s.mayCommitInline(w.conn) && s.logMu.TryLock() {
		if s.inlineFail == nil && !s.logFault.refusing.Load() {
			s.prepMu.Unlock()
			s.commitInline(p, w.conn)
			return true
		}
		s.logMu.Unlock()
	}
	s.logQueued.Add(1)
	defer s.prepMu.Unlock()
	select {
	case s.logCh <- p:
		return true
	case <-s.quit:
		return false
	}
}

// mayCommitInline reports whether c's reader may commit its write itself
// (commitInline): it is the only request the server has in hand, nothing
// is queued for the log loop, and the last batch applied held only c's
// writes or is over a millisecond old. Right after other clients' writes were
// answered, their next ones are usually on their way: the log loop's group
// commit then batches them with this one (committing it alone cost 10-20%
// of the writes per second with 8 clients). prepMu is held.
func (s *Server) mayCommitInline(c *conn) bool {
	if c == nil || s.inflight.n.Load() > 1 || s.logQueued.Load() > 0 {
		return false
	}
	return s.lastWriter.Load() == c || time.Now().UnixNano()-s.lastWriteAt.Load() > int64(time.Millisecond)
}

// inlineFail is an inline append that failed: the log loop refuses it
// (refuseWrites) with whatever was prepped after it.
type inlineFail struct {
	batch []*proposal
	err   error
}

// commitInline logs, applies and answers a write on its submitter's
// goroutine (c's reader) when it is the only request the server has in
// hand: a lone write then costs no hand-off to the log loop and to c's
// writer goroutine (and, before the log loop applied, to an applier).
// Each hand-off woke a thread for a few microseconds of work; with one
// client writing, zkserver made 9 context
// switches per write and spent ~200 µs of CPU on it, mostly in wake-ups
// and in idle threads spinning, and 3.3 switches and ~75 µs inline, at
// 1.7 times the writes per second. With more requests in hand the log
// loop's group commit is the better path (it batches what arrives while
// it wakes), so this one is taken only then. Writes submitted meanwhile
// queue for the log loop, which logs them after this one. The caller
// holds logMu, taken while it held prepMu with nothing queued for the log
// loop, so this write is the next in zxid order.
func (s *Server) commitInline(p *proposal, c *conn) {
	if err := s.store.Append([]storage.Entry{{Zxid: p.t.Zxid, Data: p.data}}); err != nil {
		s.inlineFail = &inlineFail{batch: []*proposal{p}, err: err}
		s.logMu.Unlock()
		select {
		case s.logKick <- struct{}{}:
		default:
		}
		return
	}
	s.logged = p.t.Zxid
	s.inlined.Add(1)
	s.applyMu.Lock()
	s.logMu.Unlock()
	c.inlineReply = true
	s.applyBatch([]*proposal{p})
	c.inlineReply = false
	s.applyMu.Unlock()
	c.flushInline()
}

// maxBatch bounds a group commit.
const maxBatch = 1024

// logLoop group-commits: every proposal waiting when the previous fsync
// finished goes into the next Append, one fsync for all of them.
func (s *Server) logLoop() {
	defer s.wg.Done()
	batch := make([]*proposal, 0, maxBatch)
	entries := make([]storage.Entry, 0, maxBatch)
	s.logMu.Lock()
	s.logged = s.lastZxid.Load()
	s.logMu.Unlock()
	for {
		batch = batch[:0]
		var probe <-chan time.Time
		if s.logFault.refusing.Load() {
			probe = time.After(logProbeInterval)
		}
		select {
		case <-s.quit:
			return
		case <-probe:
			// No write came to probe the log: check that it could take
			// one, so the state ends (and srvr/mntr say so) without one.
			s.logMu.Lock()
			if err := s.store.CheckWritable(logProbeSize); err == nil {
				s.resumeWrites()
			}
			s.logMu.Unlock()
			continue
		case <-s.logKick:
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
		queued := int64(len(batch))
		s.logMu.Lock()
		if f := s.inlineFail; f != nil {
			// An inline append failed: it and everything prepped after
			// it are refused.
			s.inlineFail = nil
			ok := s.refuseWrites(append(f.batch, batch...), f.err)
			s.logQueued.Add(-queued)
			s.logMu.Unlock()
			if !ok {
				return
			}
			continue
		}
		if len(batch) == 0 {
			s.logMu.Unlock()
			continue
		}
		entries = entries[:0]
		for _, p := range batch {
			entries = append(entries, storage.Entry{Zxid: p.t.Zxid, Data: p.data})
		}
		if err := s.store.Append(entries); err != nil {
			// Nothing of this batch is stored: refuse it and every write
			// prepped after it, and keep serving reads until the log
			// takes writes again.
			ok := s.refuseWrites(batch, err)
			s.logQueued.Add(-queued)
			s.logMu.Unlock()
			if !ok {
				return
			}
			continue
		}
		s.logged = batch[len(batch)-1].t.Zxid
		if s.logFault.refusing.Load() {
			s.resumeWrites()
		}
		s.logQueued.Add(-queued)
		// Apply before the next append: taking applyMu before giving up
		// logMu keeps batches (and inline commits) applied in log order.
		// A separate applier goroutine overlapped this with the next
		// fsync, but handing it each batch (and it the replies to the
		// writers) cost more than the overlap gained: with 8 clients
		// writing, applying here gave 5-15% more writes per second at 8%
		// less CPU per write, and no change with 32. Leaving only the
		// answers' writev to a goroutine of their own, so that the next
		// fdatasync starts while they go out, was worse still with 32
		// clients: 35k against 48k writes per second at 40% more CPU per
		// write, as the next batch then held only what came during the
		// fdatasync, not also what came while the answers went out.
		s.applyMu.Lock()
		s.logMu.Unlock()
		s.applyBatch(batch)
		s.applyMu.Unlock()
		clear(batch)
	}
}

// applyBatch applies a logged batch and answers its writes. The caller
// holds applyMu: the tree has one writer at a time, the log loop or an
// inline commit, each applying what it logged.
func (s *Server) applyBatch(batch []*proposal) {
	writer := batch[0].conn // the batch's one client, or nil
	for _, p := range batch {
		res := s.applyTxn(p.t, true)
		if p.done != nil {
			p.done(p.t.Zxid, res)
		}
		if p.conn != writer {
			writer = nil
		}
	}
	s.lastWriter.Store(writer)
	s.lastWriteAt.Store(time.Now().UnixNano())
	s.maybeSnapshot(len(batch))
}

// applyTxn applies one committed txn: tree, sessions, watches. With live
// set it also acts on connections (closing an expired session's socket).
func (s *Server) applyTxn(t *txn.Txn, live bool) txn.Result {
	if live {
		s.metrics.PropagationLatency.AddSince(t.Time) // as Apache's FinalRequestProcessor
	}
	s.tree.Lock()
	res, events := txn.ApplyTo(s.tree, t, s.events[:0])
	var closed *session
	var deleted []string // a closed session's ephemerals, for the audit log
	switch t.Type {
	case txn.TypeCreateSession:
		s.sessions.add(t.SessionID, time.Duration(t.Timeout)*time.Millisecond)
	case txn.TypeCloseSession:
		closed = s.sessions.remove(t.SessionID)
		if live && s.audit != nil {
			for _, ev := range events {
				if ev.Type == wire.EventNodeDeleted {
					deleted = append(deleted, ev.Path)
				}
			}
		}
	}
	if live {
		for _, ev := range events {
			data, child := s.watches.TriggerFunc(ev.Type, ev.Path, s.notifyFilter(ev.ACL))
			if data+child > 0 {
				s.countWatchers(ev.Type, data, child)
			}
		}
	}
	// The buffer is kept for the next txn, emptied so that it holds on
	// to no path or ACL, and dropped when a large multi grew it.
	clear(events)
	if cap(events) <= 4096 {
		s.events = events[:0]
	} else {
		s.events = nil
	}
	s.lastZxid.Store(t.Zxid)
	if err := s.digests.applied(t.Zxid, s.tree); err != nil {
		s.log.Error("tree digest mismatch", "err", err)
	}
	s.tree.Unlock()
	s.prep.Applied(t.Zxid)
	for _, p := range deleted {
		s.audit.ephemeralDeleted(t.SessionID, p)
	}
	if live && closed != nil && closed.conn != nil && t.Cxid == 0 {
		// Expired (not closed by its client, whose reply closes the socket).
		closed.conn.close()
	}
	return res
}

// notifyFilter returns who may get a notification about a znode with acl:
// a connection that may read it (Apache's ServerCnxn.process(event, acl)).
func (s *Server) notifyFilter(a []wire.ACL) func(watch.Watcher) bool {
	if s.cfg.SkipACL || len(a) == 0 {
		return nil
	}
	return func(w watch.Watcher) bool {
		c, ok := w.(*conn)
		return !ok || c.mayRead(a)
	}
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
	// Every txn up to zxid is applied; the snapshot is taken in the
	// background, fuzzy (see encodeFuzzySnapshot), so writes keep flowing.
	zxid := s.lastZxid.Load()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.snapping.Store(false)
		start := time.Now()
		size, err := s.writeSnapshot(zxid, s.encodeFuzzySnapshot)
		switch {
		case errors.Is(err, errSnapshotAborted):
			// Shutting down: snapshotOnClose writes one instead.
			s.snapAborted.Store(true)
		case err != nil:
			s.log.Warn("snapshot write failed", "zxid", fmt.Sprintf("0x%x", zxid), "err", err)
		default:
			s.log.Info("snapshot written", "zxid", fmt.Sprintf("0x%x", zxid), "bytes", size, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
}

// countWatchers adds the watchers an event fired on each side, when it
// fired any there, to its type's summary (Apache's WatchManagers, one for
// data watches and one for child watches, each add what they fired).
func (s *Server) countWatchers(typ int32, data, child int) {
	var sum *metric.Summary
	switch typ {
	case wire.EventNodeCreated:
		sum = s.metrics.NodeCreatedWatchers
	case wire.EventNodeDeleted:
		sum = s.metrics.NodeDeletedWatchers
	case wire.EventNodeDataChanged:
		sum = s.metrics.NodeChangedWatchers
	case wire.EventNodeChildrenChanged:
		sum = s.metrics.NodeChildrenWatchers
	default:
		return
	}
	for _, n := range [2]int{data, child} {
		if n > 0 {
			sum.Add(int64(n))
		}
	}
}

// writeSnapshot writes a snapshot labelled zxid with encode and returns
// its size in bytes.
func (s *Server) writeSnapshot(zxid int64, encode func(io.Writer) error) (int64, error) {
	var size int64
	start := time.Now()
	err := s.store.WriteSnapshot(zxid, func(w io.Writer) error {
		cw := countingWriter{w: w}
		err := encode(&cw)
		size = cw.n
		return err
	})
	if err == nil {
		s.metrics.SnapshotTime.Add(time.Since(start).Milliseconds())
	}
	return size, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// logProbeInterval is how often, while writes are refused, one write is let
// through to find out whether the log takes writes again.
const logProbeInterval = 500 * time.Millisecond

// logProbeSize is the room the log must have (preallocated) for a probe
// without a write to end the refusal.
const logProbeSize = 1 << 20

// logFault is a standalone server's state after a failed txn log append: a
// full disk (the WAL cannot preallocate or write, ENOSPC) or a failing one
// (EIO). Apache's SyncRequestProcessor stops the whole server then; zkgo
// refuses writes and keeps serving reads and sessions, and writes resume
// by themselves once the log takes one again: the next write after
// logProbeInterval is appended as a probe, and while none comes the log
// loop checks every logProbeInterval whether the log has room again
// (storage.Store.CheckWritable) and ends the state if so.
//
// A refused write gets the error code NOTREADONLY (-119), what Apache's
// read-only server answers a write: every 3.8 client knows it (Java
// KeeperException.NotReadOnlyException, kazoo NotReadOnlyCallError), it
// is definite (the write was not applied and the client may retry later),
// and the connection, its session and its watches stay, so reads go on.
// Closing the connection (CONNECTIONLOSS) would make clients reconnect in
// a loop, drop every read in flight, and leave them unsure whether the
// write was applied. srvr and mntr report the mode as read-only meanwhile.
// A new session is a write too: its handshake is refused by closing the
// connection, as a read-only server does for a client that does not
// accept read-only mode.
type logFault struct {
	refusing atomic.Bool
	since    atomic.Int64 // unix ms when refusing began
	refused  atomic.Int64 // writes refused since then
	total    atomic.Int64 // writes refused since the start
	// nextProbe is when the next write may probe the log; prepMu.
	nextProbe time.Time
}

// refuse answers a write that is not applied (the log cannot be written).
// The caller does not hold prepMu.
func (s *Server) refuse(typ int32, sessionID int64, done func(int64, txn.Result)) bool {
	s.logFault.refused.Add(1)
	s.logFault.total.Add(1)
	if typ == txn.TypeCloseSession {
		// Not closed: the expiry (or the client) tries again later.
		s.sessions.mu.Lock()
		if ss := s.sessions.sessions[sessionID]; ss != nil {
			ss.closing = false
		}
		s.sessions.mu.Unlock()
	}
	if done != nil {
		// A createSession's handshake waits for this answer too.
		done(s.lastZxid.Load(), txn.Result{Type: txn.TypeError, Err: wire.CodeNotReadOnly})
	}
	// A refused createSession makes submit report false: the handshake
	// closes the connection.
	return typ != txn.TypeCreateSession
}

// refuseWrites is called by the log loop, holding logMu, when appending
// batch failed. It refuses the batch and every write prepped after it, and
// rolls the prep state (in-flight changes, next zxid) back to what the log
// holds (s.logged), once all of that is applied. It reports false when the
// server is shutting down.
func (s *Server) refuseWrites(batch []*proposal, err error) bool {
	if !s.logFault.refusing.Swap(true) {
		s.logFault.since.Store(time.Now().UnixMilli())
		s.logFault.refused.Store(0)
		s.log.Error("txn log write failed: refusing writes (NOTREADONLY) and serving reads until the log takes writes again",
			"zxid", fmt.Sprintf("0x%x", batch[0].t.Zxid), "last_logged_zxid", fmt.Sprintf("0x%x", s.logged), "err", err)
	} else {
		s.log.Debug("txn log still not writable", "err", err)
	}
	failed := append([]*proposal(nil), batch...)
	// Take prepMu, so nothing more is prepped; submitters hold it while
	// they send to logCh, so keep draining logCh until it is ours.
	locked := make(chan struct{})
	go func() {
		s.prepMu.Lock()
		close(locked)
	}()
	drained := int64(0)
wait:
	for {
		select {
		case <-locked:
			break wait
		case p := <-s.logCh:
			failed = append(failed, p)
			drained++
		}
	}
	for empty := false; !empty; {
		select {
		case p := <-s.logCh:
			failed = append(failed, p)
			drained++
		default:
			empty = true
		}
	}
	s.logQueued.Add(-drained)
	// The prep state may only forget in-flight changes the tree has: an
	// inline commit that logged before us holds applyMu until it applied.
	s.applyMu.Lock()
	s.applyMu.Unlock()
	select {
	case <-s.quit:
		s.prepMu.Unlock()
		return false
	default:
	}
	s.prep.Reset()
	s.nextZxid = s.logged
	s.logFault.nextProbe = time.Now().Add(logProbeInterval)
	s.prepMu.Unlock()
	for _, p := range failed {
		s.refuse(p.t.Type, p.t.SessionID, p.done)
	}
	return true
}

// resumeWrites ends the refusal: an append succeeded.
func (s *Server) resumeWrites() {
	if s.logFault.refusing.Swap(false) {
		s.log.Info("txn log writable again: accepting writes",
			"refused_writes", s.logFault.refused.Load(),
			"refusing_for", time.Since(time.UnixMilli(s.logFault.since.Load())).Round(time.Millisecond))
	}
}

// WritesRefused reports whether the server refuses writes because its txn
// log cannot be written (a full disk), and since when.
func (s *Server) WritesRefused() (bool, time.Time) {
	if !s.logFault.refusing.Load() {
		return false, time.Time{}
	}
	return true, time.UnixMilli(s.logFault.since.Load())
}

// logFaultMetrics are zkgo's extra mntr lines about the state above.
func (s *Server) logFaultMetrics() []fourletter.Metric {
	refusing := int64(0)
	if s.logFault.refusing.Load() {
		refusing = 1
	}
	return []fourletter.Metric{
		{Name: "zkgo_writes_refused", Value: refusing,
			Help: "1 while writes are refused because the txn log cannot be written (full disk), else 0"},
		{Name: "zkgo_refused_writes_total", Value: s.logFault.total.Load(), Counter: true,
			Help: "writes refused with NOTREADONLY because the txn log could not be written"},
	}
}

// InjectLogWriteError is a test seam for full-disk tests of a whole server
// or ensemble member: while err is non-nil every write its storage makes
// fails with it (storage.Store.InjectWriteError); nil heals.
func (s *Server) InjectLogWriteError(err error) { s.store.InjectWriteError(err) }
