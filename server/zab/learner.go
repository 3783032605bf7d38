package zab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/server/storage"
)

// learner is the state of a follower or observer connected to a leader;
// mu guards it. runLearner reads the connection; a sendQueue writes it;
// an appender logs proposals.
type learner struct {
	p        *Peer
	leaderID int64
	observer bool
	started  time.Time // connecting to the leader began
	conn     Conn
	out      *sendQueue
	app      *appender
	heard    atomic.Int64 // unix nanos of the last packet from the leader
	done     chan struct{}

	mu         sync.Mutex
	epoch      int64
	lastQueued int64
	durable    int64
	commit     int64
	pending    []storage.Entry
	nlAcked    bool
	uptodate   bool
	reqSeq     int64
	syncSeq    int64
	syncs      map[int64]chan int64
	// dispatched is the last zxid handed to the applier.
	dispatched int64

	// masterID is the follower this observer syncs with (0: the leader).
	masterID int64
	// A follower's observers (observermaster.go), under mu: every
	// connection, those in the forwarding set, and their waiting syncs.
	obsHandlers      map[*observerHandler]bool
	observers        map[*observerHandler]bool
	obsSyncs         []observerSync
	closingObservers bool
	obsWG            sync.WaitGroup
}

var errLostPacket = errors.New("lost or reordered packet from the leader")

func (p *Peer) runLearner(ctx context.Context, leaderID int64) error {
	st := Following
	if p.v().observer {
		st = Observing
	}
	p.setRole(st, leaderID, "discovery", false)
	// Leaving: the txns the leader committed (a reconfig that removed it,
	// above all) are applied first, so their clients get their answers
	// before this member stops serving them.
	defer func() {
		p.applyCommitted(ctx)
		p.setRole(Looking, 0, "election", false)
	}()
	started := time.Now()
	initWait := p.cfg.TickTime * time.Duration(p.cfg.InitLimit)
	var conn Conn
	var info Packet
	var masterID int64
	var err error
	if p.v().observer && p.cfg.ObserverMasterPort > 0 {
		conn, info, masterID, err = p.registerWithMaster(ctx, leaderID, min(initWait/2, 2*p.cfg.TickTime))
		if err != nil && ctx.Err() == nil {
			p.log.Info("no follower serves observers, observing the leader", "leader", leaderID, "err", err)
		}
	}
	if conn == nil {
		conn, info, err = p.registerWithLeader(ctx, leaderID, initWait)
		if err != nil {
			p.noteLeaderGone(leaderID, err)
			return err
		}
	}
	lr := &learner{
		p: p, leaderID: leaderID, observer: p.v().observer, conn: conn, masterID: masterID, started: started,
		out: newSendQueue(), done: make(chan struct{}), syncs: make(map[int64]chan int64),
		obsHandlers: make(map[*observerHandler]bool), observers: make(map[*observerHandler]bool),
	}
	lr.heard.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	defer func() {
		close(lr.done)
		lr.out.close()
		_ = conn.Close()
		lr.closeObservers()
		wg.Wait()
		if lr.app != nil {
			lr.app.stop()
		}
		p.mu.Lock()
		p.learner = nil
		p.mu.Unlock()
	}()
	p.mu.Lock()
	p.learner = lr
	p.mu.Unlock()
	wg.Add(2)
	go func() {
		defer wg.Done()
		lr.out.writeLoop(conn)
	}()
	go func() {
		defer wg.Done()
		lr.watchdog(ctx)
	}()
	if !lr.observer && p.cfg.ObserverMasterPort > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lr.observerTicks()
		}()
	}
	err = lr.run(ctx, info)
	if ctx.Err() != nil {
		return nil
	}
	if masterID == 0 {
		// A follower serving this observer going away says nothing
		// about the leader.
		p.noteLeaderGone(leaderID, err)
	}
	return err
}

// noteLeaderGone tells the election that the leader is down when its
// connection broke the way a crash breaks it (end of stream, reset,
// refused), so that the next election need not wait for its vote.
func (p *Peer) noteLeaderGone(leaderID int64, err error) {
	if p.elect != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)) {
		p.elect.setDown(leaderID, true)
	}
}

// registerWithLeader dials the leader's quorum port, sends FOLLOWERINFO
// (OBSERVERINFO) and reads LEADERINFO, retrying until initLimit ticks
// pass: the leader may still be finishing its election and close us.
func (p *Peer) registerWithLeader(ctx context.Context, leaderID int64, wait time.Duration) (Conn, Packet, error) {
	deadline := time.Now().Add(wait)
	// The elected leader may not accept learners yet (it closes them until
	// its own election returns, usually within a millisecond): retry soon,
	// then back off to half a tick.
	maxRetry := min(p.cfg.TickTime/2, time.Second)
	retry := min(5*time.Millisecond, maxRetry)
	info := PacketFollowerInfo
	if p.v().observer {
		info = PacketObserverInfo
	}
	// A leader that says it does not lead (it stepped down, or lost the
	// election we settled on a stale view of) is not waited for.
	notLeading := make(chan struct{})
	p.mu.Lock()
	p.notLeading, p.registeringTo = notLeading, leaderID
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.notLeading == notLeading {
			p.notLeading = nil
		}
		p.mu.Unlock()
	}()
	for {
		c, pkt, err := p.tryRegister(ctx, leaderID, ChannelQuorum, info, deadline)
		if err == nil {
			return c, pkt, nil
		}
		if ctx.Err() != nil || time.Now().Add(retry).After(deadline) {
			return nil, Packet{}, fmt.Errorf("connect to leader %d: %w", leaderID, err)
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, Packet{}, ctx.Err()
		case <-notLeading:
			t.Stop()
			return nil, Packet{}, fmt.Errorf("connect to leader %d: it does not lead (%w)", leaderID, err)
		case <-t.C:
		}
		retry = min(2*retry, maxRetry)
	}
}

// tryRegister dials member id's ch port (the leader's quorum port, or a
// follower's observer master port), sends FOLLOWERINFO (OBSERVERINFO)
// and reads LEADERINFO.
func (p *Peer) tryRegister(ctx context.Context, id int64, ch Channel, info PacketType, deadline time.Time) (Conn, Packet, error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := p.transport.Dial(dctx, id, ch)
	if err != nil {
		return nil, Packet{}, err
	}
	stop := context.AfterFunc(dctx, func() { _ = c.Close() })
	defer stop()
	accepted, _ := p.epochs()
	err = c.Send(Packet{Type: info, Zxid: makeZxid(accepted, 0), Data: int64Bytes(p.id)}.Marshal())
	if err == nil {
		err = c.Flush()
	}
	var b []byte
	if err == nil {
		b, err = c.Recv()
	}
	var pkt Packet
	if err == nil {
		pkt, err = UnmarshalPacket(b)
	}
	if err == nil && pkt.Type != PacketLeaderInfo {
		err = fmt.Errorf("first packet from leader is %s, want LEADERINFO", pkt.Type)
	}
	if err != nil {
		_ = c.Close()
		return nil, Packet{}, err
	}
	return c, pkt, nil
}

// watchdog closes the connection when the leader has been silent for
// initLimit ticks (until UPTODATE) or syncLimit ticks (after), which sends
// this member back to looking, as Apache's socket read timeout does.
func (lr *learner) watchdog(ctx context.Context) {
	cfg := lr.p.cfg
	t := time.NewTicker(cfg.TickTime / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = lr.conn.Close()
			return
		case <-lr.done:
			return
		case <-t.C:
		}
		lr.mu.Lock()
		limit := cfg.InitLimit
		if lr.uptodate {
			limit = cfg.SyncLimit
		}
		lr.mu.Unlock()
		silent := time.Duration(time.Now().UnixNano() - lr.heard.Load())
		if silent > cfg.TickTime*time.Duration(limit) {
			lr.p.log.Warn("leader silent for too long, closing", "leader", lr.leaderID, "silent", silent)
			_ = lr.conn.Close()
			return
		}
	}
}

func (lr *learner) recv() (Packet, error) {
	b, err := lr.conn.Recv()
	if err != nil {
		if lr.masterID != 0 {
			return Packet{}, fmt.Errorf("read from observer master %d: %w", lr.masterID, err)
		}
		return Packet{}, fmt.Errorf("read from leader %d: %w", lr.leaderID, err)
	}
	lr.heard.Store(time.Now().UnixNano())
	return UnmarshalPacket(b)
}

// run is Learner.registerWithLeader + syncWithLeader + the follower's
// main loop.
func (lr *learner) run(ctx context.Context, info Packet) error {
	p := lr.p
	accepted, current := p.epochs()
	pkt := info
	var err error
	newEpoch := zxidEpoch(pkt.Zxid)
	ackData := make([]byte, 4)
	switch {
	case newEpoch > accepted:
		if err := p.setAcceptedEpoch(newEpoch); err != nil {
			return err
		}
		binary.BigEndian.PutUint32(ackData, uint32(int32(current)))
	case newEpoch == accepted:
		binary.BigEndian.PutUint32(ackData, 0xffffffff) // -1: already accepted
	default:
		return fmt.Errorf("leader proposed epoch %d, less than our accepted epoch %d", newEpoch, accepted)
	}
	lr.epoch = newEpoch
	p.setPhase("synchronization")
	lr.out.push(Packet{Type: PacketAckEpoch, Zxid: p.getLastLogged(), Data: ackData})

	// The synchronisation header.
	for {
		pkt, err = lr.recv()
		if err != nil {
			return err
		}
		if pkt.Type != PacketLeaderInfo {
			break
		}
	}
	if err := lr.syncHeader(ctx, pkt); err != nil {
		return err
	}
	header := pkt
	lr.app = newAppender(p.store, lr.durable, lr.onDurable, func(err error) {
		p.noteLogFailure(err)
		p.log.Error("txn log append failed", "err", err)
		_ = lr.conn.Close()
	})
	for {
		pkt, err := lr.recv()
		if err != nil {
			return err
		}
		switch pkt.Type {
		case PacketProposal:
			if lr.broadcasting() {
				p.metrics.LearnerProposalReceived.Add(1)
				if len(pkt.Data) > 8 {
					p.txnAge(p.metrics.ProposalLatency, pkt.Data[8:])
				}
			}
			if err := lr.logTxn(pkt); err != nil {
				return err
			}
		case PacketInform:
			if lr.broadcasting() {
				p.metrics.LearnerCommitReceived.Add(1)
			}
			if err := lr.logTxn(pkt); err != nil {
				return err
			}
			if err := lr.commitTo(pkt.Zxid, quiet(lr.conn)); err != nil {
				return err
			}
		case PacketCommit:
			lr.countCommits(pkt.Zxid)
			if err := lr.commitTo(pkt.Zxid, quiet(lr.conn)); err != nil {
				return err
			}
		case PacketNewLeader:
			if err := lr.newLeader(ctx, pkt); err != nil {
				return err
			}
		case PacketUpToDate:
			lr.upToDate()
		case PacketPing:
			if pkt.Zxid > 0 {
				if err := lr.commitTo(pkt.Zxid, false); err != nil {
					return err
				}
			}
			if len(pkt.Data) > 0 && pkt.Data[0] == 1 {
				lr.upToDate()
			}
			checkPingDigests(p.sm, pkt.Data)
			lr.mu.Lock()
			var ack int64
			if lr.nlAcked && !lr.observer {
				ack = max(lr.durable, makeZxid(lr.epoch, 0))
			}
			lr.mu.Unlock()
			lr.out.send(Packet{Type: PacketPing, Zxid: ack, Data: encodeSessions(p.takeTouched())})
		case PacketSync:
			c, err := bytesInt64(pkt.Data)
			if err != nil {
				return err
			}
			lr.mu.Lock()
			ch := lr.syncs[pkt.Zxid]
			delete(lr.syncs, pkt.Zxid)
			lr.mu.Unlock()
			if ch != nil {
				ch <- c
			}
		case PacketLeaderInfo:
		case PacketDiff, PacketTrunc, PacketSnap:
			if pkt.Type != header.Type || pkt.Zxid != header.Zxid {
				return fmt.Errorf("second sync header %s", pkt)
			}
		case PacketSnapChunk, PacketSnapEnd:
			// A duplicate of the snapshot's end.
		default:
			return fmt.Errorf("unexpected packet from leader: %s", pkt)
		}
	}
}

// syncHeader applies DIFF, TRUNC or SNAP and loads the logged txns not
// yet applied.
func (lr *learner) syncHeader(ctx context.Context, pkt Packet) error {
	p := lr.p
	applied := p.applier.applied.Load()
	switch pkt.Type {
	case PacketDiff:
	case PacketTrunc:
		if pkt.Zxid < applied {
			return fmt.Errorf("leader asks to truncate after 0x%x, but 0x%x is already applied", pkt.Zxid, applied)
		}
		if err := p.store.TruncateAfter(pkt.Zxid); err != nil {
			return fmt.Errorf("TRUNC: %w", err)
		}
		p.log.Info("txn log truncated by the leader", "zxid", fmt.Sprintf("0x%x", pkt.Zxid))
	case PacketSnap:
		// The chunks go straight to a snapshot file, which the state is
		// then restored from: the learner never holds the whole snapshot
		// in memory.
		var s, size int64
		err := p.store.WriteSnapshotThen(func(w io.Writer) (int64, error) {
			for {
				c, err := lr.recv()
				if err != nil {
					return 0, err
				}
				if c.Type == PacketSnapEnd {
					n, err := bytesInt64(c.Data)
					if err != nil {
						return 0, err
					}
					if n != size {
						return 0, fmt.Errorf("%w: snapshot of %d bytes, got %d", errLostPacket, n, size)
					}
					s = c.Zxid
					break
				}
				if c.Type != PacketSnapChunk {
					return 0, fmt.Errorf("got %s inside a snapshot", c.Type)
				}
				if c.Zxid < size && c.Zxid+int64(len(c.Data)) <= size {
					continue // duplicate
				}
				if c.Zxid != size {
					return 0, fmt.Errorf("%w: snapshot chunk at %d, have %d bytes", errLostPacket, c.Zxid, size)
				}
				if _, err := w.Write(c.Data); err != nil {
					return 0, err
				}
				size += int64(len(c.Data))
			}
			if err := p.applier.waitIdle(ctx); err != nil {
				return 0, err
			}
			// The log and older snapshots describe a history being
			// replaced; this snapshot appears once they are gone.
			if err := p.store.TruncateAfter(0); err != nil {
				return 0, fmt.Errorf("clear log: %w", err)
			}
			return s, nil
		})
		if err != nil {
			return fmt.Errorf("SNAP: %w", err)
		}
		z, body, ok, err := p.store.LatestSnapshot()
		if err == nil && (!ok || z != s) {
			err = fmt.Errorf("the snapshot written at 0x%x is not the newest (ok %v, 0x%x)", s, ok, z)
		}
		if err != nil {
			if ok {
				_ = body.Close()
			}
			return fmt.Errorf("SNAP: %w", err)
		}
		err = p.applier.restore(ctx, s, body)
		_ = body.Close()
		if err != nil {
			return fmt.Errorf("SNAP: %w", err)
		}
		applied = s
		p.log.Info("state replaced by the leader's snapshot", "zxid", fmt.Sprintf("0x%x", s), "bytes", size)
	default:
		return fmt.Errorf("got %s, want DIFF, TRUNC or SNAP", pkt.Type)
	}
	last := max(p.store.LastZxid(), applied)
	p.mu.Lock()
	p.lastSync = [...]string{PacketDiff: "DIFF", PacketTrunc: "TRUNC", PacketSnap: "SNAP"}[pkt.Type]
	// Apache's detailed peer state names the sync mode until UPTODATE.
	p.phase = "synchronization - " + strings.ToLower(p.lastSync)
	p.mu.Unlock()
	var pending []storage.Entry
	err := p.store.Replay(applied, func(e storage.Entry) error {
		pending = append(pending, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	lr.mu.Lock()
	lr.pending = pending
	lr.lastQueued, lr.durable = last, last
	lr.dispatched = applied
	lr.mu.Unlock()
	p.setLastLogged(last)
	return nil
}

// logTxn logs a PROPOSAL (or an observer's INFORM). Its prefix names the
// txn before it; a mismatch means a packet was lost: reconnect rather
// than log a history with a hole. When the txn is the only one in hand
// (everything before it committed, nothing more from the leader
// buffered) and the appender is idle, the reader logs it itself and sends
// the ACK: at low load that spares three thread hand-offs per txn.
// Otherwise the appender group-commits it, and the reader goes on reading
// the COMMITs of earlier txns while the fsync runs.
func (lr *learner) logTxn(pkt Packet) error {
	prev, err := bytesInt64(pkt.Data)
	if err != nil {
		return err
	}
	lr.mu.Lock()
	if pkt.Zxid <= lr.lastQueued {
		lr.mu.Unlock()
		return nil // duplicate
	}
	if prev != lr.lastQueued {
		lr.mu.Unlock()
		return fmt.Errorf("%w: txn 0x%x follows 0x%x, last logged 0x%x", errLostPacket, pkt.Zxid, prev, lr.lastQueued)
	}
	alone := lr.commit == lr.lastQueued
	e := storage.Entry{Zxid: pkt.Zxid, Data: pkt.Data[8:]}
	lr.pending = append(lr.pending, e)
	lr.lastQueued = e.Zxid
	lr.mu.Unlock()
	// Only this goroutine logs, so entries reach the appender in order.
	if !alone || !quiet(lr.conn) || !lr.app.appendHere(e) {
		lr.app.append(e)
	}
	return nil
}

// commitTo records the leader's COMMIT. here (nothing else to read) lets
// the reader apply the txns itself when the applier is idle.
// broadcasting reports whether the learner is past its sync (UPTODATE):
// Apache's learners count proposals and commits only then.
func (lr *learner) broadcasting() bool {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.uptodate
}

// countCommits adds the txns a COMMIT up to z commits to
// learner_commit_received_count: Apache's leader sends a COMMIT per txn,
// zkgo's one for all that a quorum's ACKs commit at once.
func (lr *learner) countCommits(z int64) {
	lr.mu.Lock()
	old, broadcasting := lr.commit, lr.uptodate
	lr.mu.Unlock()
	if z <= old || !broadcasting {
		return
	}
	n := zxidCounter(z)
	if zxidEpoch(z) == zxidEpoch(old) {
		n -= zxidCounter(old)
	}
	lr.p.metrics.LearnerCommitReceived.Add(n)
}

func (lr *learner) commitTo(z int64, here bool) error {
	lr.mu.Lock()
	if z > lr.lastQueued {
		lr.mu.Unlock()
		return fmt.Errorf("%w: commit of 0x%x, last logged 0x%x", errLostPacket, z, lr.lastQueued)
	}
	queued := false
	if z > lr.commit {
		lr.commit = z
		queued = lr.dispatchLocked()
	}
	lr.mu.Unlock()
	switch {
	case queued && here:
		lr.p.applier.applyHere()
	case queued:
		lr.p.applier.signal()
	}
	return nil
}

func (lr *learner) onDurable(z int64) {
	lr.mu.Lock()
	lr.durable = max(lr.durable, z)
	queued := lr.dispatchLocked()
	ack := !lr.observer && lr.nlAcked
	lr.mu.Unlock()
	if queued {
		lr.p.applier.signal()
	}
	lr.p.setLastLogged(z)
	if ack {
		lr.out.send(Packet{Type: PacketAck, Zxid: z})
	}
}

// dispatchLocked queues the txns that are committed and logged for the
// applier, in order (under mu); the caller wakes it or applies them
// itself once it has let go of mu. It reports whether it queued any.
func (lr *learner) dispatchLocked() bool {
	upto := min(lr.commit, lr.durable)
	i := 0
	for i < len(lr.pending) && lr.pending[i].Zxid <= upto {
		i++
	}
	if i == 0 {
		return false
	}
	lr.p.applier.add(slices.Clone(lr.pending[:i]))
	lr.informObserversLocked(lr.pending[:i])
	lr.pending = slices.Delete(lr.pending, 0, i)
	return true
}

// newLeader: everything of the sync stream is on disk; adopt the epoch
// and acknowledge.
func (lr *learner) newLeader(ctx context.Context, pkt Packet) error {
	lr.mu.Lock()
	last := lr.lastQueued
	lr.mu.Unlock()
	if err := lr.app.waitDurable(ctx, last); err != nil {
		return err
	}
	e := zxidEpoch(pkt.Zxid)
	if _, cur := lr.p.epochs(); e > cur {
		if err := lr.p.setCurrentEpoch(e); err != nil {
			return err
		}
	}
	lr.mu.Lock()
	lr.nlAcked = true
	lr.mu.Unlock()
	lr.p.adoptEpoch(lr.leaderID, e)
	lr.out.send(Packet{Type: PacketAck, Zxid: pkt.Zxid})
	return nil
}

func (lr *learner) upToDate() {
	lr.mu.Lock()
	was := lr.uptodate
	lr.uptodate = lr.nlAcked
	now := lr.uptodate
	lr.mu.Unlock()
	if !was && now {
		st := Following
		if lr.observer {
			st = Observing
			lr.p.metrics.ObserverSyncTime.Add(time.Since(lr.started).Milliseconds())
		} else {
			lr.p.metrics.FollowerSyncTime.Add(time.Since(lr.started).Milliseconds())
		}
		if lr.masterID != 0 {
			lr.p.log.Info("synced with an observer master", "master", lr.masterID, "leader", lr.leaderID, "epoch", lr.epoch)
		} else {
			lr.p.log.Info("synced with the leader", "leader", lr.leaderID, "epoch", lr.epoch)
		}
		lr.p.setRole(st, lr.leaderID, "broadcast", true)
	}
}

func (lr *learner) forward(req []byte) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if !lr.uptodate {
		return ErrNoLeader
	}
	lr.reqSeq++
	lr.out.send(Packet{Type: PacketRequest, Zxid: lr.reqSeq, Data: req})
	return nil
}

// sync asks the leader for its committed zxid; the answer travels behind
// every COMMIT before it.
func (lr *learner) sync(ctx context.Context) (int64, error) {
	ch := make(chan int64, 1)
	lr.mu.Lock()
	if !lr.uptodate {
		lr.mu.Unlock()
		return 0, ErrNoLeader
	}
	lr.syncSeq++
	id := lr.syncSeq
	lr.syncs[id] = ch
	lr.mu.Unlock()
	defer func() {
		lr.mu.Lock()
		delete(lr.syncs, id)
		lr.mu.Unlock()
	}()
	lr.out.send(Packet{Type: PacketSync, Zxid: id})
	select {
	case c := <-ch:
		return c, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-lr.done:
		return 0, ErrNoLeader
	}
}

func (lr *learner) pendingSyncs() int {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return len(lr.syncs)
}
