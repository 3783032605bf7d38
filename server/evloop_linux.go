//go:build linux

package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/internal/rawio"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// An evloop reads the requests of many plain-TCP client connections from
// one goroutine. A connection's own goroutine reads its handshake; then,
// on Linux, it hands the socket to a loop and ends, and the loop reads
// every socket with bytes waiting in one pass: each request is handled
// (handleRequest) and answered (a non-blocking writev) there, with no
// goroutine woken for it.
//
// Why: with a goroutine per connection, 32 clients with one get in flight
// each, and the load generator on the same two cores, zkserver's p99 was
// 4.5 ms at a mean of 0.7 ms. Every request woke a goroutine in each
// process, and the two runtimes' threads (their idle Ps spinning for work
// among them) queued behind each other for the cores. An echo server
// without ZooKeeper, driven the same way, showed the same tail (4.4 ms);
// written as one epoll loop, 1.5 ms, at the same rate.
//
// A request that may wait for something other than this server's own
// work leaves the loop: a write or sync of an ensemble member (it waits
// for the leader, which may be changing), and any request while the
// server is over globalOutstandingLimit (the throttle waits). The loop
// then pauses the socket and a goroutine reads the requests already
// buffered, as the connection's reader, until none is left; then the loop
// takes the socket back. A reply the socket cannot take at once goes to
// the connection's writer goroutine, and the loop stops reading the
// connection until the writer has sent it (a client that does not read
// its replies is slowed, not buffered for).
type evloop struct {
	s      *Server
	poller *rawio.Poller
	buf    []byte // what one read takes, for every connection in turn

	// idle hands a connection to an idle offLoop worker (goOffLoop).
	idle chan *conn

	mu    sync.Mutex // guards conns, next, and each conn's ev.paused writes
	conns map[uint64]*conn
	next  uint64
}

// evconn is a connection's part in its loop.
type evconn struct {
	rio     *rawio.Conn
	token   uint64
	pending []byte        // bytes of requests read but not handled yet
	paused  atomic.Uint32 // why the loop does not read it; written under the loop's mu
	armed   bool          // the poller reports it; under the loop's mu
	gone    bool          // out of the loop (drop); under the loop's mu
}

// Reasons a loop does not read a connection. pending belongs to whoever
// set readingNow or offLoop; with no reason set, to nobody.
const (
	readingNow   = 1 << iota // the loop is reading it (serveConn)
	offLoop                  // a goroutine reads it (offLoop)
	outputQueued             // its writer has a backlog (holdForWriter)
)

// evloopBuf is what one read takes at most.
const evloopBuf = 64 << 10

// startEvloops makes n loops and starts them; the caller holds mu. A loop
// that cannot be made (no epoll in Go's poller) leaves connections with
// their own goroutines.
func (s *Server) startEvloops(n int) {
	for range n {
		p, err := rawio.NewPoller(256)
		if err != nil {
			s.log.Warn("event loop not available: a goroutine per connection reads instead", "err", err)
			break
		}
		l := &evloop{s: s, poller: p, buf: make([]byte, evloopBuf), conns: map[uint64]*conn{}, idle: make(chan *conn)}
		s.evloops = append(s.evloops, l)
		s.wg.Add(1)
		go l.run()
	}
}

// stopEvloops ends the loops (Close, once every connection is closed).
func (s *Server) stopEvloops() {
	for _, l := range s.evloops {
		l.poller.Close()
	}
}

// evloopFor picks the loop for c, or nil when c keeps its goroutine (TLS,
// no loops).
func (s *Server) evloopFor(c *conn) *evloop {
	if len(s.evloops) == 0 || c.raw == nil {
		return nil
	}
	return s.evloops[s.evloopNext.Add(1)%uint64(len(s.evloops))]
}

// adopt hands c to the loop, with pending, the bytes of a partial request
// its reader had read. It reports false when c stays with its goroutine:
// the socket closed meanwhile, or the loop has ended.
func (l *evloop) adopt(c *conn, pending []byte) bool {
	rio, ok := rawio.Wrap(c.nc).(*rawio.Conn)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	token := l.next
	// Field by field: paused is read without the lock (writerDrained).
	c.ev.rio, c.ev.token, c.ev.pending, c.ev.armed = rio, token, pending, true
	// Published before the socket is in the set: from then on close()
	// must find the loop to end the connection.
	c.lp.Store(l)
	if err := l.poller.Add(c.raw, token); err != nil {
		c.lp.Store(nil)
		return false
	}
	l.conns[token] = c
	return true
}

// run serves the sockets with bytes waiting until the poller closes.
func (l *evloop) run() {
	defer l.s.wg.Done()
	var tokens []uint64
	for {
		var err error
		tokens, err = l.poller.Wait(tokens)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// Its connections would wait for ever: they end (their
				// clients reconnect), and new ones keep their goroutines.
				l.s.log.Error("event loop failed: closing its connections", "err", err)
				l.poller.Close()
				l.mu.Lock()
				conns := slices.Collect(maps.Values(l.conns))
				l.mu.Unlock()
				for _, c := range conns {
					c.close()
				}
			}
			return
		}
		for _, t := range tokens {
			l.mu.Lock()
			c := l.conns[t]
			ok := c != nil && c.ev.paused.Load() == 0 // no other reader, no hold
			if ok {
				l.setPausedLocked(c, readingNow)
			}
			l.mu.Unlock()
			if ok {
				l.serveConn(c)
			}
		}
	}
}

// serveConn makes one read of c's socket and handles the whole requests
// it then has; a panic ends c alone. The caller set readingNow.
func (l *evloop) serveConn(c *conn) {
	defer l.resume(c, readingNow)
	defer l.dropOnPanic(c)
	n, err := c.ev.rio.ReadNow(l.buf)
	if err == syscall.EAGAIN {
		return
	}
	if err != nil {
		c.logReadErr(err)
		l.drop(c)
		return
	}
	data := l.buf[:n]
	if len(c.ev.pending) > 0 {
		c.ev.pending = append(c.ev.pending, data...)
		data = c.ev.pending
	}
	rest, ok, handed := l.handleFrames(c, data, true)
	switch {
	case !ok:
		l.drop(c)
	case !handed:
		c.ev.keep(rest)
	}
}

// dropOnPanic, deferred by whoever reads c, ends c alone when handling
// one of its requests panicked.
func (l *evloop) dropOnPanic(c *conn) {
	if r := recover(); r != nil {
		c.log.Error("connection panicked: closing it", "panic", fmt.Sprint(r))
		l.drop(c)
	}
}

// keep makes rest, what is left to handle, the connection's pending
// bytes, copied out of the loop's buffer.
func (e *evconn) keep(rest []byte) {
	if len(rest) == 0 {
		if cap(e.pending) > readBufSize {
			e.pending = nil // a large request's buffer is not kept
		} else {
			e.pending = e.pending[:0]
		}
		return
	}
	// rest may lie in pending itself, at or after its start: append's
	// copy moves it down.
	e.pending = append(e.pending[:0], rest...)
}

// handleFrames handles the whole requests at the start of data and returns
// what is left; it stops early while c's writer has a backlog. On the loop
// it hands data to a goroutine (offLoop) at the first request that may
// wait, and reports handed; off it, the throttle may hold it. ok is false
// when the connection is to end.
func (l *evloop) handleFrames(c *conn, data []byte, onLoop bool) (rest []byte, ok, handed bool) {
	max := l.s.maxFrame()
	for c.ev.paused.Load()&outputQueued == 0 {
		select {
		case <-c.closed:
			// Closed meanwhile: its replies passed outLimit while its
			// writer was busy (so the loop was not held), or it ended.
			// The requests left in data would build replies for nobody.
			return nil, false, false
		default:
		}
		size, prefixed, err := frameLen(data, max)
		if err != nil {
			c.logReadErr(err)
			return nil, false, false
		}
		if !prefixed || len(data)-4 < size {
			break
		}
		frame := data[4 : 4+size]
		if onLoop && l.mayWait(c, frame) {
			c.ev.keep(data)
			l.pause(c, offLoop)
			l.goOffLoop(c)
			return nil, true, true
		}
		if !onLoop && !c.throttle() {
			return nil, false, false
		}
		if !l.s.handleRequest(c, frame) {
			return nil, false, false
		}
		data = data[4+size:]
	}
	return data, true, false
}

// mayWait reports whether the request in frame may block its reader: an
// ensemble member's write or sync (the leader may be changing), or any
// request while the server is over globalOutstandingLimit and c has some
// in flight (throttle).
func (l *evloop) mayWait(c *conn, frame []byte) bool {
	s := l.s
	if s.peer != nil && len(frame) >= 8 {
		op := int32(binary.BigEndian.Uint32(frame[4:]))
		if isWrite(op) || op == wire.OpSync {
			return true
		}
	}
	if limit := s.inflight.max; limit > 0 && s.inflight.n.Load() > limit {
		c.mu.Lock()
		mine := c.outstanding
		c.mu.Unlock()
		return mine > 0
	}
	return false
}

// offLoopIdle is how long an offLoop worker waits for its next
// connection before it ends.
const offLoopIdle = time.Second

// goOffLoop runs offLoop(c) on a worker: an idle one if there is one, else
// a new one. A worker waits offLoopIdle for more once it is done, and
// keeps the stack it grew: a goroutine of its own for each request of an
// ensemble member that may wait (every write) grew its stack from 8 KB in
// the prep step each time, and copying stacks took 9% of a leader's CPU
// with one client writing. It never blocks (l.mu may be held).
func (l *evloop) goOffLoop(c *conn) {
	select {
	case l.idle <- c:
	default:
		l.s.wg.Add(1)
		go l.offWorker(c)
	}
}

// offWorker runs offLoop for c, then for each connection handed to it
// while idle, until it has been idle for offLoopIdle or the server stops.
func (l *evloop) offWorker(c *conn) {
	defer l.s.wg.Done()
	idle := time.NewTimer(offLoopIdle)
	defer idle.Stop()
	for {
		l.offLoop(c)
		idle.Reset(offLoopIdle)
		select {
		case c = <-l.idle:
		case <-idle.C:
			return
		case <-l.s.quit:
			return
		}
	}
}

// offLoop reads c's pending requests off the loop, as c's reader, and
// gives c back to the loop when it has handled them all, or has to stop
// for the writer. The caller set offLoop.
func (l *evloop) offLoop(c *conn) {
	defer l.resume(c, offLoop)
	defer l.dropOnPanic(c)
	rest, ok, _ := l.handleFrames(c, c.ev.pending, false)
	if !ok {
		l.drop(c)
		return
	}
	c.ev.keep(rest)
}

// pause stops the loop reading c for reason why.
func (l *evloop) pause(c *conn, why uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setPausedLocked(c, c.ev.paused.Load()|why)
}

// resume lifts reason why.
func (l *evloop) resume(c *conn, why uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if was := c.ev.paused.Load(); was&why != 0 {
		l.setPausedLocked(c, was&^why)
	}
}

// setPausedLocked sets c's reasons and makes the poller report c exactly
// while it has none but readingNow. When the last reason goes and pending
// already holds a whole request (it stopped for the writer), no byte may
// come to wake the loop for it: a goroutine reads it (offLoop) instead.
// l.mu is held.
func (l *evloop) setPausedLocked(c *conn, now uint32) {
	if now == 0 && !c.ev.gone && frameReady(c.ev.pending, l.s.maxFrame()) {
		now = offLoop
		l.goOffLoop(c)
	}
	c.ev.paused.Store(now)
	if c.ev.gone {
		return
	}
	if arm := now&^readingNow == 0; arm != c.ev.armed {
		c.ev.armed = arm
		if arm {
			_ = l.poller.Resume(c.raw, c.ev.token) // a closed socket is out of the set anyway
		} else {
			_ = l.poller.Pause(c.raw, c.ev.token)
		}
	}
}

// drop takes c out of the loop and ends it, once.
func (l *evloop) drop(c *conn) {
	l.mu.Lock()
	if c.ev.gone || l.conns[c.ev.token] != c {
		// Gone already, or never in: adopt failed (the socket closed
		// meanwhile) and c's own goroutine ends it.
		l.mu.Unlock()
		return
	}
	c.ev.gone = true
	delete(l.conns, c.ev.token)
	_ = l.poller.Remove(c.raw) // the socket may stay open a while (closeAfterFlush)
	l.mu.Unlock()
	// end may wait for the writer to flush (finish): not on the loop.
	go c.end()
}

// holdForWriter stops the loop reading c until its writer has sent what
// the socket did not take (writeOnce); writerDrained resumes it.
func (l *evloop) holdForWriter(c *conn) { l.pause(c, outputQueued) }

// writerDrained tells c's loop, if any, that the writer has sent all that
// was queued.
func (c *conn) writerDrained() {
	// Without the reason set there is nothing to lift: whoever sets it
	// then has the writer run once more (writeOnce).
	if c.ev.paused.Load()&outputQueued == 0 {
		return
	}
	if l := c.lp.Load(); l != nil {
		l.resume(c, outputQueued)
	}
}

// leaveLoop ends c's part in its loop when c closes (close).
func (c *conn) leaveLoop() {
	if l := c.lp.Load(); l != nil {
		l.drop(c)
	}
}

// evloopCount is how many loops a server runs: nio.numSelectorThreads,
// or by default Apache's count of NIO selector threads, the square root
// of half the cores and at least one. One loop served ~50k gets/s on the
// two cores of bench/results, the load generator beside it; two there
// gave a worse p99 than a goroutine per connection (one more goroutine
// woken per batch of requests, one more thread queued for the cores).
func evloopCount(cfg *config.Config) int {
	if cfg.ClientEventLoops >= 0 {
		return cfg.ClientEventLoops
	}
	return max(1, int(math.Sqrt(float64(runtime.GOMAXPROCS(0))/2)))
}
