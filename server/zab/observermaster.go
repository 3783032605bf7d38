package zab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/server/storage"
)

// Observer masters (zoo.cfg observerMasterPort; Apache's ObserverMaster).
//
// A follower that is in broadcast serves observers on that port: it syncs
// them from its own log and state, as a leader syncs a learner, and then
// sends them an INFORM for each txn it hands to its own applier (committed
// and on its disk). What an observer sends it goes on to the leader
// through the follower's own connection: requests, syncs (answered once
// the INFORMs up to the leader's answer are on their way) and the session
// activity of its PINGs. So the leader's fan-out does not grow with the
// observers. The follower's learner state (learner.mu) guards this too:
// an observer's sync plan is fixed in one step with the txns the follower
// dispatches, so the INFORMs after it continue the stream exactly.
//
// An observer with observerMasterPort set dials that port on the other
// voters' hosts, one after the other from a random one, and falls back to
// the leader's quorum port when none serves it; Apache's keeps cycling
// through the voters. A leader that has the port (it bound it as a
// follower) serves observers there as on its quorum port. A follower ends
// its observers' connections when it stops following, and they look
// again.

// observerHandler is a follower's side of one observer connection. Its
// fields are guarded by the learner's mu.
type observerHandler struct {
	lr        *learner
	conn      Conn
	out       *sendQueue
	sid       int64
	lastHeard atomic.Int64 // unix nanos of the last packet from the observer
	// forwarding: in lr.observers, gets INFORMs and PINGs.
	forwarding bool
	// synced: acknowledged NEWLEADER and was sent UPTODATE.
	synced     bool
	lastReqSeq int64
}

// observerSync is an observer's SYNC waiting until the follower has
// informed its observers of the leader's answer (target).
type observerSync struct {
	h      *observerHandler
	id     int64
	target int64
}

// acceptObservers hands connections on the observer master port to this
// member's learner while it follows and is in broadcast, and to the
// leader while it leads (as if they had come to its quorum port: a member
// that bound the port keeps it when it is elected, and its observers need
// not wait for another); otherwise it closes them (the observer then
// tries another member).
func (p *Peer) acceptObservers(ln Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		l, lr := p.lead, p.learner
		p.mu.Unlock()
		ok := false
		switch {
		case l != nil:
			ok = l.addLearner(c)
		case lr != nil:
			ok = lr.addObserver(c)
		}
		if !ok {
			_ = c.Close()
		}
	}
}

// addObserver starts serving an observer, if this learner is a follower
// in broadcast.
func (lr *learner) addObserver(c Conn) bool {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.observer || !lr.uptodate || lr.closingObservers {
		return false
	}
	h := &observerHandler{lr: lr, conn: c, out: newSendQueue()}
	h.lastHeard.Store(time.Now().UnixNano())
	lr.obsHandlers[h] = true
	lr.obsWG.Add(1)
	go h.serve()
	return true
}

// closeObservers ends every observer connection and waits for their
// goroutines; the learner is stopping.
func (lr *learner) closeObservers() {
	lr.mu.Lock()
	lr.closingObservers = true
	for h := range lr.obsHandlers {
		h.out.close()
		_ = h.conn.Close()
	}
	lr.mu.Unlock()
	lr.obsWG.Wait()
}

func (lr *learner) removeObserver(h *observerHandler) {
	lr.mu.Lock()
	delete(lr.obsHandlers, h)
	delete(lr.observers, h)
	lr.obsSyncs = slices.DeleteFunc(lr.obsSyncs, func(s observerSync) bool { return s.h == h })
	lr.mu.Unlock()
	h.out.close()
	_ = h.conn.Close()
}

func (h *observerHandler) recv() (Packet, error) {
	b, err := h.conn.Recv()
	if err != nil {
		return Packet{}, err
	}
	h.lastHeard.Store(time.Now().UnixNano())
	return UnmarshalPacket(b)
}

// serve runs one observer: registration and sync, then its ACK of
// NEWLEADER, PINGs, REQUESTs and SYNCs.
func (h *observerHandler) serve() {
	lr := h.lr
	p := lr.p
	defer lr.obsWG.Done()
	defer lr.removeObserver(h)
	epoch, err := h.handshake()
	if err != nil {
		select {
		case <-lr.done:
		default:
			p.log.Warn("observer handshake failed", "peer", h.sid, "err", err)
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
			if pkt.Zxid == makeZxid(epoch, 0) {
				lr.mu.Lock()
				if h.forwarding && !h.synced {
					h.synced = true
					h.out.push(Packet{Type: PacketUpToDate})
				}
				lr.mu.Unlock()
			}
		case PacketPing:
			ids, err := decodeSessions(pkt.Data)
			if err != nil {
				p.log.Warn("bad PING from observer", "peer", h.sid, "err", err)
				return
			}
			if len(ids) > 0 {
				p.TouchSessions(ids) // to the leader with this follower's next PING
			}
		case PacketRequest:
			lr.mu.Lock()
			dup := pkt.Zxid <= h.lastReqSeq
			if !dup {
				h.lastReqSeq = pkt.Zxid
			}
			lr.mu.Unlock()
			if !dup {
				if err := lr.forward(pkt.Data); err != nil {
					return // the observer looks for another way to the leader
				}
			}
		case PacketSync:
			lr.obsWG.Add(1)
			go h.sync(pkt.Zxid)
		case PacketObserverInfo, PacketAckEpoch:
			// A duplicate from the handshake.
		default:
			p.log.Warn("unexpected packet from observer", "peer", h.sid, "packet", pkt.String())
			return
		}
	}
}

// handshake registers the observer, fixes its sync plan and starts the
// sync stream; it returns the epoch the observer joined.
func (h *observerHandler) handshake() (int64, error) {
	lr := h.lr
	p := lr.p
	pkt, err := h.recv()
	if err != nil {
		return 0, err
	}
	if pkt.Type != PacketObserverInfo {
		return 0, fmt.Errorf("first packet is %s, want OBSERVERINFO", pkt.Type)
	}
	sid, err := bytesInt64(pkt.Data)
	if err != nil {
		return 0, err
	}
	lr.mu.Lock()
	h.sid = sid
	epoch := lr.epoch
	lr.mu.Unlock()
	if sid == p.id {
		return 0, fmt.Errorf("server %d is this server", sid)
	}
	if v := p.v(); v.isMember(sid) && v.q.isVoter(sid) {
		return 0, fmt.Errorf("server %d is a voter, it syncs with the leader", sid)
	}
	if zxidEpoch(pkt.Zxid) > epoch {
		return 0, fmt.Errorf("observer accepted epoch %d, after ours (%d)", zxidEpoch(pkt.Zxid), epoch)
	}
	if err := h.conn.Send(Packet{Type: PacketLeaderInfo, Zxid: makeZxid(epoch, 0), Data: leaderInfoData(p.id)}.Marshal()); err != nil {
		return 0, err
	}
	if err := h.conn.Flush(); err != nil {
		return 0, err
	}
	for {
		if pkt, err = h.recv(); err != nil {
			return 0, err
		}
		if pkt.Type == PacketAckEpoch {
			break
		}
		if pkt.Type != PacketObserverInfo {
			return 0, fmt.Errorf("got %s, want ACKEPOCH", pkt.Type)
		}
	}
	peerLast := pkt.Zxid
	if peerLast > p.applier.applied.Load() {
		// The observer holds txns this follower has not applied yet
		// (it came from a member further ahead): give them a tick to
		// arrive here rather than truncate them.
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.TickTime)
		go func() {
			select {
			case <-lr.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		_ = p.applier.waitApplied(ctx, peerLast)
		cancel()
	}
	lr.mu.Lock()
	if lr.closingObservers || !lr.uptodate {
		lr.mu.Unlock()
		return 0, ErrNoLeader
	}
	d := lr.dispatched
	plan := syncPlan{peerLast: peerLast, planD: d, planP: d, commit: d, epoch: epoch}
	h.forwarding = true
	lr.observers[h] = true
	lr.mu.Unlock()
	lr.obsWG.Add(1)
	go func() {
		defer lr.obsWG.Done()
		if err := p.streamSync(h.conn, sid, plan); err != nil {
			select {
			case <-lr.done:
			default:
				p.log.Warn("syncing observer failed", "peer", sid, "err", err)
			}
			h.out.close()
			_ = h.conn.Close()
			return
		}
		h.out.writeLoop(h.conn)
	}()
	return epoch, nil
}

// sync asks the leader for its committed zxid on the observer's behalf
// and answers once the INFORMs up to it are queued for the observer.
func (h *observerHandler) sync(id int64) {
	lr := h.lr
	defer lr.obsWG.Done()
	target, err := lr.sync(context.Background())
	if err != nil {
		_ = h.conn.Close()
		return
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if !lr.observers[h] {
		return
	}
	if target <= lr.dispatched {
		h.out.push(Packet{Type: PacketSync, Zxid: id, Data: int64Bytes(target)})
		return
	}
	lr.obsSyncs = append(lr.obsSyncs, observerSync{h: h, id: id, target: target})
}

// informObserversLocked sends the txns just handed to the applier to the
// observers, as INFORMs, and answers the syncs they complete. lr.mu is
// held.
func (lr *learner) informObserversLocked(batch []storage.Entry) {
	if len(lr.observers) > 0 {
		prev := lr.dispatched
		for _, e := range batch {
			pk := Packet{Type: PacketInform, Zxid: e.Zxid, Data: proposalData(prev, e.Data)}
			for h := range lr.observers {
				h.out.push(pk)
			}
			prev = e.Zxid
		}
	}
	lr.dispatched = batch[len(batch)-1].Zxid
	if len(lr.obsSyncs) > 0 {
		lr.obsSyncs = slices.DeleteFunc(lr.obsSyncs, func(s observerSync) bool {
			if s.target > lr.dispatched {
				return false
			}
			s.h.out.push(Packet{Type: PacketSync, Zxid: s.id, Data: int64Bytes(s.target)})
			return true
		})
	}
}

// observerTicks pings the observers every half tick and closes those
// silent for syncLimit ticks (initLimit until they are synced), until the
// learner stops.
func (lr *learner) observerTicks() {
	cfg := lr.p.cfg
	t := time.NewTicker(cfg.TickTime / 2)
	defer t.Stop()
	for {
		select {
		case <-lr.done:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		var silent []*observerHandler
		digests := pingDigests(lr.p.sm)
		lr.mu.Lock()
		for h := range lr.obsHandlers {
			limit := cfg.InitLimit
			if h.synced {
				limit = cfg.SyncLimit
			}
			if time.Duration(now-h.lastHeard.Load()) > cfg.TickTime*time.Duration(limit) {
				silent = append(silent, h)
				continue
			}
			if h.forwarding {
				h.out.push(Packet{Type: PacketPing, Data: pingData(h.synced, digests)})
			}
		}
		lr.mu.Unlock()
		for _, h := range silent {
			lr.p.log.Warn("observer silent for too long, closing", "peer", h.sid)
			_ = h.conn.Close()
		}
	}
}

// syncedObservers counts the observers this follower serves in broadcast.
func (lr *learner) syncedObservers() int {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	n := 0
	for h := range lr.observers {
		if h.synced {
			n++
		}
	}
	return n
}

// registerWithMaster registers this observer with a follower serving
// observers: the voters other than the leader, from a random one on, in
// rounds for up to wait while one of them has the port open (a follower
// serves observers only once it is in broadcast, a moment after the
// election). It returns the connection, the LEADERINFO and the id of the
// follower that answered, 0 when the leader did (a member that bound the
// port and was then elected serves observers on it as on its quorum port).
func (p *Peer) registerWithMaster(ctx context.Context, leaderID int64, wait time.Duration) (Conn, Packet, int64, error) {
	v := p.v()
	var ids []int64
	for _, s := range v.servers {
		if s.ID != leaderID && s.ID != p.id && v.q.isVoter(s.ID) {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) == 0 {
		return nil, Packet{}, 0, errors.New("no follower to observe")
	}
	deadline := time.Now().Add(wait)
	maxRetry := min(p.cfg.TickTime/2, time.Second)
	retry := min(5*time.Millisecond, maxRetry)
	start := rand.IntN(len(ids))
	for {
		var err error
		listening := false
		for i := range ids {
			id := ids[(start+i)%len(ids)]
			var c Conn
			var pkt Packet
			c, pkt, err = p.tryRegister(ctx, id, ChannelObserverMaster, PacketObserverInfo, time.Now().Add(maxRetry))
			if err == nil {
				if len(pkt.Data) >= 12 {
					id = int64(binary.BigEndian.Uint64(pkt.Data[4:]))
				}
				if id == leaderID {
					id = 0 // the leader answered: this observer observes it
				}
				return c, pkt, id, nil
			}
			// A member that closes the connection may serve observers a
			// moment later (once it is in broadcast); where the port is
			// not open, nobody will.
			listening = listening || !errors.Is(err, syscall.ECONNREFUSED)
		}
		if !listening || ctx.Err() != nil || time.Now().Add(retry).After(deadline) {
			return nil, Packet{}, 0, err
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, Packet{}, 0, ctx.Err()
		case <-t.C:
		}
		retry = min(2*retry, maxRetry)
	}
}
