package server

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/internal/rawio"
	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/sasl"
	"github.com/zkgo/zkgo/server/wire"
)

// slot is a reply position in a connection's request order. Writes fill it
// from the applier; reads carry a closure run when the slot reaches the
// head of the queue, i.e. after every earlier request of the connection was
// answered (client FIFO order).
type slot struct {
	frame  []byte
	filled bool
	read   func() []byte
	// readBody, when set, is a read answered when its turn comes, as read
	// would be, without a closure allocated per request.
	readBody  wire.Record
	xid       int32
	closeConn bool
	op        int32
	start     time.Time
	// queued: frame is in the outbound queue already (readQueued).
	queued bool
}

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	raw    syscall.RawConn // nc's socket when it is plain TCP (writeNow)
	remote netip.AddrPort
	log    *slog.Logger

	dec wire.Decoder // the reader's, for each request frame (handleRequest)
	// inCommand: the connection runs a four-letter word (cons shows its
	// interest ops as 0).
	inCommand atomic.Bool
	// sasl is the connection's SASL login, once it began; the reader's.
	sasl *sasl.Exchange

	mu    sync.Mutex // guards slots, auth, sess
	slots []*slot
	// slotBuf is slots' storage while few requests are outstanding: a
	// drained queue starts over in it instead of allocating.
	slotBuf [2]*slot
	// inlineReply is set while the connection's reader applies its own
	// write (Server.commitInline); guarded by the server's applyMu.
	inlineReply bool
	auth        []wire.ID
	sess        *session
	// authView is a copy of auth that the applier reads without mu (it
	// holds the tree's write lock, which comes after mu) to filter watch
	// notifications by the znode's READ permission.
	authView atomic.Pointer[[]wire.ID]

	outMu    sync.Mutex // leaf lock: the outbound frame queue
	out      [][]byte
	outBytes int  // bytes in out, bounded by outLimit
	overflow bool // out passed outLimit: the connection is being dropped
	writing  bool // a goroutine (writer or reader inline) is writing the socket
	closing  bool
	wake     chan struct{}
	// outSpare is a written batch's slice, emptied, for out to reuse.
	outSpare [][]byte
	// writeSome's callback for the socket, made once, and what it passes:
	// owned by whoever set writing.
	wfn  func(fd uintptr) bool
	wv   [][]byte
	wn   int
	werr error
	wiov []syscall.Iovec // writev's scratch

	// outstanding counts this connection's requests not answered yet
	// (slots); it is part of the server's inflight count until the
	// connection ends (released). Guarded by mu.
	outstanding int64
	released    bool
	unthrottle  chan struct{} // signalled when outstanding drops to 0

	closed    chan struct{}
	closeOnce sync.Once

	// lp is the event loop that reads the connection once its goroutine
	// has handed it over (evloop_linux.go), and ev its state there.
	lp atomic.Pointer[evloop]
	ev evconn

	readOnly  bool // accepted by a read-only server: reads only
	sessionID atomic.Int64
	timeout   atomic.Int64 // negotiated ms
	stats     connStats
}

// connStats feed cons and mntr.
type connStats struct {
	counters
	established time.Time
	lastOp      atomic.Int32
	lastCxid    atomic.Int32
	lastZxid    atomic.Int64
	lastResp    atomic.Int64 // unix ms
	lastLat     atomic.Int64
}

func (st *connStats) reset() {
	st.counters.reset()
	st.lastLat.Store(0)
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, wake: make(chan struct{}, 1), closed: make(chan struct{}), unthrottle: make(chan struct{}, 1)}
	if tc, ok := nc.(*net.TCPConn); ok {
		c.raw, _ = tc.SyscallConn()
	}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.remote = ap
	}
	c.log = s.log.With("remote", nc.RemoteAddr().String())
	c.stats.established = time.Now()
	c.stats.minLat.Store(-1)
	c.stats.lastOp.Store(-100)
	return c
}

// SessionID implements watch.Watcher.
func (c *conn) SessionID() int64 { return c.sessionID.Load() }

// addAuth adds ids the connection does not hold yet; called with mu held
// (a slot's read).
func (c *conn) addAuth(ids []wire.ID) {
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		if !containsID(c.auth, id) {
			c.auth = append(c.auth, id)
		}
	}
	c.publishAuth()
}

// holdsScheme reports whether the connection holds an id of one of the
// schemes.
func (c *conn) holdsScheme(schemes []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.auth {
		if slices.Contains(schemes, id.Scheme) {
			return true
		}
	}
	return false
}

// publishAuth stores a copy of auth for the applier; called with mu held
// (or before the connection is shared).
func (c *conn) publishAuth() {
	ids := append([]wire.ID(nil), c.auth...)
	c.authView.Store(&ids)
}

// mayRead reports whether the connection may read a znode with acl: watch
// notifications of nodes it cannot read are dropped, as Apache does since
// the fix of CVE-2024-23944 (3.8.4, and Debian's 3.8.0-11+deb12u2).
func (c *conn) mayRead(a []wire.ACL) bool {
	var ids []wire.ID
	if p := c.authView.Load(); p != nil {
		ids = *p
	}
	return acl.Check(a, wire.PermRead, ids)
}

// Notify implements watch.Watcher: it queues a notification. ZooKeeper 3.8
// sends zxid -1 in a notification's reply header.
func (c *conn) Notify(ev wire.WatcherEvent) {
	e := wire.NewEncoder(make([]byte, 4, 32+len(ev.Path)))
	(&wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}).Encode(e)
	ev.Encode(e)
	c.push(e.Bytes())
}

// push queues a frame whose first 4 bytes are reserved for the length and
// wakes the writer goroutine.
func (c *conn) push(frame []byte) {
	c.queue(frame)
	c.wakeWriter()
}

// outLimitFactor times jute.maxbuffer bounds the bytes queued for a
// client and not yet handed to its socket: replies and notifications of a
// client that does not read pile up there. Past it the client is
// disconnected (Apache's NIOServerCnxn queues without bound). Four frames
// of the largest size a client accepts is far more than a client that
// reads ever has queued: the socket's own buffers absorb bursts.
const outLimitFactor = 4

// outLimit is the bound on a connection's queued output, in bytes.
func (c *conn) outLimit() int {
	return outLimitFactor * max(c.s.cfg.JuteMaxBuffer, wire.DefaultMaxBuffer)
}

// queue appends a frame to the outbound queue without waking the writer.
// A client whose queued output passes outLimit is disconnected: the
// applier (which queues notifications and write replies) never blocks on
// a client's socket, so this is what bounds the memory a slow reader holds.
func (c *conn) queue(frame []byte) {
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	c.s.stats.responses.Add(int64(len(frame) - 4))
	over := 0
	c.outMu.Lock()
	if !c.closing && !c.overflow {
		if c.out == nil {
			c.out, c.outSpare = c.outSpare, nil
		}
		c.out = append(c.out, frame)
		c.outBytes += len(frame)
		// A lone frame never trips the bound: a reply may be larger than
		// jute.maxbuffer (getChildren of 10,000 long names is ~20 MB, which
		// Apache sends; go-zookeeper's TestIntegration_Children reads it).
		if c.outBytes > c.outLimit() && len(c.out) > 1 {
			over = c.outBytes
			c.overflow = true
			clear(c.out)
			c.out, c.outBytes = nil, 0
		}
	}
	c.outMu.Unlock()
	if over > 0 {
		c.log.Warn("closing connection: client does not read its replies",
			"session_id", fmt.Sprintf("0x%x", c.sessionID.Load()), "queued_bytes", over, "limit", c.outLimit())
		c.close()
	}
}

func (c *conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flushInline writes the queued frames from the reader goroutine itself
// when nobody else is writing: a read answered at once then costs no
// hand-off to the writer goroutine. Only the connection's own reader calls
// it (never the applier, which must not block on a client's socket): what
// one non-blocking writev leaves, it writes blocking, so that a client
// that reads slowly slows the reading of its requests.
func (c *conn) flushInline() {
	if l := c.lp.Load(); l != nil {
		c.writeOnce(l)
		return
	}
	frames := c.takeOut(false)
	if frames == nil {
		return
	}
	n, err := c.writeSome(frames)
	if rest := unwritten(frames, n); err == nil && len(rest) > 0 {
		b := net.Buffers(rest)
		_, err = b.WriteTo(c.nc)
	}
	c.packetsSent(len(frames))
	pending := c.doneWriting(frames, nil)
	if err != nil {
		c.close()
		return
	}
	if pending {
		c.wakeWriter()
	}
}

// writeNow writes the queued frames from the applier with one
// non-blocking writev when nobody else is writing, instead of waking the
// connection's writer goroutine for it: each wake-up made a thread switch
// for a few microseconds of work, and writing here took server CPU per
// write from ~27 to ~20 µs with 32 clients (8 clients: ~46 to ~38 µs)
// and gave up to 15% more writes per second. What the socket does not
// take at once (a client that does not read) is left to the writer, so
// the applier never blocks on a client.
func (c *conn) writeNow() { c.writeOnce(nil) }

// writeOnce is writeNow; when the connection's event loop l calls it (as
// the connection's reader, flushInline), l also stops reading the
// connection while the writer has what the socket did not take.
func (c *conn) writeOnce(l *evloop) {
	frames := c.takeOut(true)
	if frames == nil {
		return
	}
	n, err := c.writeSome(frames)
	if err != nil {
		c.doneWriting(frames, nil)
		c.close()
		return
	}
	rest := unwritten(frames, n)
	if len(rest) > 0 {
		rest = append([][]byte(nil), rest...) // frames is spared by doneWriting
		if l != nil {
			// Before doneWriting, after which the writer may have sent
			// it all already (and found nothing to resume).
			l.holdForWriter(c)
		}
	}
	c.packetsSent(len(frames) - len(rest))
	if c.doneWriting(frames, rest) {
		c.wakeWriter()
	}
}

// takeOut hands the queued frames to the caller, who then owns the
// socket's write side until doneWriting (flushInline, writeNow). It
// returns nil, waking the writer when there is work for it, if somebody
// else is writing, the connection is closing or nothing is queued, and
// when raw is set (a non-blocking write) and the socket has no raw form.
func (c *conn) takeOut(raw bool) [][]byte {
	c.outMu.Lock()
	if (raw && c.raw == nil) || c.writing || c.closing || len(c.out) == 0 {
		pending := len(c.out) > 0 || c.closing
		c.outMu.Unlock()
		if pending {
			c.wakeWriter()
		}
		return nil
	}
	frames := c.out
	c.out, c.outBytes = nil, 0
	c.writing = true
	c.outMu.Unlock()
	return frames
}

// doneWriting ends a write that takeOut began: rest, what the socket did
// not take, goes back to the head of the queue for the writer, and frames'
// slice is kept for the next batch. It reports whether the writer has
// work now (frames queued meanwhile, rest, or a close to carry out).
func (c *conn) doneWriting(frames, rest [][]byte) (pending bool) {
	c.outMu.Lock()
	c.writing = false
	c.spareLocked(frames)
	if len(rest) > 0 {
		size := 0
		for _, f := range rest {
			size += len(f)
		}
		c.out = append(rest, c.out...)
		c.outBytes += size
	}
	pending = len(c.out) > 0 || c.closing
	c.outMu.Unlock()
	if !pending {
		c.writerDrained()
	}
	return pending
}

// unwritten returns what of frames is left after n bytes went out: the
// frames after them, the first cut where the socket stopped. It is frames
// itself, resliced, with its first element replaced when cut.
func unwritten(frames [][]byte, n int) [][]byte {
	for i, f := range frames {
		if n < len(f) {
			frames[i] = f[n:]
			return frames[i:]
		}
		n -= len(f)
	}
	return nil
}

// spareLocked keeps a written batch's slice, emptied, for the next (outMu
// held).
func (c *conn) spareLocked(frames [][]byte) {
	if c.outSpare == nil {
		clear(frames)
		c.outSpare = frames[:0]
	}
}

// closeAfterFlush makes the writer close the socket once queued frames are out.
func (c *conn) closeAfterFlush() {
	c.outMu.Lock()
	c.closing = true
	c.outMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// finish closes the connection once the writer has sent what is queued
// when a close-after-flush was requested (an error reply that ends the
// connection), and at once otherwise.
func (c *conn) finish() {
	c.outMu.Lock()
	closing := c.closing
	c.outMu.Unlock()
	if closing {
		t := time.NewTimer(5 * time.Second)
		select {
		case <-c.closed:
		case <-t.C:
		}
		t.Stop()
	}
	c.close()
}

// closeGracefully ends a connection after an answer that closes it (auth
// failed, session expired): it sends FIN after the answer and reads what the
// client still sends for up to a second before closing. Closing a socket
// with unread input sends RST, and a client that pipelined requests behind
// the failed one (the C client does) then sees a connection loss instead of
// the answer.
func (c *conn) closeGracefully() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, 1<<20))
	}
	c.close()
}

// close shuts the connection at once.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.nc.Close()
		c.leaveLoop()
	})
}

// writerPool holds the writers of writeLoop. A connection borrows one for
// a batch only: most answers go out by writev from the reader or the
// applier (flushInline, writeNow), and a writer of its own per connection
// was 64 KB of heap for every idle client.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// writeLoop owns the socket's write side; it batches every queued frame
// into one flush.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var batch [][]byte
	for {
		select {
		case <-c.closed:
			return
		case <-c.wake:
		}
		c.outMu.Lock()
		if c.writing {
			// The reader is writing inline; it wakes us when it is done.
			c.outMu.Unlock()
			continue
		}
		batch, c.out = c.out, batch[:0]
		c.outBytes = 0
		closing := c.closing
		c.writing = true
		c.outMu.Unlock()
		w := writerPool.Get().(*bufio.Writer)
		w.Reset(c.nc)
		var err error
		for _, f := range batch {
			if _, err = w.Write(f); err != nil {
				break
			}
			c.packetsSent(1)
		}
		clear(batch)
		if err == nil {
			err = w.Flush()
		}
		w.Reset(nil)
		writerPool.Put(w)
		c.outMu.Lock()
		c.writing = false
		more := len(c.out) > 0
		c.outMu.Unlock()
		if err != nil {
			c.close()
			return
		}
		if more {
			c.wakeWriter()
		} else {
			c.writerDrained()
		}
		if closing {
			c.outMu.Lock()
			empty := len(c.out) == 0
			c.outMu.Unlock()
			if empty {
				c.closeGracefully()
				return
			}
		}
	}
}

// enqueue appends a slot in request order and answers what it can. It
// runs on the connection's reader, which then writes the answers itself.
func (c *conn) enqueue(sl *slot) {
	c.mu.Lock()
	c.slots = append(c.slots, sl)
	if !c.released {
		c.outstanding++
		c.s.inflight.n.Add(1)
	}
	c.flushLocked()
	c.mu.Unlock()
	c.flushInline()
}

// fill completes a write's slot and sends the answer (writeNow), unless
// the connection's own reader is applying the write (commitInline), which
// then writes the answer itself.
func (c *conn) fill(sl *slot, frame []byte) {
	c.mu.Lock()
	sl.frame = frame
	sl.filled = true
	c.flushLocked()
	c.mu.Unlock()
	if !c.inlineReply {
		c.writeNow()
	}
}

// afterReadHook, set by tests only, runs after a slot is answered and
// before its answer is queued (unless readQueued queued it already).
var afterReadHook atomic.Pointer[func(op int32)]

// flushLocked moves answered slots, in order, to the outbound queue; the
// caller then sends them (flushInline on the reader, writeNow on the
// applier).
func (c *conn) flushLocked() {
	for len(c.slots) > 0 {
		sl := c.slots[0]
		if !sl.filled {
			switch {
			case sl.readBody != nil && setsWatch(sl.readBody):
				sl.frame = c.s.readQueued(c, sl.xid, sl.op, sl.readBody)
				sl.queued = true
				sl.readBody = nil
			case sl.readBody != nil:
				rec, code := c.s.read(c, sl.op, sl.readBody)
				sl.frame = c.s.reply(sl.xid, code, rec)
				sl.readBody = nil
			case sl.read != nil:
				sl.frame = sl.read()
			default:
				return
			}
			sl.filled = true
		}
		c.slots[0] = nil
		c.slots = c.slots[1:]
		if len(c.slots) == 0 {
			c.slots = c.slotBuf[:0]
		}
		if !c.released {
			if c.outstanding--; c.outstanding == 0 {
				select {
				case c.unthrottle <- struct{}{}:
				default:
				}
			}
			c.s.inflight.done()
		}
		if hook := afterReadHook.Load(); hook != nil {
			(*hook)(sl.op)
		}
		if sl.frame != nil {
			if !sl.queued {
				c.queue(sl.frame)
			}
			c.s.metrics.ResponseBytes.Add(int64(len(sl.frame) - 4))
			c.s.recordLatency(c, sl)
		}
		if sl.closeConn {
			c.closeAfterFlush()
		}
	}
}

// errLen is a frame length outside [0, jute.maxbuffer].
var errLen = errors.New("len error")

// readFrame reads one length-prefixed frame into buf (grown as needed).
func (c *conn) readFrame(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n, _, err := frameLen(hdr[:], max)
	if err != nil {
		return nil, err
	}
	if cap(buf) >= n || n <= frameChunk {
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	// A large frame grows as its bytes arrive: a client that announces
	// jute.maxbuffer and sends nothing more holds no such buffer.
	buf = buf[:0]
	for len(buf) < n {
		m := min(n-len(buf), frameChunk)
		if cap(buf)-len(buf) < m {
			// Double (not append's 1.25x for large slices): few copies.
			more := min(n, 2*cap(buf)) - len(buf)
			if more < m {
				more = m
			}
			buf = slices.Grow(buf, more)
		}
		k, err := io.ReadFull(r, buf[len(buf):len(buf)+m])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// frameChunk is the size up to which a frame's buffer is allocated at once.
const frameChunk = 64 << 10

// readBufSize is the connection reader's buffer. A frame larger than what
// it holds is read straight into the frame's own buffer. It was 64 KB:
// with 2,000 clients the readers and writers held 220 MB of heap (the GC
// then let garbage grow to three times that: 595 MB of RSS under load),
// and 4 KB made no difference to 64 goroutines pipelining gets on one
// session (95-100k/s with either).
const readBufSize = 4 << 10

// serve runs the connection's reader until the client goes away, or
// until it hands the connection to an event loop (evloop_linux.go).
func (c *conn) serve() {
	handedOff := false
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("connection panicked: closing it", "panic", fmt.Sprint(r))
		}
		if !handedOff {
			c.end()
		}
	}()
	c.s.wg.Add(1)
	go c.writeLoop()

	r := bufio.NewReaderSize(rawio.Wrap(c.nc), readBufSize)
	// A four-letter word replaces the first frame's length.
	head, err := r.Peek(4)
	if err != nil {
		return
	}
	if word := string(head); isWord(word) {
		r.Discard(4)
		c.s.fourLetterWord(c, word, r)
		return
	}
	max := c.s.maxFrame()
	buf, err := c.readFrame(r, nil, max)
	if err != nil {
		c.logReadErr(err)
		return
	}
	if !c.handshake(buf) {
		return
	}
	loop := c.s.evloopFor(c)
	for {
		if !c.throttle() {
			return
		}
		if held, _ := r.Peek(r.Buffered()); loop != nil && !frameReady(held, max) {
			// What the reader holds is at most part of a request: the
			// loop takes it with the socket.
			if loop.adopt(c, append([]byte(nil), held...)) {
				handedOff = true
				return
			}
			loop = nil
		}
		buf, err = c.readFrame(r, buf, max)
		if err != nil {
			c.logReadErr(err)
			return
		}
		if !c.s.handleRequest(c, buf) {
			return
		}
	}
}

// end releases what the connection holds in the server once it is closed
// and its reader is done.
func (c *conn) end() {
	c.finish()
	c.releaseOutstanding()
	c.s.dropConn(c)
	c.s.wg.Done()
}

// maxFrame is the largest request a client may send (jute.maxbuffer).
func (s *Server) maxFrame() int {
	if s.cfg.JuteMaxBuffer <= 0 {
		return wire.DefaultMaxBuffer
	}
	return s.cfg.JuteMaxBuffer
}

// frameLen reads the length prefix of the request at the start of b: ok is
// false while b holds less than the prefix, and err is errLen when the
// length is outside [0, max] (jute.maxbuffer).
func frameLen(b []byte, max int) (n int, ok bool, err error) {
	if len(b) < 4 {
		return 0, false, nil
	}
	n = int(int32(binary.BigEndian.Uint32(b)))
	if n < 0 || n > max {
		return n, true, fmt.Errorf("%w %d", errLen, n)
	}
	return n, true, nil
}

// frameReady reports whether b starts with a whole request, or with the
// length of one out of range (which its reader then reports at once).
func frameReady(b []byte, max int) bool {
	n, ok, err := frameLen(b, max)
	return ok && (err != nil || len(b)-4 >= n)
}

func (c *conn) logReadErr(err error) {
	switch {
	case errors.Is(err, errLen):
		c.log.Warn("closing connection: frame length out of range", "err", err, "max", c.s.cfg.JuteMaxBuffer)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		c.log.Debug("connection read ended", "err", err)
	}
}

// handshake processes the ConnectRequest; it reports whether to go on.
func (c *conn) handshake(frame []byte) bool {
	s := c.s
	start := time.Now()
	c.packetReceived(4 + len(frame)) // as Apache counts the connect request
	var req wire.ConnectRequest
	if err := wire.Unmarshal(frame, &req); err != nil {
		c.log.Warn("closing connection: malformed ConnectRequest", "err", err)
		return false
	}
	s.metrics.ConnectionRequest.Add(1)
	if !(req.ReadOnly && s.readOnly.Load()) && !s.awaitServing(c) {
		// No quorum: clients try another server meanwhile, unless this
		// server is in read-only mode and the client allows it.
		if !req.ReadOnly || !s.readOnly.Load() {
			return false
		}
	}
	if !s.isServing() {
		c.readOnly = true
	}
	if !c.readOnly && !s.cfg.LeaderServes && s.peer != nil && s.leading() {
		// leaderServes=no: the leader keeps to the quorum's work and
		// its clients go to the followers (Apache's leader never hands
		// its cnxn factory the server).
		c.log.Info("refusing connection: this member leads and leaderServes=no")
		return false
	}
	if req.LastZxidSeen > s.lastZxid.Load() && !s.awaitApplied(c, req.LastZxidSeen) {
		// The client has seen a newer state than ours: it must try another server.
		last := s.lastZxid.Load()
		c.log.Info("refusing connection: client has seen a newer zxid",
			"client_zxid", fmt.Sprintf("0x%x", req.LastZxidSeen), "our_zxid", fmt.Sprintf("0x%x", last))
		return false
	}
	timeout := time.Duration(req.TimeOut) * time.Millisecond
	if timeout < s.minTimeout {
		timeout = s.minTimeout
	}
	if timeout > s.maxTimeout {
		timeout = s.maxTimeout
	}
	resp := &wire.ConnectResponse{TimeOut: int32(timeout / time.Millisecond), HasReadOnly: req.HasReadOnly, ReadOnly: c.readOnly}
	if req.SessionID == 0 && (c.readOnly || s.peer != nil && s.cfg.LocalSessionsEnabled) {
		// Local sessions: no txn. A read-only server's are gone when it
		// rejoins a quorum; with localSessionsEnabled every new session
		// of an ensemble member starts local (QuorumZooKeeperServer.
		// setLocalSessionFlag) and lives on this member only, unless an
		// ephemeral upgrades it.
		id := s.sessions.newID()
		s.sessions.addLocal(id, timeout)
		resp.SessionID = id
		// Apache's read-only server preps a createSession txn for it;
		// a local session's makes none, and counts as a read there.
		c.answeredConnect(start, s.lastZxid.Load(), c.readOnly)
	} else if req.SessionID == 0 {
		id := s.sessions.newID()
		done := make(chan int64, 1)
		ok := s.submit(&writeReq{
			req: txnRequest(id, 0, wire.OpCreateSession, nil, nil, int32(timeout/time.Millisecond)),
			done: func(zxid int64, res txnResult) {
				if res.Err != wire.CodeOK {
					zxid = -1 // refused (log not writable)
				}
				done <- zxid
			},
		})
		if !ok {
			return false
		}
		select {
		case zxid := <-done:
			if zxid < 0 {
				return false
			}
			c.answeredConnect(start, zxid, true)
		case <-c.closed:
			return false
		case <-s.quit:
			return false
		}
		resp.SessionID = id
	} else {
		sess := s.sessions.get(req.SessionID)
		revalidated := false
		if sess == nil && s.peer != nil && !c.readOnly {
			// This member may not have applied the session's createSession
			// yet (made through another member a moment ago, or a local
			// session's upgrade there): catch up with the leader before
			// calling it expired, as Apache's learner asks the leader to
			// revalidate a session it does not know.
			if !s.revalidate(c) {
				return false
			}
			revalidated = true
			sess = s.sessions.get(req.SessionID)
		}
		if sess != nil {
			// As Apache (closeSession(id, CLIENT_RECONNECT) before
			// reopenSession): the session's current connection is closed
			// first, whatever the password turns out to be.
			s.sessions.mu.Lock()
			old := sess.conn
			s.sessions.mu.Unlock()
			if old != nil && old != c {
				old.close()
			}
		}
		if sess == nil || sess.closing || subtle.ConstantTimeCompare(req.Passwd, sessionPassword(req.SessionID)) != 1 {
			// Expired or unknown: answer with a zero session and close, as Apache does.
			resp.TimeOut = 0
			resp.Passwd = make([]byte, 16)
			c.send(resp)
			c.closeAfterFlush()
			return false
		}
		if !revalidated && !s.revalidate(c) {
			return false
		}
		s.sessions.touch(req.SessionID)
		resp.SessionID = req.SessionID
	}
	if !c.readOnly && !s.awaitServing(c) {
		// The member left the broadcast phase while the handshake ran (it
		// drops its clients then): hold it, as above, until it serves again.
		return false
	}
	resp.Passwd = sessionPassword(resp.SessionID)
	c.sessionID.Store(resp.SessionID)
	c.timeout.Store(int64(resp.TimeOut))
	c.auth = append(c.auth, wire.ID{Scheme: "ip", ID: c.remote.Addr().Unmap().String()})
	c.auth = append(c.auth, s.certIDs(c.nc)...) // x509 (and super) of a TLS client, tls.go
	c.publishAuth()
	s.attach(c, resp.SessionID, timeout)
	c.send(resp)
	return true
}

// answeredConnect notes a new session's connect request as the
// connection's first request, as Apache's FinalRequestProcessor does:
// cons shows it (lop=SESS, lcxid 0, zxid), and its latency counts in
// srvr's and in updatelatency when it made a txn (readlatency when not).
func (c *conn) answeredConnect(start time.Time, zxid int64, txn bool) {
	c.stats.lastOp.Store(wire.OpCreateSession)
	c.stats.lastCxid.Store(0)
	c.stats.lastZxid.Store(zxid)
	c.s.recordAnswer(c, start, txn)
}

// packetReceived counts a packet of size bytes (its length prefix
// included) received on c, in c's and the server's numbers, as Apache's
// ServerCnxn.packetReceived.
func (c *conn) packetReceived(size int) {
	c.stats.received.Add(1)
	c.s.stats.received.Add(1)
	c.s.metrics.BytesReceived.Add(int64(size))
}

// packetsSent counts n packets sent on c, in c's and the server's numbers.
func (c *conn) packetsSent(n int) {
	c.stats.sent.Add(int64(n))
	c.s.stats.sent.Add(int64(n))
}

// send queues a bare record (the ConnectResponse).
func (c *conn) send(r wire.Record) {
	e := wire.NewEncoder(make([]byte, 4, 64))
	r.Encode(e)
	c.push(e.Bytes())
}

// inflight is the server-wide count of requests received and not yet
// answered, for globalOutstandingLimit.
type inflight struct {
	max     int64 // outstandingLimit, set by New
	n       atomic.Int64
	limit   atomic.Int64 // what waiters wait for
	mu      sync.Mutex
	waiting atomic.Bool
	wake    chan struct{} // closed when n drops to the limit; guarded by mu
}

// done counts one request answered and wakes throttled readers when the
// count is back within the limit.
func (f *inflight) done() { f.sub(1) }

func (f *inflight) sub(n int64) {
	v := f.n.Add(-n)
	if f.waiting.Load() {
		f.mu.Lock()
		if f.wake != nil && v <= f.limit.Load() {
			close(f.wake)
			f.wake = nil
			f.waiting.Store(false)
		}
		f.mu.Unlock()
	}
}

// waitCh returns a channel closed once the count is back within limit.
func (f *inflight) waitCh(limit int64) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit.Store(limit)
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	f.waiting.Store(true)
	return f.wake
}

// outstandingLimit is globalOutstandingLimit as Apache applies it: in an
// ensemble of more than two voters it is divided by their number minus
// one (LeaderZooKeeperServer, FollowerZooKeeperServer); 0 or less turns
// throttling off. New computes it once, from the configuration files'
// membership.
func outstandingLimit(cfg *config.Config) int64 {
	limit := int64(cfg.GlobalOutstandingLimit)
	if voters := config.Voters(cfg.Servers); cfg.Distributed() && voters > 2 {
		limit /= int64(voters - 1)
	}
	return limit
}

// throttle holds the reader while the server has more requests in flight
// than globalOutstandingLimit and this connection has requests of its own
// in flight, as Apache's ServerCnxn.incrOutstandingAndCheckThrottle /
// shouldThrottle (a connection with nothing outstanding keeps reading).
// It reports false when the connection or the server closed meanwhile.
func (c *conn) throttle() bool {
	limit := c.s.inflight.max
	if limit <= 0 {
		return true
	}
	for c.s.inflight.n.Load() > limit {
		c.mu.Lock()
		mine := c.outstanding
		c.mu.Unlock()
		if mine == 0 {
			return true
		}
		ch := c.s.inflight.waitCh(limit)
		if c.s.inflight.n.Load() <= limit {
			return true
		}
		select {
		case <-ch:
		case <-c.unthrottle:
		case <-c.closed:
			return false
		case <-c.s.quit:
			return false
		}
	}
	return true
}

// releaseOutstanding takes the connection's unanswered requests out of
// the server's count when it ends (writes forgotten at a leader change
// never come back to fill their slots).
func (c *conn) releaseOutstanding() {
	c.mu.Lock()
	n := c.outstanding
	c.outstanding = 0
	c.released = true
	c.mu.Unlock()
	if n > 0 {
		c.s.inflight.sub(n)
	}
}
