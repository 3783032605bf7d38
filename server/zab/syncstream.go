package zab

import (
	"errors"
	"fmt"

	"github.com/zkgo/zkgo/server/storage"
)

// syncPlan is what planSync fixed for one learner: its last zxid, the
// leader's durable and proposed zxids then, the commit point to send (0
// before the epoch is established) and the proposals not yet on disk.
type syncPlan struct {
	peerLast     int64
	planD, planP int64
	commit       int64
	mem          []storage.Entry // entries in (planD, planP], memory only
	epoch        int64
}

var errStopReplay = errors.New("stop replay")

// chunkWriter cuts a snapshot into SNAPCHUNK packets.
type chunkWriter struct {
	send func(Packet) error
	buf  []byte
	off  int64
}

func (w *chunkWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		k := min(snapChunkSize-len(w.buf), len(b))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
		if len(w.buf) == snapChunkSize {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.send(Packet{Type: PacketSnapChunk, Zxid: w.off, Data: w.buf})
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
	return err
}

// syncMode is how a learner is brought up to date.
type syncMode int

const (
	syncDiff syncMode = iota
	syncTrunc
	syncSnap
)

func (m syncMode) String() string {
	return [...]string{"DIFF", "TRUNC", "SNAP"}[m]
}

// decideSync is LearnerHandler.syncFollower: DIFF when the learner's last
// zxid is in the leader's history, TRUNC (then DIFF) when the learner has
// txns the leader does not, SNAP when the leader's log no longer reaches
// back far enough or the diff would be too long. It returns the mode and
// the zxid the stream continues from (the learner's last, the truncation
// point, or 0 for SNAP).
func (p *Peer) decideSync(plan syncPlan) (syncMode, int64, error) {
	peer, last := plan.peerLast, plan.planP
	if zxidEpoch(peer) > plan.epoch {
		return 0, 0, fmt.Errorf("learner has zxid 0x%x from an epoch after ours (%d)", peer, plan.epoch)
	}
	if peer == last {
		return syncDiff, peer, nil
	}
	if peer > last {
		return syncTrunc, last, nil
	}
	from, mode := int64(-1), syncDiff
	if peer > plan.planD {
		prev := plan.planD
		for _, e := range plan.mem {
			if e.Zxid == peer {
				return syncDiff, peer, nil
			}
			if e.Zxid < peer {
				prev = e.Zxid
			}
		}
		return syncTrunc, prev, nil
	}
	found, prev, err := p.findInLog(peer, plan.planD)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case found:
		from = peer
	case prev > 0:
		from, mode = prev, syncTrunc
	default:
		snapZ, body, ok, err := p.store.LatestSnapshot()
		if err != nil {
			return 0, 0, fmt.Errorf("read latest snapshot: %w", err)
		}
		if ok {
			_ = body.Close()
		}
		if (peer == 0 && !ok) || (ok && peer == snapZ) {
			from = peer
		} else {
			return syncSnap, 0, nil
		}
	}
	// Too long a diff: a snapshot is cheaper.
	n := len(plan.mem)
	err = p.store.Replay(from, func(e storage.Entry) error {
		if e.Zxid > plan.planD {
			return errStopReplay
		}
		n++
		if n > p.cfg.MaxDiffEntries {
			return errStopReplay
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopReplay) {
		return 0, 0, fmt.Errorf("count diff: %w", err)
	}
	if n > p.cfg.MaxDiffEntries {
		return syncSnap, 0, nil
	}
	return mode, from, nil
}

// findInLog reports whether zxid z is in the log (up to limit) and, if
// not, the largest logged zxid below it (0 if none).
func (p *Peer) findInLog(z, limit int64) (found bool, prev int64, err error) {
	first := p.store.FirstZxid()
	if first == 0 || z < first {
		return false, 0, nil
	}
	for ep := zxidEpoch(z); ep >= zxidEpoch(first) && ep >= 0; ep-- {
		err = p.store.Replay(makeZxid(ep, 0), func(e storage.Entry) error {
			if e.Zxid > limit || e.Zxid > z {
				return errStopReplay
			}
			if e.Zxid == z {
				found = true
				return errStopReplay
			}
			prev = e.Zxid
			return nil
		})
		if err != nil && !errors.Is(err, errStopReplay) {
			return false, 0, fmt.Errorf("search log for 0x%x: %w", z, err)
		}
		if found || prev > 0 {
			return found, prev, nil
		}
	}
	return false, 0, nil
}

// streamSync writes the synchronisation stream to learner sid on conn:
// DIFF, TRUNC or SNAP, the txns after the learner's point up to the plan's
// last proposal, COMMIT of what was committed, and NEWLEADER. A leader
// streams to its learners, an observer master (a follower) to its
// observers.
func (p *Peer) streamSync(conn Conn, sid int64, plan syncPlan) error {
	mode, from, err := p.decideSync(plan)
	if err != nil {
		return err
	}
	send := func(pk Packet) error { return conn.Send(pk.Marshal()) }
	switch mode {
	case syncDiff:
		err = send(Packet{Type: PacketDiff, Zxid: plan.planP})
	case syncTrunc:
		err = send(Packet{Type: PacketTrunc, Zxid: from})
	case syncSnap:
		// The snapshot streams as it is written; its zxid comes at the end.
		if err = send(Packet{Type: PacketSnap}); err != nil {
			return err
		}
		cw := &chunkWriter{send: send}
		var s int64
		s, err = p.sm.Snapshot(cw)
		if err == nil {
			err = cw.flush()
		}
		if err != nil {
			return fmt.Errorf("snapshot for learner: %w", err)
		}
		from = s
		err = send(Packet{Type: PacketSnapEnd, Zxid: s, Data: int64Bytes(cw.off)})
	}
	if err != nil {
		return err
	}
	if mode == syncSnap {
		p.metrics.SnapCount.Add(1)
	} else {
		p.metrics.DiffCount.Add(1)
	}
	p.log.Info("syncing learner", "peer", sid, "mode", mode.String(),
		"peer_zxid", fmt.Sprintf("0x%x", plan.peerLast), "from", fmt.Sprintf("0x%x", from),
		"to", fmt.Sprintf("0x%x", plan.planP))
	prev := from
	err = p.store.Replay(from, func(e storage.Entry) error {
		if e.Zxid > plan.planD {
			return errStopReplay
		}
		if err := send(Packet{Type: PacketProposal, Zxid: e.Zxid, Data: proposalData(prev, e.Data)}); err != nil {
			return err
		}
		prev = e.Zxid
		return nil
	})
	if err != nil && !errors.Is(err, errStopReplay) {
		return fmt.Errorf("stream log to learner: %w", err)
	}
	for _, e := range plan.mem {
		if e.Zxid <= prev {
			continue
		}
		if err := send(Packet{Type: PacketProposal, Zxid: e.Zxid, Data: proposalData(prev, e.Data)}); err != nil {
			return err
		}
		prev = e.Zxid
	}
	if plan.commit > 0 {
		if err := send(Packet{Type: PacketCommit, Zxid: min(plan.commit, max(prev, from))}); err != nil {
			return err
		}
	}
	if err := send(Packet{Type: PacketNewLeader, Zxid: makeZxid(plan.epoch, 0)}); err != nil {
		return err
	}
	return conn.Flush()
}
