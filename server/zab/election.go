package zab

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// notification is a FastLeaderElection message: the sender's current
// vote and its state.
type notification struct {
	from int64
	Vote
}

const notificationLen = 4 + 8*4

func (n notification) marshal() []byte {
	b := make([]byte, notificationLen)
	binary.BigEndian.PutUint32(b, uint32(n.State))
	binary.BigEndian.PutUint64(b[4:], uint64(n.Leader))
	binary.BigEndian.PutUint64(b[12:], uint64(n.Zxid))
	binary.BigEndian.PutUint64(b[20:], uint64(n.ElectionEpoch))
	binary.BigEndian.PutUint64(b[28:], uint64(n.PeerEpoch))
	return b
}

func unmarshalNotification(from int64, b []byte) (notification, error) {
	if len(b) < notificationLen {
		return notification{}, fmt.Errorf("%w: notification of %d bytes", errBadPacket, len(b))
	}
	st := State(binary.BigEndian.Uint32(b))
	if st < Looking || st > Observing {
		return notification{}, fmt.Errorf("%w: notification state %d", errBadPacket, st)
	}
	return notification{from: from, Vote: Vote{
		State:         st,
		Leader:        int64(binary.BigEndian.Uint64(b[4:])),
		Zxid:          int64(binary.BigEndian.Uint64(b[12:])),
		ElectionEpoch: int64(binary.BigEndian.Uint64(b[20:])),
		PeerEpoch:     int64(binary.BigEndian.Uint64(b[28:])),
	}}, nil
}

// electionNet is Apache's QuorumCnxManager, simplified: each member dials
// every other member once for its outgoing notifications (a 1-slot
// mailbox per destination: only the newest message matters) and accepts
// their connections for incoming ones. The first frame of a connection is
// the dialer's server id.
type electionNet struct {
	p       *Peer
	ln      Listener
	mu      sync.Mutex
	senders map[int64]*electionSender
	wg      sync.WaitGroup
	ctx     context.Context
	conns   map[Conn]bool
	// down holds the members known to be unreachable: their election
	// connection to us broke, a dial to them failed, or their leader
	// connection broke. A member leaves it when it connects or sends.
	down map[int64]bool
	// downChanged is signalled when a member is marked down.
	downChanged chan struct{}
	replies     map[int64]*replyConn // connections of non-members, by id
}

type electionSender struct {
	to   int64
	mbox chan []byte   // capacity 1
	stop chan struct{} // closed when the member leaves the configuration
}

// replyConn is an election connection from a server that is not a member
// (a joiner, or a removed member): we have no address to dial it, so our
// answers to it go back on its own connection.
type replyConn struct {
	mu sync.Mutex
	c  Conn
}

func startElectionNet(ctx context.Context, p *Peer) (*electionNet, error) {
	ln, err := p.transport.Listen(ChannelElection)
	if err != nil {
		return nil, fmt.Errorf("election: %w", err)
	}
	e := &electionNet{p: p, ln: ln, senders: make(map[int64]*electionSender), ctx: ctx, conns: make(map[Conn]bool),
		down: make(map[int64]bool), downChanged: make(chan struct{}, 1), replies: make(map[int64]*replyConn)}
	e.wg.Add(1)
	go e.acceptLoop()
	e.setMembers(p.v().others)
	return e, nil
}

// setMembers starts a sender for every member in ids that has none and
// stops those of members no longer in it (after a reconfig).
func (e *electionNet) setMembers(ids []int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	keep := make(map[int64]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
		if e.senders[id] != nil || e.ctx.Err() != nil {
			continue
		}
		s := &electionSender{to: id, mbox: make(chan []byte, 1), stop: make(chan struct{})}
		e.senders[id] = s
		e.wg.Add(1)
		go e.sendLoop(s)
	}
	for id, s := range e.senders {
		if !keep[id] {
			close(s.stop)
			delete(e.senders, id)
			delete(e.down, id)
		}
	}
}

// close stops every goroutine of the election network and waits for them.
func (e *electionNet) close() {
	_ = e.ln.Close()
	e.mu.Lock()
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

func (e *electionNet) track(c Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx.Err() != nil {
		_ = c.Close()
		return false
	}
	e.conns[c] = true
	return true
}

func (e *electionNet) untrack(c Conn) {
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	_ = c.Close()
}

// setDown records whether member id is known to be unreachable.
func (e *electionNet) setDown(id int64, down bool) {
	e.mu.Lock()
	was := e.down[id]
	if down {
		e.down[id] = true
	} else {
		delete(e.down, id)
	}
	e.mu.Unlock()
	if was != down {
		e.p.log.Debug("election peer reachability", "peer", id, "down", down)
		if down {
			select {
			case e.downChanged <- struct{}{}:
			default:
			}
		}
	}
}

// isDown reports whether member id is known to be unreachable.
func (e *electionNet) isDown(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.down[id]
}

func (e *electionNet) acceptLoop() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		if !e.track(c) {
			continue
		}
		e.wg.Add(1)
		go e.recvLoop(c)
	}
}

func (e *electionNet) recvLoop(c Conn) {
	defer e.wg.Done()
	defer e.untrack(c)
	b, err := c.Recv()
	if err != nil {
		return
	}
	// The first frame is the dialer's id, 8 bytes and nothing else. A
	// notification in its place (36 bytes) would be read as an id (a
	// Leading one as 0x200000000), and every vote the sender sent on the
	// connection after it would be ignored as a stranger's, for as long as
	// the connection lasts: close it, and the sender dials again.
	from, err := bytesInt64(b)
	if err != nil || len(b) != 8 || from == e.p.id || from <= 0 {
		e.p.log.Warn("election connection without a valid server id dropped", "peer", from, "frame_bytes", len(b))
		return
	}
	// A server outside the configuration gets its answers on this
	// connection (Apache answers non-voters with its current vote, which
	// is how a joiner finds the leader).
	rc := &replyConn{c: c}
	e.mu.Lock()
	e.replies[from] = rc
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if e.replies[from] == rc {
			delete(e.replies, from)
		}
		e.mu.Unlock()
	}()
	e.setDown(from, false)
	for {
		b, err := c.Recv()
		if err != nil {
			// The member's sender went away: it crashed or its network
			// did. (Shutting down ourselves also lands here; harmless.)
			e.setDown(from, true)
			return
		}
		n, err := unmarshalNotification(from, b)
		if err != nil {
			e.p.log.Warn("bad election notification", "peer", from, "err", err)
			return
		}
		e.setDown(from, false) // it speaks: it is up
		e.p.onNotification(n)
	}
}

// send queues a notification for member to, replacing one not yet sent.
func (e *electionNet) send(to int64, n notification) {
	e.mu.Lock()
	s := e.senders[to]
	rc := e.replies[to]
	e.mu.Unlock()
	b := n.marshal()
	if s == nil {
		if rc != nil {
			rc.mu.Lock()
			err := rc.c.Send(b)
			if err == nil {
				err = rc.c.Flush()
			}
			rc.mu.Unlock()
			if err != nil {
				_ = rc.c.Close()
			}
		}
		return
	}
	for {
		select {
		case s.mbox <- b:
			return
		default:
		}
		select {
		case <-s.mbox: // drop the stale one
		default:
		}
	}
}

func (e *electionNet) sendLoop(s *electionSender) {
	defer e.wg.Done()
	var c Conn
	defer func() {
		if c != nil {
			e.untrack(c)
		}
	}()
	for {
		var b []byte
		select {
		case <-e.ctx.Done():
			return
		case <-s.stop:
			return
		case b = <-s.mbox:
		}
		// A connection kept from before may be dead (the member restarted):
		// the write fails and the message goes out again on a fresh one
		// instead of waiting for FastLeaderElection's resend.
		for attempt := 0; attempt < 2; attempt++ {
			if c == nil {
				nc, ok := e.dial(s.to)
				if !ok {
					break // the message is lost; FastLeaderElection resends
				}
				c = nc
			}
			err := c.Send(b)
			if err == nil {
				err = c.Flush()
			}
			if err == nil {
				break
			}
			e.untrack(c)
			c = nil
		}
	}
}

// dial opens the election channel to member to and sends our id.
func (e *electionNet) dial(to int64) (Conn, bool) {
	dctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
	nc, err := e.p.transport.Dial(dctx, to, ChannelElection)
	cancel()
	if err != nil {
		e.p.log.Debug("cannot open election channel", "peer", to, "err", err)
		if e.ctx.Err() == nil {
			e.setDown(to, true)
		}
		return nil, false
	}
	if !e.track(nc) {
		return nil, false
	}
	e.setDown(to, false)
	if err := nc.Send(int64Bytes(e.p.id)); err != nil {
		e.untrack(nc)
		return nil, false
	}
	// The other side answers on this connection only while we are not in
	// its configuration (we are joining, or were removed); reading also
	// notices a closed connection.
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			b, err := nc.Recv()
			if err != nil {
				_ = nc.Close()
				return
			}
			if n, err := unmarshalNotification(to, b); err == nil {
				e.p.onNotification(n)
			}
		}
	}()
	return nc, true
}

// onNotification is FastLeaderElection's WorkerReceiver: while looking,
// notifications feed the election; otherwise a looking sender is told
// whom this member follows, which is how a server joining a running
// ensemble finds its leader.
func (p *Peer) onNotification(n notification) {
	p.mu.Lock()
	state, cur, clock := p.state, p.vote, p.logicalClock
	// The member we register with does not lead if it follows another or
	// looks and votes for another; still looking with a vote for itself,
	// it is about to lead (its election may end a moment after ours).
	if p.notLeading != nil && n.from == p.registeringTo && n.State != Leading &&
		!(n.State == Looking && n.Leader == n.from) {
		close(p.notLeading)
		p.notLeading = nil
	}
	p.mu.Unlock()
	p.mu.Lock()
	e := p.elect
	p.mu.Unlock()
	reply := func(v Vote, st State) {
		if e != nil {
			v.State = st
			e.send(n.from, notification{from: p.id, Vote: v})
		}
	}
	if !p.v().q.isVoter(n.from) {
		// An observer or a non-member looking for the leader asks: tell it
		// what we know. Its other messages (answers to our own
		// notifications) need no answer, or the two of us would echo each
		// other forever; and while we look ourselves, only a change of our
		// vote is news to it (a joiner counts itself a voter and answers
		// our answers).
		if n.State == Looking {
			cur.State = state
			p.mu.Lock()
			last, told := p.nvTold[n.from]
			if p.nvTold == nil {
				p.nvTold = make(map[int64]Vote)
			}
			p.nvTold[n.from] = cur
			p.mu.Unlock()
			if state != Looking || !told || last != cur {
				reply(cur, state)
			}
		}
		return
	}
	if state == Looking {
		p.queueNotification(n)
		if n.State == Looking && n.ElectionEpoch < clock && p.v().q.isVoter(p.id) {
			reply(cur, Looking)
		}
		return
	}
	if n.State == Looking {
		reply(cur, state)
	}
}

func (p *Peer) queueNotification(n notification) {
	select {
	case p.recvq <- n:
	default: // a full queue only loses a notification that will be resent
	}
}

// lookForLeader is FastLeaderElection.lookForLeader. It returns the vote
// this member settled on; the caller derives its state from it.
func (p *Peer) lookForLeader(ctx context.Context) (Vote, error) {
	p.mu.Lock()
	p.logicalClock++
	clock := p.logicalClock
	myEpoch, myZxid := p.currentEpoch, p.lastLogged
	p.mu.Unlock()

	initID := p.id
	if !p.v().q.isVoter(p.id) {
		initID = noLeader
	}
	prop := Vote{Leader: initID, Zxid: myZxid, ElectionEpoch: clock, PeerEpoch: myEpoch, State: Looking}
	if initID == noLeader {
		prop.Zxid, prop.PeerEpoch = -1, -1
	}
	recvset := make(map[int64]Vote)
	outofelection := make(map[int64]Vote)

	setProposal := func(v Vote) {
		prop = Vote{Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: clock, PeerEpoch: v.PeerEpoch, State: Looking}
		p.mu.Lock()
		p.vote = prop
		p.mu.Unlock()
	}
	sendAll := func() {
		if p.v().q.isVoter(p.id) {
			recvset[p.id] = prop
		}
		for _, id := range p.v().others {
			if p.v().q.isVoter(id) {
				p.elect.send(id, notification{from: p.id, Vote: prop})
			}
		}
	}
	setProposal(prop)
	sendAll()

	finalize := p.cfg.FinalizeWait
	notTimeout := finalize
	timer := time.NewTimer(notTimeout)
	defer timer.Stop()

	// decide ends the election once v has a quorum; for our own
	// proposal it first waits finalizeWait for a better vote.
	var pushback *notification
	for {
		var n notification
		if pushback != nil {
			n, pushback = *pushback, nil
		} else {
			timer.Reset(notTimeout)
			select {
			case <-ctx.Done():
				return Vote{}, ctx.Err()
			case n = <-p.recvq:
			case <-timer.C:
				sendAll()
				notTimeout = min(notTimeout*2, p.cfg.MaxNotificationInterval)
				continue
			}
		}
		if p.log.Enabled(ctx, slog.LevelDebug) {
			p.log.Debug("notification", "peer", n.from, "state", n.State.String(), "leader", n.Leader,
				"zxid", fmt.Sprintf("0x%x", n.Zxid), "election_epoch", n.ElectionEpoch, "peer_epoch", n.PeerEpoch,
				"clock", clock, "proposal", prop.Leader)
		}
		if !p.v().q.isVoter(n.from) && n.State == Looking {
			continue
		}
		if n.Leader != noLeader && !p.v().q.isVoter(n.Leader) {
			continue
		}
		switch n.State {
		case Looking:
			if !p.v().q.isVoter(n.from) {
				continue
			}
			switch {
			case n.ElectionEpoch > clock:
				clock = n.ElectionEpoch
				p.mu.Lock()
				p.logicalClock = clock
				p.mu.Unlock()
				clear(recvset)
				if p.v().q.betterVote(n.Leader, n.Zxid, n.PeerEpoch, initID, myZxid, myEpoch) {
					setProposal(n.Vote)
				} else {
					setProposal(Vote{Leader: initID, Zxid: myZxid, PeerEpoch: myEpoch})
				}
				sendAll()
			case n.ElectionEpoch < clock:
				continue
			case p.v().q.betterVote(n.Leader, n.Zxid, n.PeerEpoch, prop.Leader, prop.Zxid, prop.PeerEpoch):
				setProposal(n.Vote)
				sendAll()
			case p.v().q.betterVote(prop.Leader, prop.Zxid, prop.PeerEpoch, n.Leader, n.Zxid, n.PeerEpoch):
				// The sender has not seen our better vote (it may have been
				// sent while the sender was still following): tell it now
				// rather than at the next resend. Each such answer makes
				// the sender's vote strictly better, so this cannot echo.
				p.elect.send(n.from, notification{from: p.id, Vote: prop})
			}
			recvset[n.from] = Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch, State: Looking}
			if p.v().q.hasQuorumFor(recvset, prop) && prop.Leader != noLeader && p.allReachableAgree(recvset, prop) {
				// Every voter we can reach proposes prop in this round:
				// settle now instead of after finalizeWait. This keeps
				// FastLeaderElection's guarantee: a vote only ever moves to
				// a better one (higher peer epoch, then zxid, then id), so
				// prop's history is the newest of every voter that voted
				// for it, and those are a quorum. No better vote can come
				// from them in this round; one could only come from a voter
				// we know to be down (its connection broke or refused us),
				// and the wait would not hear from it either. Safety does
				// not rest on this wait anyway: in discovery the leader
				// gives up if any member of its ACKEPOCH quorum has a newer
				// history than its own (waitEpochAck).
				return prop, nil
			}
			if p.v().q.hasQuorumFor(recvset, prop) {
				// Wait finalizeWait for a better vote before settling.
				better := false
				fin := time.NewTimer(finalize)
			wait:
				for {
					select {
					case <-ctx.Done():
						fin.Stop()
						return Vote{}, ctx.Err()
					case <-p.elect.downChanged:
						// A voter we were waiting for turned out to be down.
						if prop.Leader != noLeader && p.allReachableAgree(recvset, prop) {
							fin.Stop()
							return prop, nil
						}
					case m := <-p.recvq:
						if p.v().q.betterVote(m.Leader, m.Zxid, m.PeerEpoch, prop.Leader, prop.Zxid, prop.PeerEpoch) {
							pushback = &m
							better = true
							break wait
						}
					case <-fin.C:
						break wait
					}
				}
				fin.Stop()
				if !better && prop.Leader != noLeader {
					return prop, nil
				}
			}
		case Observing:
			// Observers do not vote.
		case Following, Leading:
			v := Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch, State: n.State}
			if n.ElectionEpoch == clock && p.v().q.isVoter(n.from) {
				recvset[n.from] = v
				if p.v().q.hasQuorumFor(recvset, v) && p.checkLeader(recvset, n.Leader, n.ElectionEpoch, clock) {
					return v, nil
				}
			}
			// A running ensemble: follow the leader a quorum follows.
			outofelection[n.from] = v
			if p.v().q.hasQuorumFor(outofelection, v) && p.checkLeader(outofelection, n.Leader, n.ElectionEpoch, clock) {
				p.mu.Lock()
				p.logicalClock = n.ElectionEpoch
				p.mu.Unlock()
				return v, nil
			}
		}
	}
}

// allReachableAgree reports whether every voter other than those known to
// be down has sent, in this round, a vote equal to v (we count as
// agreeing when v is our own proposal).
func (p *Peer) allReachableAgree(recvset map[int64]Vote, v Vote) bool {
	for id := range p.v().q.voters {
		if got, ok := recvset[id]; ok && sameVote(got, v) {
			continue
		}
		if id == p.id || p.elect == nil || !p.elect.isDown(id) {
			return false
		}
	}
	return true
}

// checkLeader is FastLeaderElection.checkLeader: a vote for another
// member counts only if that member itself says it leads; a vote for us
// only within our own round.
func (p *Peer) checkLeader(votes map[int64]Vote, leader, electionEpoch, clock int64) bool {
	if leader != p.id {
		v, ok := votes[leader]
		return ok && v.State == Leading
	}
	return electionEpoch == clock
}
