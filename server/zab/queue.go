package zab

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/zkgo/zkgo/server/storage"
)

// applier is the one goroutine that calls StateMachine.Apply, in order.
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

// enqueue hands committed entries to the applier, in zxid order.
func (a *applier) enqueue(es []storage.Entry) {
	if len(es) == 0 {
		return
	}
	a.mu.Lock()
	a.queue = append(a.queue, es...)
	a.mu.Unlock()
	a.signal()
}

func (a *applier) run() {
	defer close(a.done)
	for {
		a.mu.Lock()
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
		for _, e := range batch {
			if e.Zxid <= a.applied.Load() {
				continue // already in the state (a snapshot covered it)
			}
			a.p.sm.Apply(e)
			a.applied.Store(e.Zxid)
		}
		a.mu.Lock()
		a.broadcastLocked()
		a.mu.Unlock()
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
// SyncRequestProcessor.
type appender struct {
	store     *storage.Store
	onDurable func(last int64)
	onError   func(err error)

	mu      sync.Mutex
	queue   []storage.Entry
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
	select {
	case ap.wake <- struct{}{}:
	default:
	}
}

func (ap *appender) stop() {
	ap.mu.Lock()
	ap.closed = true
	ap.mu.Unlock()
	select {
	case ap.wake <- struct{}{}:
	default:
	}
	<-ap.done
}

func (ap *appender) run() {
	defer close(ap.done)
	for {
		ap.mu.Lock()
		batch := ap.queue
		ap.queue = nil
		closed, failed := ap.closed, ap.failed
		ap.mu.Unlock()
		if len(batch) == 0 || failed != nil {
			if closed {
				return
			}
			<-ap.wake
			continue
		}
		if err := ap.store.Append(batch); err != nil {
			err = fmt.Errorf("append %d txns at 0x%x: %w", len(batch), batch[0].Zxid, err)
			ap.mu.Lock()
			ap.failed = err
			close(ap.changed)
			ap.changed = make(chan struct{})
			ap.mu.Unlock()
			ap.onError(err)
			continue
		}
		last := batch[len(batch)-1].Zxid
		ap.mu.Lock()
		ap.durable = last
		close(ap.changed)
		ap.changed = make(chan struct{})
		ap.mu.Unlock()
		ap.onDurable(last)
	}
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
	closed bool
	busy   bool          // the writer is sending what take returned
	sent   chan struct{} // closed and replaced when busy ends or on close
	wake   chan struct{}
}

func newSendQueue() *sendQueue {
	return &sendQueue{wake: make(chan struct{}, 1), sent: make(chan struct{})}
}

// waitSent waits until every packet pushed before the call has been
// written and flushed, the queue is closed, or ctx ends.
func (q *sendQueue) waitSent(ctx context.Context) {
	for {
		q.mu.Lock()
		done := q.closed || (len(q.items) == 0 && !q.busy)
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
	close(q.sent)
	q.sent = make(chan struct{})
}

func (q *sendQueue) push(p Packet) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, p)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *sendQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.signalSentLocked()
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take waits for packets; it returns nil once the queue is closed.
func (q *sendQueue) take() []Packet {
	for {
		q.mu.Lock()
		items, closed := q.items, q.closed
		q.items = nil
		q.busy = len(items) > 0 && !closed
		q.mu.Unlock()
		if closed {
			return nil
		}
		if len(items) > 0 {
			return items
		}
		<-q.wake
	}
}

// writeLoop sends the queue's packets on c until the queue is closed or
// the connection fails; then it closes c.
func (q *sendQueue) writeLoop(c Conn) {
	defer c.Close()
	for {
		items := q.take()
		if items == nil {
			return
		}
		for _, p := range items {
			if err := c.Send(p.Marshal()); err != nil {
				q.close()
				return
			}
		}
		if err := c.Flush(); err != nil {
			q.close()
			return
		}
		q.mu.Lock()
		q.busy = false
		q.signalSentLocked()
		q.mu.Unlock()
	}
}
