package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/tlsnet"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/wire"
	"github.com/zkgo/zkgo/server/zab"
)

// In ensemble mode the server replicates through a zab.Peer:
//   - the leader preps every write (its own clients' and those learners
//     forward) and hands the txn to Propose, which assigns the zxid;
//   - followers and observers forward writes to the leader;
//   - every member applies committed txns through the StateMachine below,
//     and the member holding the client's connection answers it then,
//     found by (session id, cxid) in s.waiting.

type waitKey struct {
	session int64
	cxid    int32
}

// quorumTLS builds the TLS setting of the connections between members
// from sslQuorum, portUnification and the ssl.quorum.* keys; nil when
// neither is on. With sslQuorumReloadCertFiles the stores are watched
// until quit is closed.
func quorumTLS(cfg *config.Config, log *slog.Logger, quit <-chan struct{}) (*zab.TLS, error) {
	if !cfg.SSLQuorum && !cfg.PortUnification {
		return nil, nil
	}
	stores, err := tlsnet.NewStores(cfg.QuorumTLS, "ssl.quorum.", log)
	if err != nil {
		return nil, err
	}
	if cfg.SSLQuorumReloadCertFiles {
		go stores.Watch(quit, time.Second)
	}
	return &zab.TLS{
		Stores:      stores,
		Dial:        cfg.SSLQuorum,
		Unified:     cfg.PortUnification,
		VerifyNames: !cfg.QuorumTLS.NoHostnameVerification,
		ReverseDNS:  !cfg.QuorumTLS.NoReverseDNS,
	}, nil
}

// quorumAuth is the members' logins to each other (quorum.auth.*); nil
// when quorum.auth.enableSasl is off.
func quorumAuth(cfg *config.Config) *zab.QuorumAuth {
	q := cfg.QuorumSASL
	if !q.Enabled {
		return nil
	}
	return &zab.QuorumAuth{
		ServerRequire:  q.ServerRequire,
		LearnerRequire: q.LearnerRequire,
		Users:          q.Users,
		User:           q.User,
		Password:       q.Password,
		Timeout:        cfg.CnxTimeout,
	}
}

// newPeer builds the quorum peer for an ensemble configuration.
func (s *Server) newPeer() error {
	if err := s.loadDynamicConfig(); err != nil {
		return err
	}
	cfg := s.cfg
	qtls, err := quorumTLS(cfg, s.log, s.quit)
	if err != nil {
		return err
	}
	p, err := zab.New(zab.Config{
		TLS:            qtls,
		Auth:           quorumAuth(cfg),
		ListenOnAllIPs: cfg.QuorumListenOnAllIPs,
		MyID:           cfg.MyID,
		Servers:        cfg.Servers,
		ConfigVersion:  cfg.ConfigVersion,
		Observer:       cfg.PeerType == "observer",
		TickTime:       cfg.TickTime,
		InitLimit:      cfg.InitLimit,
		SyncLimit:      cfg.SyncLimit,
		Store:          s.store,
		SM:             stateMachine{s},
		Logger:         s.log,
		Metrics:        s.metrics,
		TxnTime:        txn.TimeOf,

		ObserverMasterPort:      cfg.ObserverMasterPort,
		FinalizeWait:            cfg.MinNotificationInterval,
		MaxNotificationInterval: cfg.MaxNotificationInterval,
	})
	if err != nil {
		return err
	}
	p.OnRequest(s.onForwarded)
	p.OnSessionTouch(func(ids []int64) {
		for _, id := range ids {
			s.sessions.touch(id)
		}
	})
	p.OnStateChange(s.onPeerState)
	s.peer = p
	s.prep.EnableReconfig(p, cfg.StandaloneEnabled)
	s.waiting = make(map[waitKey]func(int64, txn.Result))
	s.modeFn = func() string {
		if s.readOnly.Load() {
			return "read-only"
		}
		switch p.State() {
		case zab.Leading:
			return "leader"
		case zab.Following:
			return "follower"
		case zab.Observing:
			return "observer"
		}
		return "looking"
	}
	s.quorumFn = func() *fourletter.Quorum {
		st := p.Status()
		servers, _, _ := p.Membership()
		voters := config.Voters(servers)
		phase := "election"
		if st.Serving {
			phase = "broadcast"
		}
		q := &fourletter.Quorum{
			PeerState:       st.PeerState,
			QuorumSize:      voters,
			ZabState:        phase,
			Voting:          cfg.PeerType != "observer",
			LeaderID:        st.Leader,
			Learners:        st.Learners,
			SyncedFollowers: st.SyncedFollowers,
			SyncedObservers: st.SyncedObservers,
			PendingSyncs:    st.PendingSyncs,
			ProposalLast:    -1, ProposalMin: -1, ProposalMax: -1,
		}
		if st.State == zab.Leading {
			q.ProposalLast, q.ProposalMin, q.ProposalMax = s.proposalSizes.Last(), s.proposalSizes.Min(), s.proposalSizes.Max()
		}
		if st.Leader == 0 {
			q.LeaderID = -1
		}
		q.MasterID = st.Master
		if st.Master == 0 {
			q.MasterID = -1
		}
		return q
	}
	return nil
}

// onPeerState reacts to role changes: a member that stops serving drops its
// clients (they reconnect elsewhere), as Apache shuts its ZooKeeperServer
// down; a new leader forgets in-flight changes and restarts session clocks.
func (s *Server) onPeerState(st zab.Status) {
	s.mu.Lock()
	was := s.serving
	s.serving = st.Serving
	switch {
	case st.Serving && !was:
		close(s.servingCh) // wake handshakes waiting for the ensemble
	case !st.Serving && was:
		s.servingCh = make(chan struct{})
	}
	s.mu.Unlock()
	if st.Serving && !was {
		s.initConfigNode()
	}
	if st.Serving && st.State == zab.Leading {
		s.prepMu.Lock()
		s.prep.Reset()
		s.prepMu.Unlock()
		s.sessions.restartClocks()
		s.mu.Lock()
		if !s.leadReady {
			s.leadReady = true
			close(s.leadCh)
		}
		s.mu.Unlock()
	} else {
		s.mu.Lock()
		if s.leadReady {
			s.leadReady = false
			s.leadCh = make(chan struct{})
			s.proposalSizes.Reset() // the next leadership starts afresh, as Apache's new Leader
		}
		s.mu.Unlock()
	}
	if was && !st.Serving {
		s.dropClients()
	}
	if st.Serving && s.readOnly.Swap(false) {
		// Back in a quorum: read-only clients reconnect to a r/w server.
		s.log.Info("leaving read-only mode")
		s.dropClients()
		s.sessions.dropLocal()
	}
}

// initConfigNode writes the active membership into /zookeeper/config when
// this member starts to serve (in the ensemble or read-only), as Apache's
// initConfigInZKDatabase does at start-up and after a learner's sync: no
// txn carries the membership the ensemble started with, so without it
// zkCli.sh's config would show an empty node. As there, the node's version
// is -1 and its mzxid the membership's version; a newer membership a
// reconfig txn already wrote is left alone.
func (s *Server) initConfigNode() {
	servers, version, _ := s.peer.Membership()
	data := txn.ConfigText(config.ServerLines(servers), version)
	s.tree.Lock()
	defer s.tree.Unlock()
	if n := s.tree.Get(txn.ConfigNode); n == nil || n.Mzxid > version {
		return
	}
	s.tree.SetData(txn.ConfigNode, data, -1, version, time.Now().UnixMilli())
}

// readOnlyLoop puts a participant that has been out of a quorum for
// max(2 s, tickTime) into read-only mode (readonlymode.enabled), as
// Apache's QuorumPeer starts a ReadOnlyZooKeeperServer, and expires the
// local sessions of its read-only clients.
func (s *Server) readOnlyLoop() {
	defer s.wg.Done()
	wait := max(2*time.Second, s.cfg.TickTime)
	t := time.NewTicker(min(100*time.Millisecond, wait/4))
	defer t.Stop()
	var since time.Time
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			if s.isServing() {
				since = time.Time{}
				continue
			}
			if since.IsZero() {
				since = now
			}
			if !s.readOnly.Load() && now.Sub(since) >= wait {
				s.log.Info("no quorum: entering read-only mode")
				s.initConfigNode()
				s.readOnly.Store(true)
			}
			if s.readOnly.Load() {
				for _, sess := range s.sessions.expiredLocal(now) {
					if sess.conn != nil {
						sess.conn.close()
					}
				}
			}
		}
	}
}

// dropClients closes every client connection and forgets waiting writes.
func (s *Server) dropClients() {
	for _, c := range s.connList() {
		c.close()
	}
	s.waitMu.Lock()
	clear(s.waiting)
	s.waitMu.Unlock()
}

func (s *Server) isServing() bool {
	if s.peer == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// awaitServing holds a new client's handshake while this member looks for
// a leader, up to max(2 s, tickTime), and reports whether it serves now.
// Apache closes such connections at once and the client tries the next
// server after a pause; holding them lets clients resume as soon as the
// election ends, which is what makes fail-over fast.
func (s *Server) awaitServing(c *conn) bool {
	if s.peer == nil {
		return true
	}
	s.mu.Lock()
	serving, ch := s.serving, s.servingCh
	s.mu.Unlock()
	return serving || s.awaitClosed(ch, c.closed) && s.isServing()
}

// awaitClosed waits up to max(2 s, tickTime) for ch to be closed; stop
// (when not nil) or the server's shutdown end the wait early. It reports
// whether ch was closed.
func (s *Server) awaitClosed(ch, stop <-chan struct{}) bool {
	t := time.NewTimer(max(2*time.Second, s.cfg.TickTime))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-stop:
	case <-s.quit:
	}
	return false
}

// awaitApplied holds the handshake of a client that has seen the txn
// zxid, which this member holds but has not applied yet, until it has,
// for up to a tick; it reports whether it has. Members apply a commit
// each at its own pace (the leader once its own log has the txn), so a
// client that wrote through one member and moves to another a moment
// later can arrive first. Apache refuses it at once and the client tries
// the next server; waiting the few milliseconds resumes its session here.
func (s *Server) awaitApplied(c *conn, zxid int64) bool {
	if s.peer == nil {
		return false
	}
	ctx, cancel := s.handshakeWait(c, s.cfg.TickTime)
	defer cancel()
	return s.peer.AwaitApplied(ctx, zxid) && s.lastZxid.Load() >= zxid
}

// handshakeWait bounds a wait of c's handshake: the context ends after d,
// or when c closes or the server stops.
func (s *Server) handshakeWait(c *conn, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-c.closed:
		case <-s.quit:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// revalidate makes a learner confirm, with a round trip to its leader,
// that it is still part of the ensemble before it lets a client re-attach
// a session, as Apache's learner revalidates the session with the leader.
// A follower whose leader just died may not have noticed yet: it would
// hand the client its session and drop the connection a moment later, when
// it leaves the broadcast phase (go-zookeeper's
// TestIntegration_ClientClusterFailover then failed its next read, about
// 1 run in 10). Refused here, the client tries another server at once.
func (s *Server) revalidate(c *conn) bool {
	if s.peer == nil || c.readOnly || s.peer.State() == zab.Leading {
		return true
	}
	ctx, cancel := s.handshakeWait(c, max(2*time.Second, s.cfg.TickTime))
	defer cancel()
	if err := s.peer.Sync(ctx); err != nil {
		c.log.Info("refusing to re-attach a session: the leader did not answer", "err", err)
		return false
	}
	return true
}

// submitQuorum routes a write: prepped here when leading, forwarded
// otherwise. The reply comes from Apply through s.waiting.
func (s *Server) submitQuorum(w *writeReq) bool {
	key := waitKey{w.req.SessionID, w.req.Cxid}
	if w.done != nil {
		s.waitMu.Lock()
		s.waiting[key] = w.done
		s.waitMu.Unlock()
	}
	var err error
	if s.peer.State() == zab.Leading {
		err = s.propose(&w.req)
	} else {
		err = s.peer.Forward(encodeForward(&w.req))
	}
	if err != nil {
		s.waitMu.Lock()
		delete(s.waiting, key)
		s.waitMu.Unlock()
		s.log.Debug("write not accepted", "err", err)
		return false
	}
	return true
}

// awaitLeadReady holds a write until this member leads with its prep step
// ready, up to max(2 s, tickTime): its tree holds every txn committed
// when the leadership began (the leader serves only once they are
// applied) and the prep step has forgotten what it had in flight before.
// A learner may forward writes as soon as it is synced, which is earlier;
// prepped then, a write was checked against a tree that did not have the
// txns committed with the new epoch yet (a setData of a node those
// created got NONODE, found by the nemesis test).
func (s *Server) awaitLeadReady() error {
	s.mu.Lock()
	ready, ch := s.leadReady, s.leadCh
	s.mu.Unlock()
	if ready || s.awaitClosed(ch, nil) {
		return nil
	}
	return zab.ErrNotLeader
}

// propose preps a request on the leader and proposes its txn.
func (s *Server) propose(req *txn.Request) error {
	if err := s.awaitLeadReady(); err != nil {
		return err
	}
	if req.Type == wire.OpReconfig {
		// Outside prepMu: other writes go on meanwhile.
		ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.TickTime, time.Second))
		s.peer.AwaitQuorumSynced(ctx)
		cancel()
	}
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	t, changes := s.prep.Prep(req, time.Now().UnixMilli())
	var zxid int64
	var err error
	if t.Type == txn.TypeReconfig {
		var servers []config.Server
		servers, _, err = txn.ParseConfigText(t.Data)
		if err == nil {
			zxid, err = s.peer.ProposeReconfig(t.Marshal(), servers)
		}
	} else {
		zxid, err = s.peer.Propose(t.Marshal())
	}
	if err != nil {
		return err
	}
	s.proposalSizes.Add(s.proposalSize(t))
	s.prep.Commit(changes, zxid)
	return nil
}

// onForwarded runs a learner's request on the leader.
func (s *Server) onForwarded(from int64, b []byte) {
	req, err := decodeForward(b)
	if err != nil {
		s.log.Warn("dropping malformed forwarded request", "from", from, "err", err)
		return
	}
	if err := s.propose(req); err != nil {
		s.log.Debug("forwarded request not proposed", "from", from, "err", err)
	}
}

// encodeForward serialises a write for the leader: session, cxid, type,
// timeout, auth ids, then the request body.
func encodeForward(r *txn.Request) []byte {
	e := wire.NewEncoder(make([]byte, 0, 128))
	e.Long(r.SessionID)
	e.Int(r.Cxid)
	e.Int(r.Type)
	e.Int(r.Timeout)
	e.Int(int32(len(r.Auth)))
	for _, id := range r.Auth {
		e.String(id.Scheme)
		e.String(id.ID)
	}
	if r.Body != nil {
		r.Body.Encode(e)
	}
	return e.Bytes()
}

func decodeForward(b []byte) (*txn.Request, error) {
	d := wire.NewDecoder(b)
	r := &txn.Request{SessionID: d.Long(), Cxid: d.Int(), Type: d.Int(), Timeout: d.Int()}
	n := d.VectorLen(8)
	for i := 0; i < n && d.Err() == nil; i++ {
		r.Auth = append(r.Auth, wire.ID{Scheme: d.String(), ID: d.String()})
	}
	switch r.Type {
	case wire.OpCreateSession, wire.OpCloseSession:
	case wire.OpDeleteContainer:
		r.Body = &wire.PathRequest{}
	default:
		r.Body = newRequestBody(r.Type)
		if r.Body == nil {
			return nil, fmt.Errorf("opcode %d", r.Type)
		}
	}
	if r.Body != nil {
		r.Body.Decode(d)
	}
	return r, d.Err()
}

// syncQuorum answers a sync op once this member caught up with the leader.
func (s *Server) syncQuorum(c *conn, xid int32, path string, sl *slot) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.maxTimeout)
		defer cancel()
		code := wire.CodeOK
		if err := s.peer.Sync(ctx); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				// The leader is gone: as Apache, the connection closes
				// (after the answers before this one) and the client
				// sees a connection loss, not an error code.
				sl.closeConn = true
				c.fill(sl, nil)
				return
			}
			code = wire.CodeOperationTimeout
		}
		c.fill(sl, s.reply(xid, code, &wire.PathResponse{Path: path}))
	}()
}

// stateMachine is the server as zab's StateMachine.
type stateMachine struct{ s *Server }

func (m stateMachine) Apply(e storage.Entry) {
	s := m.s
	t, err := txn.Unmarshal(e.Data)
	if err != nil {
		s.fail(fmt.Errorf("committed txn 0x%x does not decode: %w", e.Zxid, err))
		return
	}
	t.Zxid = e.Zxid
	res := s.applyTxn(t, true)
	if t.Type == txn.TypeReconfig && res.Err == 0 {
		s.activateConfig(t.Data, t.Zxid)
	}
	key := waitKey{t.SessionID, t.Cxid}
	s.waitMu.Lock()
	done := s.waiting[key]
	delete(s.waiting, key)
	s.waitMu.Unlock()
	if done != nil {
		done(t.Zxid, res)
	}
	s.maybeSnapshot(1)
}

// Snapshot streams a fuzzy snapshot, as Apache's leader sends a learner:
// the tree is walked a chunk at a time (encodeFuzzySnapshot) and written
// to w between chunks, so the leader's writes go on while a large tree
// streams out. Every txn up to the zxid returned was applied before the
// walk began; the learner replays the txns after it over what it got,
// which txn.Apply tolerates, as it does in recovery from the snapshots
// the server writes to disk. Encoding the whole tree under the read lock
// first, into a buffer as large as the snapshot, held the leader's writes
// for up to 2 s while a follower took a snapshot of a million znodes.
func (m stateMachine) Snapshot(w io.Writer) (int64, error) {
	s := m.s
	zxid := s.lastZxid.Load()
	return zxid, s.encodeFuzzySnapshot(w)
}

func (m stateMachine) Restore(zxid int64, r io.Reader) error {
	s := m.s
	fresh := &Server{cfg: s.cfg, log: s.log, tree: s.newTree(), sessions: newSessionTable(s.cfg.TickTime, s.cfg.MyID)}
	if err := fresh.decodeSnapshot(r); err != nil {
		return err
	}
	s.tree.Lock()
	s.tree.ReplaceWith(fresh.tree)
	s.sessions.replaceWith(fresh.sessions)
	s.lastZxid.Store(zxid)
	s.digests.expect(fresh.digests.pendingDigest())
	if err := s.digests.checkLoaded(zxid, s.tree); err != nil {
		s.log.Error("tree digest mismatch", "snapshot from the leader", fmt.Sprintf("0x%x", zxid), "err", err)
	}
	s.tree.Unlock()
	s.prepMu.Lock()
	s.prep.Reset()
	s.prepMu.Unlock()
	// The state may hold a newer membership than ours (a reconfig we did
	// not apply as a txn).
	var data []byte
	s.tree.RLock()
	if n := s.tree.Get(txn.ConfigNode); n != nil {
		data = n.Data
	}
	s.tree.RUnlock()
	if len(data) > 0 {
		if _, v, err := txn.ParseConfigText(data); err == nil && v > 0 {
			s.activateConfig(data, v)
		}
	}
	return nil
}

// dynamicPrefix names the files holding a membership set by reconfig,
// dataDir/zoo.cfg.dynamic.<hex version>, as Apache names them.
const dynamicPrefix = "zoo.cfg.dynamic."

// activateConfig makes a committed membership active in the peer and
// persists it in dataDir, so that a restarted member comes back with it.
func (s *Server) activateConfig(text []byte, version int64) {
	servers, _, err := txn.ParseConfigText(text)
	if err != nil {
		s.log.Error("committed membership does not parse", "version", fmt.Sprintf("0x%x", version), "err", err)
		return
	}
	// The leader's peer switched already at the commit; persist anyway
	// unless as new a membership is on disk.
	newest := s.cfg.ConfigVersion
	files, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, dynamicPrefix+"*"))
	for _, f := range files {
		if v, ok := dynamicVersion(f); ok {
			newest = max(newest, v)
		}
	}
	if version > newest {
		if err := s.writeDynamicConfig(servers, version); err != nil {
			s.log.Error("cannot persist the new membership", "err", err)
		}
	}
	if err := s.peer.Reconfigure(servers, version); err != nil {
		s.log.Error("cannot activate the new membership", "err", err)
	}
}

// writeDynamicConfig writes dataDir/zoo.cfg.dynamic.<hex version> (server
// lines; the version is in the name) durably and removes older ones.
func (s *Server) writeDynamicConfig(servers []config.Server, version int64) error {
	dir := s.cfg.DataDir
	name := filepath.Join(dir, dynamicPrefix+strconv.FormatInt(version, 16))
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("dynamic config: %w", err)
	}
	_, err = f.WriteString(config.ServerLines(servers))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dynamic config %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	olds, _ := filepath.Glob(filepath.Join(dir, dynamicPrefix+"*"))
	for _, o := range olds {
		if v, ok := dynamicVersion(o); ok && v < version {
			_ = os.Remove(o)
		}
	}
	s.log.Info("membership persisted", "file", name)
	return nil
}

func dynamicVersion(path string) (int64, bool) {
	suffix := strings.TrimPrefix(filepath.Base(path), dynamicPrefix)
	v, err := strconv.ParseUint(suffix, 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(v), true
}

// loadDynamicConfig starts from the newest membership a reconfig left in
// dataDir when it is newer than the configuration file's.
func (s *Server) loadDynamicConfig() error {
	files, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, dynamicPrefix+"*"))
	best, bestV := "", s.cfg.ConfigVersion
	for _, f := range files {
		if v, ok := dynamicVersion(f); ok && v > bestV {
			best, bestV = f, v
		}
	}
	if best == "" {
		return nil
	}
	b, err := os.ReadFile(best)
	if err != nil {
		return fmt.Errorf("dynamic config: %w", err)
	}
	servers, _, err := txn.ParseConfigText(b)
	if err != nil {
		return fmt.Errorf("dynamic config %s: %w", best, err)
	}
	c := *s.cfg
	c.Servers, c.ConfigVersion = servers, bestV
	s.cfg = &c
	s.log.Info("membership from a reconfig", "file", best, "version", fmt.Sprintf("0x%x", bestV))
	return nil
}

func (m stateMachine) LastApplied() int64 { return m.s.lastZxid.Load() }

// Digests and CheckDigest make the server a zab.Digester: a leader's pings
// carry its tree's latest digests, which each learner checks.
func (m stateMachine) Digests() []zab.Digest {
	m.s.tree.RLock()
	ds := m.s.digests.latest(m.s.tree)
	m.s.tree.RUnlock()
	out := make([]zab.Digest, len(ds))
	for i, d := range ds {
		out[i] = zab.Digest(d)
	}
	return out
}

func (m stateMachine) CheckDigest(d zab.Digest) {
	m.s.tree.RLock()
	err := m.s.digests.checkPeer(ZxidDigest(d), m.s.tree)
	m.s.tree.RUnlock()
	if err != nil {
		m.s.digestLog.error("tree digest mismatch", "err", err)
	}
}

// proposalSize is t's size in Apache's proposals: the txn as Apache
// serializes it and, when digests are kept, its TxnDigest (int version,
// long digest). zkgo's members compare digests in PINGs instead.
func (s *Server) proposalSize(t *txn.Txn) int64 {
	n := t.ApacheSize()
	if s.keepsDigest() {
		n += 4 + 8
	}
	return int64(n)
}
