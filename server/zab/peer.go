package zab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/internal/metric"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/storage"
)

// StateMachine is what the server replicates: its data tree and sessions.
type StateMachine interface {
	// Apply applies a committed txn. It is called strictly in zxid order,
	// on every member, one call at a time (each call happens before the
	// next), never concurrently with Restore. Calls come from the
	// applier goroutine or, when it is idle, from the goroutine that
	// learned of the commit, so Apply must not wait for zab.
	Apply(e storage.Entry)
	// Snapshot writes a state from which applying the entries after the
	// zxid it returns gives the state after them. It may be called while
	// Apply runs on another goroutine. The state written is either the
	// state as of that zxid or, where Apply tolerates an entry whose
	// effect the state already holds, a fuzzy one that also holds some
	// of the entries applied while it was written (ZooKeeper's).
	Snapshot(w io.Writer) (zxid int64, err error)
	// Restore replaces the whole state with a snapshot taken at zxid.
	Restore(zxid int64, r io.Reader) error
	// LastApplied is the zxid of the last txn applied or restored.
	LastApplied() int64
}

// txnAge adds to sum the time since the txn of data was made, as the
// leader's wall clock had it.
func (p *Peer) txnAge(sum *metric.Summary, data []byte) {
	if p.cfg.TxnTime == nil {
		return
	}
	if t, ok := p.cfg.TxnTime(data); ok {
		sum.AddSince(t)
	}
}

// Digest is a digest of a state machine's state once the txn zxid was
// applied (ZooKeeper's tree digest), of a given algorithm version.
type Digest struct {
	Zxid    int64
	Version int32
	Digest  int64
}

// A Digester is a StateMachine that keeps a digest of its state. The
// leader's pings (and an observer master's) carry its latest digests, and
// each learner compares them with its own at the same zxids: a member
// whose state went astray from the leader's, which nothing else in the
// protocol would notice, is then reported (Apache's followers compare
// the digest each txn carries).
type Digester interface {
	// Digests are the state's digests to send: none when it keeps none
	// or is not exact yet (a fuzzy snapshot not yet replayed to its end).
	Digests() []Digest
	// CheckDigest compares a leader's digest with this state's at the
	// same zxid, now or once that zxid is applied.
	CheckDigest(d Digest)
}

// Config configures a Peer.
type Config struct {
	MyID int64
	// Servers is the membership (server.N lines). Empty, or only MyID,
	// means standalone: an ensemble of one.
	Servers []config.Server
	// Observer makes this member an observer (peerType=observer); a
	// server.N line ending in :observer does too.
	Observer bool
	// ConfigVersion is the version of Servers (the dynamic file's
	// suffix; 0 for a static configuration).
	ConfigVersion int64

	TickTime  time.Duration // zoo.cfg tickTime (default 2s)
	InitLimit int           // ticks a learner may take to connect and sync (default 10)
	SyncLimit int           // ticks a learner may lag / be silent (default 5)

	Store  *storage.Store
	SM     StateMachine
	Logger *slog.Logger
	// Metrics gets the election's and the broadcast's counts and times
	// (election_time, proposal_count, …); nil keeps them to the Peer.
	Metrics *metric.Server
	// TxnTime reads the time an entry's txn was made (ms since the epoch),
	// for proposal_latency and quorum_ack_latency; nil: none kept.
	TxnTime func(data []byte) (int64, bool)
	// Transport connects the members; nil means TCP on the quorum and
	// election ports of Servers, over TLS as TLS says.
	Transport Transport
	// ListenOnAllIPs makes the TCP transport listen on every address
	// (quorumListenOnAllIPs), not only its server line's host.
	ListenOnAllIPs bool
	// TLS, when set, makes the TCP transport's connections TLS
	// (sslQuorum) or lets its ports accept TLS beside plain connections
	// (portUnification).
	TLS *TLS
	// Auth, when set, has the TCP transport's members log in to each
	// other (quorum.auth.enableSasl).
	Auth *QuorumAuth

	// FinalizeWait is how long an election waits for a better vote once a
	// quorum agrees (Apache: 200 ms); it is also the first notification
	// resend interval, doubling up to MaxNotificationInterval (60 s).
	FinalizeWait            time.Duration
	MaxNotificationInterval time.Duration
	// MaxDiffEntries: a learner that needs more txns than this is sent a
	// snapshot instead (Apache bounds the diff by log size; default 100000).
	MaxDiffEntries int
	// ObserverMasterPort (zoo.cfg observerMasterPort), when set, has a
	// follower serve observers on that port of its host (they sync from
	// it, and it relays their requests to the leader), and has observers
	// look for a follower on it before they fall back to the leader.
	ObserverMasterPort int
}

// Errors returned by Peer methods.
var (
	// ErrNotLeader is returned by Propose on a member that is not an
	// established leader.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader is returned by Forward and Sync while this member is not
	// connected to an established leader.
	ErrNoLeader = errors.New("no leader")
	// ErrReconfigInProgress is returned by ProposeReconfig while another
	// reconfig is not committed yet.
	ErrReconfigInProgress = errors.New("a reconfig is in progress")
)

// Status is what srvr, stat and mntr report about replication.
type Status struct {
	State     State
	PeerState string // Apache's zk_peer_state: "leading - broadcast", "following - synchronization - diff", "looking"
	Serving   bool   // this member answers clients (broadcast phase)
	// Standalone: an ensemble of one (no other server.N line); srvr says
	// "Mode: standalone" then, as Apache does.
	Standalone bool
	MyID       int64
	Leader     int64 // 0 when unknown
	Epoch      int64 // currentEpoch
	LastZxid   int64 // last logged zxid
	Applied    int64 // last applied zxid
	// Leader only.
	Learners        int // connected learners (followers and observers)
	SyncedFollowers int // voting followers in broadcast and heard within syncLimit
	// SyncedObservers: on the leader, the observers in broadcast it
	// serves; on a follower, those it serves as their observer master.
	SyncedObservers int
	Proposals       int // proposals in flight (not committed)
	// Syncs waiting: on the leader, learners' syncs parked behind
	// outstanding proposals (zk_pending_syncs); on a learner, its own.
	PendingSyncs int
	// Learners only: how the last synchronisation with a leader was done
	// ("DIFF", "TRUNC", "SNAP").
	LastSync string
	// Learners only: the member this one syncs with, the leader or, for
	// an observer, a follower serving observers (0 when none).
	Master int64
}

// Peer is one member of the ensemble.
type Peer struct {
	cfg       Config
	metrics   *metric.Server
	id        int64
	log       *slog.Logger
	store     *storage.Store
	sm        StateMachine
	cur       atomic.Pointer[view] // the active membership
	transport Transport

	// logFailed is set when a txn log append failed (a full or failing
	// disk); the member then waits before its next election (Run).
	logFailed atomic.Bool

	recvq   chan notification
	elect   *electionNet
	applier *applier
	started atomic.Bool

	mu             sync.Mutex // guards the fields below
	state          State
	phase          string
	serving        bool
	leaderID       int64
	vote           Vote
	logicalClock   int64
	acceptedEpoch  int64
	currentEpoch   int64
	lastLogged     int64
	lastSync       string
	lead           *leader
	learner        *learner
	onRequest      func(from int64, req []byte)
	onSessionTouch func(ids []int64)
	onStateChange  func(st Status)
	nvTold         map[int64]Vote // last vote told to each non-voter while looking
	// notLeading is closed when the member this one is registering with
	// as a learner says, in an election notification, that it does not
	// lead (it follows another, or looks and votes for another):
	// registering with it would only wait out initLimit. Nil when not
	// registering.
	notLeading    chan struct{}
	registeringTo int64

	tmu     sync.Mutex
	touched map[int64]struct{}
}

// New validates cfg and builds a Peer; nothing runs until Run.
func New(cfg Config) (*Peer, error) {
	if cfg.Store == nil || cfg.SM == nil {
		return nil, errors.New("zab: Config.Store and Config.SM are required")
	}
	if cfg.TickTime <= 0 {
		cfg.TickTime = 2 * time.Second
	}
	if cfg.InitLimit <= 0 {
		cfg.InitLimit = 10
	}
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = 5
	}
	if cfg.FinalizeWait <= 0 {
		cfg.FinalizeWait = 200 * time.Millisecond
	}
	if cfg.MaxNotificationInterval <= 0 {
		cfg.MaxNotificationInterval = 60 * time.Second
	}
	if cfg.MaxNotificationInterval < cfg.FinalizeWait {
		cfg.MaxNotificationInterval = cfg.FinalizeWait
	}
	if cfg.MaxDiffEntries <= 0 {
		cfg.MaxDiffEntries = 100000
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metric.NewServer()
	}
	p := &Peer{
		cfg:     cfg,
		metrics: cfg.Metrics,
		id:      cfg.MyID,
		log:     logger.With("myid", cfg.MyID),
		store:   cfg.Store,
		sm:      cfg.SM,
		recvq:   make(chan notification, 1024),
		touched: make(map[int64]struct{}),
	}
	v, err := newView(cfg.MyID, cfg.Servers, cfg.Observer, cfg.ConfigVersion)
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) > 0 && !v.isMember(cfg.MyID) {
		return nil, fmt.Errorf("zab: myid %d is not among the servers of the configuration", cfg.MyID)
	}
	if len(cfg.Servers) == 0 && v.observer {
		return nil, errors.New("zab: a standalone server cannot be an observer")
	}
	p.cur.Store(v)
	p.transport = cfg.Transport
	if p.transport == nil && len(v.others) > 0 {
		t := NewTCPTransport(cfg.MyID, cfg.Servers).(*tcpTransport)
		t.tls, t.log, t.listenAll, t.auth = cfg.TLS, p.log, cfg.ListenOnAllIPs, cfg.Auth
		t.omPort = cfg.ObserverMasterPort
		p.transport = t
	}
	p.applier = newApplier(p)
	return p, nil
}

// view is one membership of the ensemble (Apache's QuorumVerifier): who
// is in it, who votes, and its version (the zxid of the reconfig that
// made it, 0 for the configuration files'). It never changes: a reconfig
// swaps in a new one.
type view struct {
	q        quorum
	servers  []config.Server
	members  map[int64]config.Server
	others   []int64 // every member but this one, voters and observers
	observer bool    // this member does not vote (an observer, or not a member)
	version  int64
}

// newView builds the view of servers for member myID; cfgObserver is
// peerType=observer.
func newView(myID int64, servers []config.Server, cfgObserver bool, version int64) (*view, error) {
	v := &view{members: make(map[int64]config.Server), version: version, servers: slices.Clone(servers)}
	var voters []int64
	found := false
	for _, s := range servers {
		if _, dup := v.members[s.ID]; dup {
			return nil, fmt.Errorf("zab: server.%d is listed twice", s.ID)
		}
		v.members[s.ID] = s
		obs := s.Observer || (s.ID == myID && cfgObserver)
		if s.ID == myID {
			found = true
			v.observer = obs
		} else {
			v.others = append(v.others, s.ID)
		}
		if !obs {
			voters = append(voters, s.ID)
		}
	}
	switch {
	case len(servers) == 0:
		v.observer = cfgObserver
		if !cfgObserver {
			voters = []int64{myID}
		}
	case !found:
		// Not in this membership: a non-voting follower (a removed member,
		// or a joiner before the reconfig that adds it), which still logs
		// and acknowledges proposals, as Apache's; or an observer.
		v.observer = cfgObserver
	}
	if len(voters) == 0 {
		return nil, errors.New("zab: the configuration has no voting member")
	}
	v.q = newQuorum(voters)
	slices.Sort(v.others)
	return v, nil
}

func (v *view) isMember(id int64) bool {
	_, ok := v.members[id]
	return ok
}

// v is the current membership.
func (p *Peer) v() *view { return p.cur.Load() }

func (p *Peer) isMember(id int64) bool {
	return p.v().isMember(id) || id == p.id
}

// OnRequest sets the function the leader calls with each request a
// learner forwarded (and with the leader's own Forward calls). It runs on
// the connection's goroutine: queue the work, don't block. Set before Run.
func (p *Peer) OnRequest(fn func(from int64, req []byte)) {
	p.mu.Lock()
	p.onRequest = fn
	p.mu.Unlock()
}

// OnSessionTouch sets the function the leader calls with the session ids
// learners reported as active (and those of its own TouchSessions).
func (p *Peer) OnSessionTouch(fn func(ids []int64)) {
	p.mu.Lock()
	p.onSessionTouch = fn
	p.mu.Unlock()
}

// OnStateChange sets a function called (on the role goroutine) whenever
// the state, leader or serving flag changes. When Serving turns false the
// server must fail the requests it was waiting to see applied: a txn
// proposed before may never be applied (it is applied later if it was
// committed).
func (p *Peer) OnStateChange(fn func(st Status)) {
	p.mu.Lock()
	p.onStateChange = fn
	p.mu.Unlock()
}

// State is this member's role.
func (p *Peer) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Serving reports whether this member is in the broadcast phase and may
// answer clients.
func (p *Peer) Serving() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.serving
}

// Leader is the id of the leader this member follows or is (0 while
// looking).
func (p *Peer) Leader() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderID
}

// CurrentEpoch is the epoch of the last NEWLEADER this member accepted.
func (p *Peer) CurrentEpoch() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.currentEpoch
}

// MyID is this member's server id.
func (p *Peer) MyID() int64 { return p.id }

// LastApplied is the zxid of the last txn handed to StateMachine.Apply
// (or restored).
func (p *Peer) LastApplied() int64 { return p.applier.applied.Load() }

// setRole changes the state and reports it.
func (p *Peer) setRole(st State, leader int64, phase string, serving bool) {
	p.mu.Lock()
	changed := p.state != st || p.leaderID != leader || p.serving != serving
	p.state, p.leaderID, p.phase, p.serving = st, leader, phase, serving
	fn := p.onStateChange
	p.mu.Unlock()
	if changed {
		p.log.Info("peer state", "state", st.String(), "leader", leader, "phase", phase, "serving", serving)
		if fn != nil {
			fn(p.Status())
		}
	}
}

// adoptEpoch records, in the vote this member shows to looking servers,
// the epoch of the leadership it is part of. Every member of one
// leadership then shows the same (leader, epoch), which is what a joining
// server counts (Vote.equals); a vote kept from an older election would
// never match and could keep it from finding the leader.
func (p *Peer) adoptEpoch(leader, epoch int64) {
	p.mu.Lock()
	p.vote.Leader, p.vote.PeerEpoch = leader, epoch
	p.mu.Unlock()
}

func (p *Peer) setPhase(phase string) {
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
}

func (p *Peer) setLastLogged(z int64) {
	p.mu.Lock()
	p.lastLogged = z
	p.mu.Unlock()
}

func (p *Peer) getLastLogged() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastLogged
}

func (p *Peer) setAcceptedEpoch(e int64) error {
	if err := p.store.SetInt("acceptedEpoch", e); err != nil {
		return fmt.Errorf("persist acceptedEpoch %d: %w", e, err)
	}
	p.mu.Lock()
	p.acceptedEpoch = e
	p.mu.Unlock()
	return nil
}

func (p *Peer) setCurrentEpoch(e int64) error {
	if err := p.store.SetInt("currentEpoch", e); err != nil {
		return fmt.Errorf("persist currentEpoch %d: %w", e, err)
	}
	p.mu.Lock()
	p.currentEpoch = e
	p.mu.Unlock()
	return nil
}

func (p *Peer) epochs() (accepted, current int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acceptedEpoch, p.currentEpoch
}

// Status is a snapshot of this member's replication state.
func (p *Peer) Status() Status {
	p.mu.Lock()
	st := Status{
		State: p.state, Serving: p.serving, MyID: p.id, Leader: p.leaderID,
		Standalone: len(p.v().others) == 0,
		Epoch:      p.currentEpoch, LastZxid: p.lastLogged, LastSync: p.lastSync,
	}
	phase := p.phase
	l, lr := p.lead, p.learner
	p.mu.Unlock()
	st.Applied = p.applier.applied.Load()
	if st.State == Looking {
		st.PeerState = "looking"
	} else {
		st.PeerState = st.State.String() + " - " + phase
	}
	if l != nil {
		l.fillStatus(&st)
	}
	if lr != nil {
		st.PendingSyncs = lr.pendingSyncs()
		st.Master = st.Leader
		if lr.masterID != 0 {
			st.Master = lr.masterID
		}
		if !lr.observer {
			st.SyncedObservers = lr.syncedObservers()
		}
	}
	return st
}

// recover loads the newest snapshot into the state machine (if it is
// ahead of it) and reads the epochs and the last logged zxid.
func (p *Peer) recover() error {
	acc, err := p.store.GetInt("acceptedEpoch")
	if err != nil {
		return fmt.Errorf("read acceptedEpoch: %w", err)
	}
	cur, err := p.store.GetInt("currentEpoch")
	if err != nil {
		return fmt.Errorf("read currentEpoch: %w", err)
	}
	snapZxid, body, ok, err := p.store.LatestSnapshot()
	if err != nil {
		return fmt.Errorf("read latest snapshot: %w", err)
	}
	if ok {
		if snapZxid > p.sm.LastApplied() {
			err = p.sm.Restore(snapZxid, body)
			if err != nil {
				_ = body.Close()
				return fmt.Errorf("restore snapshot 0x%x: %w", snapZxid, err)
			}
			p.log.Info("state restored from snapshot", "zxid", fmt.Sprintf("0x%x", snapZxid))
		}
		_ = body.Close()
	}
	applied := p.sm.LastApplied()
	p.applier.applied.Store(applied)
	last := max(p.store.LastZxid(), applied, snapZxid)
	if cur < zxidEpoch(last) {
		// An epoch file older than the log: trust the log (Apache does the
		// same when currentEpoch is missing after an upgrade).
		cur = zxidEpoch(last)
	}
	if acc < cur {
		acc = cur
	}
	p.mu.Lock()
	p.acceptedEpoch, p.currentEpoch, p.lastLogged = acc, cur, last
	p.mu.Unlock()
	p.log.Info("quorum peer recovered", "accepted_epoch", acc, "current_epoch", cur,
		"last_zxid", fmt.Sprintf("0x%x", last), "applied", fmt.Sprintf("0x%x", applied))
	return nil
}

// Run runs the member until ctx is cancelled: election, then leading or
// learning (discovery, synchronisation, broadcast), and again after any
// failure. It returns nil when ctx is cancelled, or an error if the member
// cannot start (storage, listeners).
func (p *Peer) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("zab: Run called twice")
	}
	if err := p.recover(); err != nil {
		return fmt.Errorf("zab: %w", err)
	}
	p.applier.start()
	defer p.applier.stop()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if len(p.v().others) > 0 {
		ln, err := p.transport.Listen(ChannelQuorum)
		if err != nil {
			return fmt.Errorf("zab: quorum port: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.acceptQuorum(ln)
		}()
		defer func() { _ = ln.Close() }()
		e, err := startElectionNet(ctx, p)
		if err != nil {
			return fmt.Errorf("zab: %w", err)
		}
		p.mu.Lock()
		p.elect = e
		p.mu.Unlock()
		e.setMembers(p.v().others) // a reconfig may have come in between
		defer e.close()
		if p.cfg.ObserverMasterPort > 0 && !p.v().observer {
			// Not fatal: the member serves clients and votes all the
			// same, and its observers go to another member or the leader.
			if oln, err := p.transport.Listen(ChannelObserverMaster); err != nil {
				p.log.Warn("not serving observers: observerMasterPort", "err", err)
			} else {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p.acceptObservers(oln)
				}()
				defer func() { _ = oln.Close() }()
			}
		}
	}
	var backoff time.Duration
	for ctx.Err() == nil {
		p.setRole(Looking, 0, "election", false)
		if p.logFailed.Swap(false) {
			// Its log cannot be written: stay out of elections for a
			// while, so that the members whose disks work elect a leader
			// among themselves. Coming back at once, it voted, joined a
			// leader, failed to log the sync and left again, over and
			// over, and two healthy members could each count its vote
			// and wait for it as their follower, never for each other.
			// Apache's server exits on such a failure.
			backoff = min(max(2*backoff, time.Second), 8*time.Second)
			p.log.Warn("txn log cannot be written: waiting before the next election", "wait", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			if ctx.Err() != nil {
				break
			}
		} else {
			backoff = 0
		}
		p.metrics.LookingCount.Add(1)
		looking := time.Now()
		var v Vote
		if len(p.v().others) == 0 {
			_, cur := p.epochs()
			v = Vote{Leader: p.id, Zxid: p.getLastLogged(), PeerEpoch: cur}
		} else {
			var err error
			v, err = p.lookForLeader(ctx)
			if err != nil {
				break
			}
		}
		if !p.v().observer {
			// As Apache's Leader.lead and Follower.followLeader; its
			// Observer records no election time.
			p.metrics.ElectionTime.Add(time.Since(looking).Milliseconds())
		}
		p.mu.Lock()
		p.vote = Vote{Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: p.logicalClock, PeerEpoch: v.PeerEpoch}
		p.mu.Unlock()
		var err error
		switch {
		case v.Leader == p.id:
			p.log.Info("elected leader", "epoch", v.PeerEpoch, "zxid", fmt.Sprintf("0x%x", v.Zxid))
			err = p.runLeader(ctx)
		default:
			err = p.runLearner(ctx, v.Leader)
		}
		if err != nil && ctx.Err() == nil {
			p.log.Warn("left the ensemble, looking for a leader", "err", err)
		}
	}
	p.setRole(Looking, 0, "election", false)
	return nil
}

// noteLogFailure makes the member wait before its next election when an
// append failed because the disk did (full, failing or read-only), not for
// any other reason (a closed store at shutdown).
func (p *Peer) noteLogFailure(err error) {
	if storage.DiskFailed(err) {
		p.logFailed.Store(true)
	}
}

// applyCommitted waits (briefly) until the txns committed before this
// member left its leader (or its leadership) are applied; the learner and
// the leader call it as they stop serving. A committed reconfig changes who
// votes, and the next election must count with the new membership:
// Apache's learner activates a COMMITANDACTIVATE before it notices that
// its leader is gone, for the same reason.
func (p *Peer) applyCommitted(ctx context.Context) {
	wait := max(p.cfg.TickTime, time.Second)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := p.applier.waitIdle(wctx); err != nil && ctx.Err() == nil {
		p.log.Warn("looking for a leader before the committed txns are applied", "waited", wait.String())
	}
}

// acceptQuorum hands connections on the quorum port to the leader, if
// this member leads; otherwise it closes them.
func (p *Peer) acceptQuorum(ln Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		l := p.lead
		p.mu.Unlock()
		if l == nil || !l.addLearner(c) {
			_ = c.Close()
		}
	}
}

// Propose (leader only) assigns the next zxid to data, logs it and
// broadcasts it; once a quorum has logged it, it is committed and applied
// on every member. It returns ErrNotLeader unless this member is an
// established leader.
func (p *Peer) Propose(data []byte) (int64, error) {
	p.mu.Lock()
	l := p.lead
	p.mu.Unlock()
	if l == nil {
		return 0, ErrNotLeader
	}
	return l.propose(data)
}

// ProposeReconfig (leader only) proposes data, a txn that changes the
// membership to servers, as Propose does. It commits only once quorums of
// both the current and the new configuration have logged it (and so does
// every txn proposed after it until then); at its commit the leader
// counts with the new configuration, whose version is the returned zxid.
// The other members switch when the server calls Reconfigure as it
// applies the txn. One at a time: ErrReconfigInProgress otherwise.
func (p *Peer) ProposeReconfig(data []byte, servers []config.Server) (int64, error) {
	p.mu.Lock()
	l := p.lead
	p.mu.Unlock()
	if l == nil {
		return 0, ErrNotLeader
	}
	return l.proposeReconfig(data, servers)
}

// Membership is the active configuration and its version, and (on the
// leader) whether a proposed reconfig has not committed yet.
func (p *Peer) Membership() (servers []config.Server, version int64, pending bool) {
	v := p.v()
	p.mu.Lock()
	l := p.lead
	p.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		pending = l.reconfig != nil
		l.mu.Unlock()
	}
	return slices.Clone(v.servers), v.version, pending
}

// QuorumSynced (leader only) reports whether the voters of servers that
// are connected to this leader and in broadcast, with the leader itself
// if it votes there, form a quorum of that configuration: the condition
// for proposing it (Apache's NEWCONFIGNOQUORUM otherwise).
func (p *Peer) QuorumSynced(servers []config.Server) bool {
	p.mu.Lock()
	l := p.lead
	p.mu.Unlock()
	return l != nil && l.quorumSynced(servers)
}

// AwaitQuorumSynced (leader only) waits until a quorum of the active
// membership's voters is connected and in broadcast, or ctx ends, and
// reports which. Right after an election a leader may serve with a quorum
// of the membership it was elected in while a member of the one a
// committed reconfig made active is still syncing; a reconfig asked for
// then waits for it rather than failing with NEWCONFIGNOQUORUM.
func (p *Peer) AwaitQuorumSynced(ctx context.Context) bool {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if p.QuorumSynced(p.v().servers) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// Reconfigure makes servers, of the given version, the active membership
// unless a membership of that version or a newer one is active. The
// server calls it when it applies a committed reconfig txn (version = its
// zxid) or restores a state holding one. A member no longer listed stays
// as a non-voting follower (as Apache's); a leader no longer voting steps
// down.
func (p *Peer) Reconfigure(servers []config.Server, version int64) error {
	if version <= p.v().version {
		return nil
	}
	v, err := newView(p.id, servers, p.cfg.Observer, version)
	if err != nil {
		return fmt.Errorf("zab: reconfigure: %w", err)
	}
	p.setView(v)
	p.log.Info("membership changed", "version", fmt.Sprintf("0x%x", version), "members", len(servers), "voter", v.q.isVoter(p.id))
	return nil
}

// setView activates a membership: quorum counting, election channels
// and the addresses the transport dials.
func (p *Peer) setView(v *view) {
	for {
		old := p.v()
		if v.version <= old.version {
			return
		}
		if p.cur.CompareAndSwap(old, v) {
			break
		}
	}
	if t, ok := p.transport.(interface{ SetServers([]config.Server) }); ok {
		t.SetServers(v.servers)
	}
	p.mu.Lock()
	e := p.elect
	p.mu.Unlock()
	if e != nil {
		e.setMembers(v.others)
	}
}

// Forward sends a client request to the leader (learners). On the leader
// it calls the OnRequest function directly.
func (p *Peer) Forward(req []byte) error {
	p.mu.Lock()
	l, lr, fn := p.lead, p.learner, p.onRequest
	p.mu.Unlock()
	if l != nil && l.isEstablished() {
		if fn != nil {
			fn(p.id, req)
		}
		return nil
	}
	if lr == nil {
		return ErrNoLeader
	}
	return lr.forward(req)
}

// Sync waits until this member has applied every txn the leader had
// committed, or had proposed, when the call reached it (the sync op; as
// Apache's leader, a sync waits for the proposals outstanding then).
func (p *Peer) Sync(ctx context.Context) error {
	p.mu.Lock()
	l, lr := p.lead, p.learner
	p.mu.Unlock()
	var target int64
	var err error
	switch {
	case l != nil:
		target, err = l.syncTarget()
	case lr != nil:
		target, err = lr.sync(ctx)
	default:
		err = ErrNoLeader
	}
	if err != nil {
		return err
	}
	return p.applier.waitApplied(ctx, target)
}

// AwaitApplied waits until this member has applied the txn zxid, if it
// holds that txn already (proposed it as leader, or has its PROPOSAL or
// INFORM as a learner), and reports whether it has applied it. A member
// that does not hold the txn may be cut off from its leader: it reports
// false at once.
func (p *Peer) AwaitApplied(ctx context.Context, zxid int64) bool {
	if p.LastApplied() >= zxid {
		return true
	}
	p.mu.Lock()
	l, lr := p.lead, p.learner
	p.mu.Unlock()
	var held int64
	switch {
	case l != nil:
		held, _ = l.syncTarget() // 0 unless established
	case lr != nil:
		lr.mu.Lock()
		held = lr.lastQueued
		lr.mu.Unlock()
	}
	return zxid <= held && p.applier.waitApplied(ctx, zxid) == nil
}

// TouchSessions records client activity on sessions; a learner reports
// them to the leader with its next PING, the leader passes them to its
// OnSessionTouch function at once.
func (p *Peer) TouchSessions(ids []int64) {
	p.mu.Lock()
	l, fn := p.lead, p.onSessionTouch
	p.mu.Unlock()
	if l != nil {
		if fn != nil {
			fn(ids)
		}
		return
	}
	p.tmu.Lock()
	for _, id := range ids {
		p.touched[id] = struct{}{}
	}
	p.tmu.Unlock()
}

func (p *Peer) takeTouched() []int64 {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	if len(p.touched) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(p.touched))
	for id := range p.touched {
		ids = append(ids, id)
	}
	clear(p.touched)
	return ids
}

func (p *Peer) sessionTouched(ids []int64) {
	p.mu.Lock()
	fn := p.onSessionTouch
	p.mu.Unlock()
	if fn != nil && len(ids) > 0 {
		fn(ids)
	}
}

func (p *Peer) requestArrived(from int64, req []byte) {
	p.mu.Lock()
	fn := p.onRequest
	p.mu.Unlock()
	if fn != nil {
		fn(from, req)
	}
}
