package zab

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/zkgo/zkgo/server/storage"
)

// applier calls StateMachine.Apply, in order, one batch at a time: its
// goroutine, or a caller of applyHere while that goroutine is idle (the
// busy flag is the turn).
type applier struct {
	p       *Peer
	applied atomic.Int64

	mu      sync.Mutex
	queue   []storage.Entry
	busy    bool
	closed  bool
	wake    chan struct{} // signalled when the queue grows or on stop
	changed chan struct{} // closed and replaced whenever applied moves or the queue drains
	done    chan struct{}
}

func newApplier(p *Peer) *applier {
	return &applier{p: p, wake: make(chan struct{}, 1), changed: make(chan struct{}), done: make(chan struct{})}
}

func (a *applier) start() { go a.run() }

func (a *applier) stop() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.signal()
	<-a.done
}

func (a *applier) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// enqueue hands committed entries to the applier goroutine, in zxid order.
func (a *applier) enqueue(es []storage.Entry) {
	if a.add(es) {
		a.signal()
	}
}

// add queues committed entries, in zxid order, without waking the
// applier goroutine; the caller calls applyHere next. It reports whether
// anything was added.
func (a *applier) add(es []storage.Entry) bool {
	if len(es) == 0 {
		return false
	}
	a.mu.Lock()
	a.queue = append(a.queue, es...)
	a.mu.Unlock()
	return true
}

// applyHere applies what is queued on the calling goroutine when the
// applier goroutine is idle, which spares its wake-up (a thread hand-off
// costs more than applying one txn); otherwise it wakes the applier.
func (a *applier) applyHere() {
	a.mu.Lock()
	if a.busy || a.closed || len(a.queue) == 0 {
		wake := len(a.queue) > 0 || a.closed
		a.mu.Unlock()
		if wake {
			a.signal()
		}
		return
	}
	batch := a.queue
	a.queue = nil
	a.busy = true
	a.mu.Unlock()
	a.apply(batch)
	a.mu.Lock()
	a.busy = false
	a.broadcastLocked()
	wake := len(a.queue) > 0 || a.closed
	a.mu.Unlock()
	if wake {
		a.signal()
	}
}

func (a *applier) run() {
	defer close(a.done)
	for {
		a.mu.Lock()
		if a.busy {
			// applyHere is at work; it wakes us when it leaves work
			// behind or when we are closed.
			a.mu.Unlock()
			<-a.wake
			continue
		}
		batch := a.queue
		a.queue = nil
		closed := a.closed
		a.busy = len(batch) > 0
		if len(batch) == 0 {
			a.broadcastLocked()
		}
		a.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-a.wake
			continue
		}
		a.apply(batch)
		a.mu.Lock()
		a.busy = false
		a.broadcastLocked()
		a.mu.Unlock()
	}
}

// apply hands a batch to the state machine; the caller holds the busy flag.
func (a *applier) apply(batch []storage.Entry) {
	for _, e := range batch {
		if e.Zxid <= a.applied.Load() {
			continue // already in the state (a snapshot covered it)
		}
		a.p.sm.Apply(e)
		a.applied.Store(e.Zxid)
	}
}

func (a *applier) broadcastLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// waitIdle waits until everything enqueued has been applied.
func (a *applier) waitIdle(ctx context.Context) error {
	for {
		a.mu.Lock()
		idle := len(a.queue) == 0 && !a.busy
		ch := a.changed
		a.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// waitApplied waits until the txn zxid (and all before it) is applied.
func (a *applier) waitApplied(ctx context.Context, zxid int64) error {
	for {
		a.mu.Lock()
		ch := a.changed
		a.mu.Unlock()
		if a.applied.Load() >= zxid {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// restore replaces the state with a snapshot; the applier must be idle.
func (a *applier) restore(ctx context.Context, zxid int64, r io.Reader) error {
	if err := a.waitIdle(ctx); err != nil {
		return err
	}
	if err := a.p.sm.Restore(zxid, r); err != nil {
		return fmt.Errorf("restore snapshot 0x%x: %w", zxid, err)
	}
	a.applied.Store(zxid)
	a.mu.Lock()
	a.broadcastLocked()
	a.mu.Unlock()
	return nil
}

// appender writes log entries in the background, one Store.Append (one
// fsync) for everything waiting: group commit, as Apache's
// SyncRequestProcessor. A caller that knows nothing else is coming may
// write an entry itself instead (appendHere).
type appender struct {
	store     *storage.Store
	onDurable func(last int64)
	onError   func(err error)

	mu      sync.Mutex
	queue   []storage.Entry
	busy    bool // an Append is in progress (run's or appendHere's)
	durable int64
	closed  bool
	failed  error
	wake    chan struct{}
	changed chan struct{}
	done    chan struct{}
}

func newAppender(store *storage.Store, durable int64, onDurable func(int64), onError func(error)) *appender {
	ap := &appender{store: store, durable: durable, onDurable: onDurable, onError: onError,
		wake: make(chan struct{}, 1), changed: make(chan struct{}), done: make(chan struct{})}
	go ap.run()
	return ap
}

func (ap *appender) append(e storage.Entry) {
	ap.mu.Lock()
	ap.queue = append(ap.queue, e)
	ap.mu.Unlock()
	ap.signal()
}

func (ap *appender) signal() {
	select {
	case ap.wake <- struct{}{}:
	default:
	}
}

// appendHere logs e on the calling goroutine, fsync and onDurable
// included, when the appender is idle (nothing queued, no write in
// progress): with one txn in flight that spares two thread hand-offs. It
// reports false, having done nothing, otherwise; the caller then calls
// append. Entries must still come in zxid order across both calls.
func (ap *appender) appendHere(e storage.Entry) bool {
	ap.mu.Lock()
	if ap.busy || len(ap.queue) > 0 || ap.closed || ap.failed != nil {
		ap.mu.Unlock()
		return false
	}
	ap.busy = true
	ap.mu.Unlock()
	ap.write([]storage.Entry{e})
	ap.mu.Lock()
	ap.busy = false
	wake := len(ap.queue) > 0 || ap.closed
	ap.mu.Unlock()
	if wake {
		ap.signal()
	}
	return true
}

func (ap *appender) stop() {
	ap.mu.Lock()
	ap.closed = true
	ap.mu.Unlock()
	ap.signal()
	<-ap.done
}

func (ap *appender) run() {
	defer close(ap.done)
	for {
		ap.mu.Lock()
		busy := ap.busy // appendHere is writing; it wakes us when done
		var batch []storage.Entry
		if !busy {
			batch = ap.queue
			ap.queue = nil
		}
		closed, failed := ap.closed, ap.failed
		ap.busy = busy || (len(batch) > 0 && failed == nil)
		ap.mu.Unlock()
		if busy || len(batch) == 0 || failed != nil {
			if closed && !busy {
				return
			}
			<-ap.wake
			continue
		}
		ap.write(batch)
		ap.mu.Lock()
		ap.busy = false
		ap.mu.Unlock()
	}
}

// write appends a batch and reports the outcome (onDurable or onError)
// before the caller clears busy, so that outcomes come in zxid order.
func (ap *appender) write(batch []storage.Entry) {
	if err := ap.store.Append(batch); err != nil {
		err = fmt.Errorf("append %d txns at 0x%x: %w", len(batch), batch[0].Zxid, err)
		ap.mu.Lock()
		ap.failed = err
		ap.broadcastLocked()
		ap.mu.Unlock()
		ap.onError(err)
		return
	}
	last := batch[len(batch)-1].Zxid
	ap.mu.Lock()
	ap.durable = last
	ap.broadcastLocked()
	ap.mu.Unlock()
	ap.onDurable(last)
}

// broadcastLocked wakes waitDurable callers: durable or failed moved.
func (ap *appender) broadcastLocked() {
	close(ap.changed)
	ap.changed = make(chan struct{})
}

// waitDurable waits until zxid is on disk.
func (ap *appender) waitDurable(ctx context.Context, zxid int64) error {
	for {
		ap.mu.Lock()
		d, ch, err := ap.durable, ap.changed, ap.failed
		ap.mu.Unlock()
		if err != nil {
			return err
		}
		if d >= zxid {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// sendQueue is an unbounded FIFO of packets for one connection; its
// writer sends everything queued and flushes once (batching).
type sendQueue struct {
	mu     sync.Mutex
	items  []Packet
	conn   Conn // set by writeLoop; send writes on it directly
	closed bool
	busy   bool          // the writer (or send) is writing
	sent   chan struct{} // made by waitSent, closed when busy ends or on close
	wake   chan struct{}
	spare  []Packet // a sent batch's slice, emptied, for items to reuse
	frame  []byte   // marshalling scratch of whoever holds busy (Send copies)
}

func newSendQueue() *sendQueue {
	return &sendQueue{wake: make(chan struct{}, 1)}
}

// waitSent waits until every packet pushed before the call has been
// written and flushed, the queue is closed, or ctx ends.
func (q *sendQueue) waitSent(ctx context.Context) {
	for {
		q.mu.Lock()
		done := q.closed || (len(q.items) == 0 && !q.busy)
		if !done && q.sent == nil {
			q.sent = make(chan struct{})
		}
		ch := q.sent
		q.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// signalSentLocked wakes waitSent callers; q.mu is held.
func (q *sendQueue) signalSentLocked() {
	if q.sent != nil {
		close(q.sent)
		q.sent = nil
	}
}

func (q *sendQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// push queues p for the writer goroutine; it never blocks.
func (q *sendQueue) push(p Packet) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if q.items == nil {
		q.items, q.spare = q.spare, nil
	}
	q.items = append(q.items, p)
	q.mu.Unlock()
	q.signal()
}

// send writes p on the calling goroutine when nothing is queued or being
// written, which spares the writer's wake-up; otherwise it queues p. The
// write may block while the peer does not read, so only a learner uses
// it, whose watchdog closes a connection that stalls; the leader, which
// must never block on one learner, pushes.
func (q *sendQueue) send(p Packet) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	c := q.conn
	if q.busy || len(q.items) > 0 || c == nil {
		q.items = append(q.items, p)
		q.mu.Unlock()
		q.signal()
		return
	}
	q.busy = true
	q.mu.Unlock()
	q.frame = p.AppendTo(q.frame[:0])
	err := c.Send(q.frame)
	if err == nil {
		err = c.Flush()
	}
	q.mu.Lock()
	q.busy = false
	q.signalSentLocked()
	wake := len(q.items) > 0
	q.mu.Unlock()
	if err != nil {
		q.close() // the writer ends and closes the connection
		return
	}
	if wake {
		q.signal()
	}
}

func (q *sendQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.signalSentLocked()
	q.mu.Unlock()
	q.signal()
}

// take waits for packets; ok is false once the queue is closed.
func (q *sendQueue) take() (items []Packet, ok bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, false
		}
		if !q.busy && len(q.items) > 0 {
			items = q.items
			q.items = nil
			q.busy = true
			q.mu.Unlock()
			return items, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

// writeLoop sends the queue's packets on c until the queue is closed or
// the connection fails; then it closes c.
func (q *sendQueue) writeLoop(c Conn) {
	defer c.Close()
	q.mu.Lock()
	q.conn = c
	q.mu.Unlock()
	for {
		items, ok := q.take()
		if !ok {
			return
		}
		for _, p := range items {
			q.frame = p.AppendTo(q.frame[:0])
			if err := c.Send(q.frame); err != nil {
				q.close()
				return
			}
		}
		if err := c.Flush(); err != nil {
			q.close()
			return
		}
		clear(items)
		q.mu.Lock()
		q.busy = false
		q.signalSentLocked()
		if q.spare == nil {
			q.spare = items[:0]
		}
		q.mu.Unlock()
	}
}
