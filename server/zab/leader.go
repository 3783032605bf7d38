package zab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/storage"
)

// protocolVersion is sent in LEADERINFO as Apache does (0x10000).
const protocolVersion = 0x10000

// leaderInfoData is LEADERINFO's data: the protocol version, then the id
// of the member that answers. An observer that dialed the observer master
// port learns from it whom it reached: on one host every voter's address
// is the same, so the id it dialed may not be the one that answered.
func leaderInfoData(id int64) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint32(b, protocolVersion)
	binary.BigEndian.PutUint64(b[4:], uint64(id))
	return b
}

// snapChunkSize is the payload of one SNAPCHUNK packet.
const snapChunkSize = 512 << 10

// leader is the state of a member while it leads; mu guards it. One
// goroutine per learner reads, one writes; runLeader waits and ticks.
type leader struct {
	p      *Peer
	ctx    context.Context
	cancel context.CancelFunc

	mu           sync.Mutex
	err          error
	stopped      bool
	epoch        int64
	epochDecided chan struct{}
	connEpochs   map[int64]int64 // accepted epochs of connecting members
	epochAcks    map[int64]bool
	epochAcked   chan struct{}
	myCurEpoch   int64
	myLast       int64
	established  bool
	estCh        chan struct{}
	nlAcks       map[int64]bool

	counter    int64
	pending    []storage.Entry // logged or proposed, not yet handed to the applier
	dispatched int64
	proposed   int64 // P: last zxid proposed
	durable    int64 // D: last zxid on the leader's disk
	committed  int64 // C: last zxid committed
	handlers   map[*learnerHandler]bool
	learners   map[int64]*learnerHandler // in the forwarding set, by sid
	tick       int64
	app        *appender
	wg         sync.WaitGroup
	syncs      []pendingSync // learners' syncs waiting for proposals to commit
	reconfig   *pendingReconfig
	// applyHere (set by ack around its work) has dispatchLocked queue
	// committed txns without waking the applier, and queuedHere record
	// that it did: ack applies them after letting go of mu.
	applyHere, queuedHere bool
	acks                  map[int64]int64 // maybeCommitLocked's scratch
}

// pendingReconfig is a proposed membership change not yet committed: it
// and everything after it commit only with quorums of both the current
// and the next configuration; at its commit the next one becomes active.
type pendingReconfig struct {
	zxid int64
	next *view
}

// pendingSync is a learner's SYNC parked until every proposal that was
// outstanding when it arrived has committed (Leader.processSync).
type pendingSync struct {
	h      *learnerHandler
	id     int64
	target int64
}

// learnerHandler is the leader's side of one learner connection
// (Apache's LearnerHandler). Its fields are guarded by leader.mu.
type learnerHandler struct {
	l         *leader
	conn      Conn
	out       *sendQueue
	sid       int64
	observer  bool
	lastHeard int64 // leader tick
	// Set by planSync.
	forwarding   bool
	planD, planP int64
	newLeaderAck bool
	uptodate     bool
	streamed     int64 // leader tick when the sync stream was sent; 0 before
	acked        int64 // cumulative ACK
	lastReqSeq   int64
}

func (p *Peer) runLeader(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	accepted, current := p.epochs()
	last := p.getLastLogged()
	l := &leader{
		p: p, ctx: ctx, cancel: cancel,
		epochDecided: make(chan struct{}), connEpochs: make(map[int64]int64),
		epochAcks: make(map[int64]bool), epochAcked: make(chan struct{}),
		estCh: make(chan struct{}), nlAcks: make(map[int64]bool),
		myCurEpoch: current, myLast: last,
		handlers: make(map[*learnerHandler]bool), learners: make(map[int64]*learnerHandler),
		proposed: last, durable: last, committed: 0, dispatched: p.applier.applied.Load(),
	}
	// Txns logged but not applied: they become committed with this epoch.
	err := p.store.Replay(l.dispatched, func(e storage.Entry) error {
		l.pending = append(l.pending, e)
		return nil
	})
	if err != nil {
		cancel()
		return fmt.Errorf("read log for leading: %w", err)
	}
	l.app = newAppender(p.store, last, l.onDurable, func(err error) {
		p.noteLogFailure(err)
		l.fail(err)
	})
	p.mu.Lock()
	p.lead = l
	p.mu.Unlock()
	defer l.shutdown()
	p.setRole(Leading, p.id, "discovery", false)

	l.wg.Add(1)
	go l.tickLoop()

	initWait := p.cfg.TickTime * time.Duration(p.cfg.InitLimit)
	ictx, icancel := context.WithTimeout(ctx, initWait)
	defer icancel()
	epoch, err := l.getEpochToPropose(ictx, p.id, accepted)
	if err != nil {
		return l.abort(fmt.Errorf("waiting for a quorum to connect for the new epoch: %w", err))
	}
	p.setPhase("synchronization")
	if err := l.waitEpochAck(ictx, nil, p.id, current, last); err != nil {
		return l.abort(fmt.Errorf("waiting for a quorum of ACKEPOCH: %w", err))
	}
	if err := p.setCurrentEpoch(epoch); err != nil {
		return l.abort(err)
	}
	l.mu.Lock()
	l.nlAcks[p.id] = true
	l.checkEstablishedLocked()
	l.mu.Unlock()
	// The NEWLEADER quorum gets a fresh initLimit, as in Apache.
	nctx, ncancel := context.WithTimeout(ctx, initWait)
	defer ncancel()
	select {
	case <-l.estCh:
	case <-nctx.Done():
		return l.abort(errors.New("waiting for a quorum of NEWLEADER acks: timeout"))
	}
	// Serve once the txns this epoch committed from the log are applied:
	// a reconfig among them sets the membership that clients' requests
	// (a reconfig's NEWCONFIGNOQUORUM check above all) count with.
	if err := p.applier.waitApplied(nctx, last); err != nil {
		return l.abort(fmt.Errorf("applying the txns committed at the new epoch: %w", err))
	}
	p.adoptEpoch(p.id, epoch)
	p.log.Info("leading", "epoch", epoch, "last_zxid", fmt.Sprintf("0x%x", last))
	p.setRole(Leading, p.id, "broadcast", true)
	<-ctx.Done()
	l.mu.Lock()
	err = l.err
	l.mu.Unlock()
	return err
}

// abort ends the leadership with err.
func (l *leader) abort(err error) error {
	l.fail(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *leader) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.cancel()
}

func (l *leader) shutdown() {
	l.cancel()
	l.mu.Lock()
	l.stopped = true
	for h := range l.handlers {
		h.out.close()
		_ = h.conn.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.app.stop()
	l.p.mu.Lock()
	l.p.lead = nil
	l.p.mu.Unlock()
	// What committed is applied (and answered) before the clients go.
	l.p.applyCommitted(context.Background())
	l.p.setRole(Looking, 0, "election", false)
}

func (l *leader) isEstablished() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.established && !l.stopped
}

// syncTarget is what a sync on the leader waits for: every proposal
// outstanding now.
func (l *leader) syncTarget() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.established || l.stopped {
		return 0, ErrNoLeader
	}
	return l.proposed, nil
}

// syncLocked answers a learner's SYNC once what is outstanding now has
// committed; the answer travels behind those COMMITs.
func (l *leader) syncLocked(h *learnerHandler, id int64) {
	if l.committed >= l.proposed {
		h.out.push(Packet{Type: PacketSync, Zxid: id, Data: int64Bytes(l.committed)})
		return
	}
	l.syncs = append(l.syncs, pendingSync{h: h, id: id, target: l.proposed})
}

func (l *leader) answerSyncsLocked() {
	i := 0
	for i < len(l.syncs) && l.syncs[i].target <= l.committed {
		s := l.syncs[i]
		s.h.out.push(Packet{Type: PacketSync, Zxid: s.id, Data: int64Bytes(l.committed)})
		i++
	}
	l.syncs = slices.Delete(l.syncs, 0, i)
}

// getEpochToPropose is Leader.getEpochToPropose: the new epoch is one more
// than every accepted epoch seen, fixed once a quorum of voters (the
// leader included) has connected.
func (l *leader) getEpochToPropose(ctx context.Context, sid, acceptedEpoch int64) (int64, error) {
	l.mu.Lock()
	select {
	case <-l.epochDecided:
		e := l.epoch
		l.mu.Unlock()
		return e, nil
	default:
	}
	l.connEpochs[sid] = acceptedEpoch
	set := make(map[int64]bool)
	for id := range l.connEpochs {
		set[id] = true
	}
	if set[l.p.id] && l.p.v().q.contains(set) {
		var e int64
		for _, a := range l.connEpochs {
			e = max(e, a)
		}
		e++
		if err := l.p.setAcceptedEpoch(e); err != nil {
			l.mu.Unlock()
			l.fail(err)
			return 0, err
		}
		l.epoch = e
		l.counter = 0
		close(l.epochDecided)
		l.p.log.Info("new epoch", "epoch", e)
	}
	l.mu.Unlock()
	select {
	case <-l.epochDecided:
		return l.epoch, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// waitEpochAck is Leader.waitForEpochAck: record the learner's ACKEPOCH
// (currentEpoch -1: it had already accepted this epoch), give up the
// leadership if the learner is more recent than the leader, and wait for a
// quorum of them.
func (l *leader) waitEpochAck(ctx context.Context, h *learnerHandler, sid, curEpoch, lastZxid int64) error {
	l.mu.Lock()
	if l.established {
		l.mu.Unlock()
		return nil
	}
	if curEpoch != -1 && (curEpoch > l.myCurEpoch || (curEpoch == l.myCurEpoch && lastZxid > l.myLast)) {
		l.mu.Unlock()
		err := fmt.Errorf("follower %d is ahead of the leader: epoch %d zxid 0x%x, leader epoch %d zxid 0x%x",
			sid, curEpoch, lastZxid, l.myCurEpoch, l.myLast)
		l.fail(err)
		return err
	}
	if h == nil || !h.observer {
		l.epochAcks[sid] = true
	}
	if l.epochAcks[l.p.id] && l.p.v().q.contains(l.epochAcks) {
		select {
		case <-l.epochAcked:
		default:
			close(l.epochAcked)
		}
	}
	l.mu.Unlock()
	select {
	case <-l.epochAcked:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *leader) checkEstablishedLocked() {
	if l.established || !l.p.v().q.contains(l.nlAcks) || !l.nlAcks[l.p.id] {
		return
	}
	l.established = true
	l.committed = l.proposed
	l.dispatchLocked()
	for _, h := range l.learners {
		if h.newLeaderAck && !h.uptodate {
			h.out.push(Packet{Type: PacketCommit, Zxid: l.committed})
			h.out.push(Packet{Type: PacketUpToDate})
			h.uptodate = true
		}
	}
	close(l.estCh)
}

// propose is Peer.Propose on the leader.
func (l *leader) propose(data []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.proposeLocked(data)
}

func (l *leader) proposeLocked(data []byte) (int64, error) {
	if !l.established || l.stopped {
		return 0, ErrNotLeader
	}
	if l.counter >= 0xfffffffe {
		// Apache's XidRolloverException: force a new election (new epoch).
		go l.fail(errors.New("zxid counter rollover, a new epoch is needed"))
		return 0, ErrNotLeader
	}
	l.counter++
	l.p.metrics.ProposalCount.Add(1)
	z := makeZxid(l.epoch, l.counter)
	prev := l.proposed
	l.proposed = z
	e := storage.Entry{Zxid: z, Data: data}
	l.pending = append(l.pending, e)
	l.app.append(e)
	pkt := Packet{Type: PacketProposal, Zxid: z, Data: proposalData(prev, data)}
	for _, h := range l.learners {
		if !h.observer {
			h.out.push(pkt)
		}
	}
	return z, nil
}

// proposeReconfig is Peer.ProposeReconfig on the leader.
func (l *leader) proposeReconfig(data []byte, servers []config.Server) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.established || l.stopped {
		return 0, ErrNotLeader
	}
	if l.reconfig != nil {
		return 0, ErrReconfigInProgress
	}
	next, err := newView(l.p.id, servers, l.p.cfg.Observer, 0)
	if err != nil {
		return 0, err
	}
	z, err := l.proposeLocked(data)
	if err != nil {
		return 0, err
	}
	next.version = z
	l.reconfig = &pendingReconfig{zxid: z, next: next}
	l.p.log.Info("reconfig proposed", "zxid", fmt.Sprintf("0x%x", z), "members", len(servers))
	return z, nil
}

// quorumSynced is Leader.isQuorumSynced: do the voters of servers that
// are connected and in broadcast (with the leader, if it votes there)
// form a quorum of that configuration?
func (l *leader) quorumSynced(servers []config.Server) bool {
	next, err := newView(l.p.id, servers, l.p.cfg.Observer, 0)
	if err != nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := map[int64]bool{l.p.id: true}
	for sid, h := range l.learners {
		if !h.observer && h.newLeaderAck && l.tick-h.lastHeard <= int64(l.p.cfg.SyncLimit) {
			ids[sid] = true
		}
	}
	return next.q.contains(ids)
}

// proposalData prefixes a txn with the zxid of the txn before it, so that
// a learner notices a lost packet instead of logging a history with a hole.
func proposalData(prev int64, data []byte) []byte {
	b := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(b, uint64(prev))
	copy(b[8:], data)
	return b
}

func (l *leader) onDurable(z int64) {
	l.mu.Lock()
	l.durable = max(l.durable, z)
	l.maybeCommitLocked()
	l.mu.Unlock()
	l.p.setLastLogged(z)
}

// maybeCommitLocked commits everything a quorum has logged: COMMIT to
// followers, INFORM to observers, and the txns to the applier.
func (l *leader) maybeCommitLocked() {
	if !l.established || l.stopped {
		return
	}
	if l.acks == nil {
		l.acks = make(map[int64]int64, len(l.learners)+1)
	}
	acks := l.acks // reused: this runs on every ACK
	clear(acks)
	acks[l.p.id] = l.durable
	for sid, h := range l.learners {
		if !h.observer && h.newLeaderAck {
			acks[sid] = h.acked
		}
	}
	c := min(l.p.v().q.committedByQuorum(acks), l.proposed)
	r := l.reconfig
	if r != nil && c >= r.zxid {
		// The reconfig and what follows it need a quorum of the next
		// configuration as well.
		c = max(min(c, r.next.q.committedByQuorum(acks)), r.zxid-1)
	}
	if c <= l.committed {
		l.dispatchLocked()
		return
	}
	old := l.committed
	l.committed = c
	var informs []Packet
	prev := l.dispatched
	for _, e := range l.pending {
		if e.Zxid > c {
			break
		}
		if e.Zxid > old {
			l.p.metrics.CommitCount.Add(1)
			if r == nil || e.Zxid != r.zxid { // Apache times no reconfig's
				l.p.txnAge(l.p.metrics.QuorumAckLatency, e.Data)
			}
			informs = append(informs, Packet{Type: PacketInform, Zxid: e.Zxid, Data: proposalData(prev, e.Data)})
		}
		prev = e.Zxid
	}
	for _, h := range l.learners {
		if h.observer {
			for _, pk := range informs {
				h.out.push(pk)
			}
		} else {
			h.out.push(Packet{Type: PacketCommit, Zxid: c})
		}
	}
	l.answerSyncsLocked()
	l.dispatchLocked()
	if r != nil && c >= r.zxid {
		l.reconfig = nil
		l.p.setView(r.next)
		l.p.log.Info("reconfig committed, new membership active", "version", fmt.Sprintf("0x%x", r.zxid))
		if !r.next.q.isVoter(l.p.id) {
			// Apache hands the leadership over; we step down and the
			// voters elect a leader among themselves, once the learners
			// have this COMMIT: with it they count with the new
			// membership in that election.
			outs := make([]*sendQueue, 0, len(l.learners))
			for _, h := range l.learners {
				outs = append(outs, h.out)
			}
			go func() {
				ctx, cancel := context.WithTimeout(l.ctx, l.p.cfg.TickTime)
				defer cancel()
				for _, q := range outs {
					q.waitSent(ctx)
				}
				l.fail(errors.New("no longer a voter after the reconfig, stepping down"))
			}()
		}
	}
}

// dispatchLocked hands the txns that are committed and on the leader's
// disk to the applier (a snapshot never gets ahead of the log).
func (l *leader) dispatchLocked() {
	if !l.established {
		return
	}
	upto := min(l.committed, l.durable)
	i := 0
	for i < len(l.pending) && l.pending[i].Zxid <= upto {
		i++
	}
	if i == 0 {
		return
	}
	if l.applyHere {
		l.queuedHere = l.p.applier.add(slices.Clone(l.pending[:i])) || l.queuedHere
	} else {
		l.p.applier.enqueue(slices.Clone(l.pending[:i]))
	}
	l.dispatched = l.pending[i-1].Zxid
	l.pending = slices.Delete(l.pending, 0, i)
}

func (l *leader) fillStatus(st *Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for h := range l.handlers {
		if h.sid == 0 {
			continue
		}
		st.Learners++
		if h.newLeaderAck && l.tick-h.lastHeard <= int64(l.p.cfg.SyncLimit) {
			if h.observer {
				st.SyncedObservers++
			} else {
				st.SyncedFollowers++
			}
		}
	}
	st.PendingSyncs = len(l.syncs)
	st.Proposals = int(zxidCounter(l.proposed) - zxidCounter(l.committed))
	if zxidEpoch(l.proposed) != zxidEpoch(l.committed) {
		st.Proposals = int(zxidCounter(l.proposed))
	}
}

// tickLoop pings learners every half tick and, every tick, drops silent
// learners and checks that a quorum is still in touch: a leader that
// lost it steps down (Leader.lead's "Not sufficient followers synced").
func (l *leader) tickLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.p.cfg.TickTime / 2)
	defer t.Stop()
	half := 0
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		half++
		digests := pingDigests(l.p.sm)
		l.mu.Lock()
		for _, h := range l.learners {
			h.out.push(Packet{Type: PacketPing, Zxid: l.committed, Data: pingData(h.uptodate, digests)})
		}
		if half%2 != 0 {
			l.mu.Unlock()
			continue
		}
		l.tick++
		synced := map[int64]bool{l.p.id: true}
		var silent []*learnerHandler
		for h := range l.handlers {
			limit := int64(l.p.cfg.InitLimit)
			if h.newLeaderAck {
				limit = int64(l.p.cfg.SyncLimit)
			}
			// A learner must acknowledge NEWLEADER within initLimit ticks of
			// the end of its sync stream, even if it keeps answering PINGs.
			late := !h.newLeaderAck && h.streamed > 0 && l.tick-h.streamed > int64(l.p.cfg.InitLimit)
			if l.tick-h.lastHeard > limit || late {
				silent = append(silent, h)
				continue
			}
			if h.newLeaderAck && !h.observer {
				synced[h.sid] = true
			}
		}
		lost := l.established && !l.p.v().q.contains(synced)
		l.mu.Unlock()
		for _, h := range silent {
			l.p.log.Warn("learner silent for too long, closing", "peer", h.sid)
			_ = h.conn.Close()
		}
		if lost {
			ids := make([]int64, 0, len(synced))
			for id := range synced {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			l.fail(fmt.Errorf("not sufficient followers synced, only synced with sids: %v", ids))
			return
		}
	}
}

// addLearner starts serving a connection on the quorum port.
func (l *leader) addLearner(c Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	h := &learnerHandler{l: l, conn: c, out: newSendQueue(), lastHeard: l.tick}
	l.handlers[h] = true
	l.wg.Add(1)
	go h.serve()
	return true
}

func (l *leader) removeHandler(h *learnerHandler) {
	l.mu.Lock()
	delete(l.handlers, h)
	if l.learners[h.sid] == h {
		delete(l.learners, h.sid)
	}
	l.mu.Unlock()
	h.out.close()
	_ = h.conn.Close()
}

func (h *learnerHandler) recv() (Packet, error) {
	b, err := h.conn.Recv()
	if err != nil {
		return Packet{}, err
	}
	h.l.mu.Lock()
	h.lastHeard = h.l.tick
	h.l.mu.Unlock()
	return UnmarshalPacket(b)
}

func (h *learnerHandler) sendNow(p Packet) error {
	if err := h.conn.Send(p.Marshal()); err != nil {
		return err
	}
	return h.conn.Flush()
}

// serve runs one learner: discovery, synchronisation, then its ACKs,
// PINGs, REQUESTs and SYNCs.
func (h *learnerHandler) serve() {
	l, p := h.l, h.l.p
	defer l.wg.Done()
	defer l.removeHandler(h)
	err := h.handshake()
	if err != nil {
		if l.ctx.Err() == nil {
			p.log.Warn("learner handshake failed", "peer", h.sid, "err", err)
		}
		return
	}
	for {
		pkt, err := h.recv()
		if err != nil {
			return
		}
		switch pkt.Type {
		case PacketAck:
			l.ack(h, pkt.Zxid, quiet(h.conn))
		case PacketPing:
			if pkt.Zxid > 0 {
				l.ack(h, pkt.Zxid, false)
			}
			ids, err := decodeSessions(pkt.Data)
			if err != nil {
				p.log.Warn("bad PING from learner", "peer", h.sid, "err", err)
				return
			}
			p.sessionTouched(ids)
		case PacketRequest:
			l.mu.Lock()
			dup := pkt.Zxid <= h.lastReqSeq
			if !dup {
				h.lastReqSeq = pkt.Zxid
			}
			ok := l.established
			l.mu.Unlock()
			if !dup && ok {
				p.requestArrived(h.sid, pkt.Data)
			}
		case PacketSync:
			l.mu.Lock()
			l.syncLocked(h, pkt.Zxid)
			l.mu.Unlock()
		case PacketFollowerInfo, PacketObserverInfo, PacketAckEpoch:
			// A duplicate from the handshake.
		default:
			p.log.Warn("unexpected packet from learner", "peer", h.sid, "packet", pkt.String())
			return
		}
	}
}

// handshake runs discovery and starts the synchronisation stream.
func (h *learnerHandler) handshake() error {
	l, p := h.l, h.l.p
	pkt, err := h.recv()
	if err != nil {
		return err
	}
	if pkt.Type != PacketFollowerInfo && pkt.Type != PacketObserverInfo {
		return fmt.Errorf("first packet is %s, want FOLLOWERINFO or OBSERVERINFO", pkt.Type)
	}
	sid, err := bytesInt64(pkt.Data)
	if err != nil {
		return err
	}
	l.mu.Lock()
	h.sid = sid
	h.observer = pkt.Type == PacketObserverInfo
	l.mu.Unlock()
	if sid == p.id {
		return fmt.Errorf("server %d is this server", sid)
	}
	// A server that is not a member is taken as a non-voting learner (a
	// joiner before the reconfig that adds it, or a removed member), as
	// Apache does: its acknowledgements count only for a configuration
	// that has it as a voter.
	if v := p.v(); v.isMember(sid) && v.q.isVoter(sid) == h.observer {
		return fmt.Errorf("server %d connected as %s, the configuration says otherwise", sid, pkt.Type)
	}
	epoch, err := l.getEpochToPropose(l.ctx, sid, zxidEpoch(pkt.Zxid))
	if err != nil {
		return err
	}
	if err := h.sendNow(Packet{Type: PacketLeaderInfo, Zxid: makeZxid(epoch, 0), Data: leaderInfoData(p.id)}); err != nil {
		return err
	}
	for {
		pkt, err = h.recv()
		if err != nil {
			return err
		}
		if pkt.Type == PacketAckEpoch {
			break
		}
		if pkt.Type != PacketFollowerInfo && pkt.Type != PacketObserverInfo {
			return fmt.Errorf("got %s, want ACKEPOCH", pkt.Type)
		}
	}
	if len(pkt.Data) < 4 {
		return fmt.Errorf("%w: ACKEPOCH of %d bytes", errBadPacket, len(pkt.Data))
	}
	curEpoch := int64(int32(binary.BigEndian.Uint32(pkt.Data)))
	peerLast := pkt.Zxid
	if err := l.waitEpochAck(l.ctx, h, sid, curEpoch, peerLast); err != nil {
		return err
	}
	plan, err := l.planSync(h, peerLast)
	if err != nil {
		return err
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := p.streamSync(h.conn, sid, plan); err != nil {
			if l.ctx.Err() == nil {
				p.log.Warn("syncing learner failed", "peer", sid, "err", err)
			}
			h.out.close()
			_ = h.conn.Close()
			return
		}
		l.mu.Lock()
		h.streamed = max(l.tick, 1)
		l.mu.Unlock()
		h.out.writeLoop(h.conn)
	}()
	return nil
}

// planSync fixes, atomically with proposals, what the learner gets from
// the sync stream (everything up to the last proposal) and adds it to the
// forwarding set for everything after.
func (l *leader) planSync(h *learnerHandler, peerLast int64) (syncPlan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return syncPlan{}, ErrNotLeader
	}
	if old := l.learners[h.sid]; old != nil && old != h {
		old.out.close()
		_ = old.conn.Close()
	}
	plan := syncPlan{peerLast: peerLast, planD: l.durable, planP: l.proposed, epoch: l.epoch}
	if l.established {
		plan.commit = l.committed
	}
	for _, e := range l.pending {
		if e.Zxid > l.durable {
			plan.mem = append(plan.mem, e)
		}
	}
	h.forwarding = true
	h.planD, h.planP = plan.planD, plan.planP
	l.learners[h.sid] = h
	return plan, nil
}

// ack records a follower's cumulative acknowledgement. The ACK of
// NEWLEADER (zxid epoch<<32) means the learner logged the whole sync
// stream.
//
// here (nothing more from the learner buffered) lets this goroutine apply
// the txns the ACK commits when the applier is idle, instead of waking
// it: with one write in flight the hand-off costs more than the apply.
func (l *leader) ack(h *learnerHandler, z int64, here bool) {
	l.mu.Lock()
	l.applyHere = here
	l.ackLocked(h, z)
	queued := l.queuedHere
	l.applyHere, l.queuedHere = false, false
	l.mu.Unlock()
	if queued {
		l.p.applier.applyHere()
	}
}

func (l *leader) ackLocked(h *learnerHandler, z int64) {
	if !h.forwarding || l.stopped {
		return
	}
	base := makeZxid(l.epoch, 0)
	if z < base {
		return // an ACK of a txn of the sync stream
	}
	if !h.newLeaderAck {
		h.newLeaderAck = true
		h.acked = max(h.acked, h.planP)
		if !h.observer {
			l.nlAcks[h.sid] = true
		}
		if l.established {
			h.out.push(Packet{Type: PacketCommit, Zxid: l.committed})
			h.out.push(Packet{Type: PacketUpToDate})
			h.uptodate = true
		} else {
			l.checkEstablishedLocked()
		}
	}
	if z > base && z > h.acked {
		h.acked = min(z, l.proposed)
	}
	l.maybeCommitLocked()
}
