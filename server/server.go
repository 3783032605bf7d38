package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/metric"
	"github.com/zkgo/zkgo/internal/quota"
	"github.com/zkgo/zkgo/internal/tlsnet"
	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/sasl"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/watch"
	"github.com/zkgo/zkgo/server/wire"
	"github.com/zkgo/zkgo/server/zab"
)

// Version is the version zkserver reports (srvr, envi, mntr).
var Version = "3.8.0-zkgo"

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("zkserver: server closed")

// Server is a standalone ZooKeeper server.
type Server struct {
	cfg *config.Config
	log *slog.Logger

	store    *storage.Store
	tree     *tree.Tree
	events   []txn.Event // applyTxn's buffer of watch events; the tree's write lock guards it
	watches  *watch.Manager
	prep     *txn.Prep
	sessions *sessionTable
	// sasl logs clients in with DIGEST-MD5; nil when the configuration
	// has no SASL users.
	sasl *sasl.Server
	// audit is the audit log (audit.enable); nil when off.
	audit *auditLog

	quotaRefused namespaceCounts // writes refused by a quota, per namespace
	ensembleLog  *rateLog        // addauth ensemble with another ensemble's name
	digestLog    *rateLog        // a leader's tree digest that differs from ours
	metrics      *metric.Server  // Apache's ServerMetrics that zkgo keeps (mntr, /metrics)

	minTimeout, maxTimeout time.Duration

	prepMu sync.Mutex // serialises prep and zxid assignment
	logCh  chan *proposal
	// Standalone commit path (pipeline.go): logMu is held by whoever
	// appends to the log (the log loop, or a submitter committing inline),
	// applyMu by whoever applies (the log loop, or that submitter).
	logMu       sync.Mutex
	applyMu     sync.Mutex
	logQueued   atomic.Int64         // proposals sent to logCh and not yet logged (or refused)
	logged      int64                // last zxid in the log; logMu
	inlineFail  *inlineFail          // an inline append that failed, for the log loop; logMu
	logKick     chan struct{}        // wakes the log loop for inlineFail
	lastWriter  atomic.Pointer[conn] // the one client of the batch applied last, or nil
	lastWriteAt atomic.Int64         // when it was applied (unix ns)
	inlined     atomic.Int64         // writes committed inline (tests)

	nextZxid  int64 // guarded by prepMu
	lastZxid  atomic.Int64
	sinceSnap int // applyMu
	snapAt    int
	snapping  atomic.Bool
	// snapAborted: a background snapshot gave up at shutdown, so the
	// shutdown snapshot is due even if no txn came after it began.
	snapAborted atomic.Bool
	logFault    logFault // standalone: writes refused after a failed log append (pipeline.go)

	mu      sync.Mutex
	ln      net.Listener
	tlsLns  []*tlsnet.Listener // the client listeners that do TLS handshakes
	conns   map[*conn]struct{}
	perIP   map[string]int
	started time.Time

	stats    serverStats
	digests  digests  // the tree digest log (digest.go)
	inflight inflight // requests not yet answered, for globalOutstandingLimit (conn.go)

	// evloops read the plain-TCP connections once they are past their
	// handshake (evloop_linux.go); evloopNext picks the next one.
	evloops    []*evloop
	evloopNext atomic.Uint64

	// Ensemble mode (nil peer: standalone).
	peer *zab.Peer
	// proposalSizes are the sizes of this leader's proposals as Apache
	// counts them (Leader.proposalStats: zk_*_proposal_size), from the
	// start of its leadership or the last srst.
	proposalSizes metric.Sizes
	waitMu        sync.Mutex
	waiting       map[waitKey]func(int64, txn.Result)
	serving       bool          // guarded by mu
	servingCh     chan struct{} // guarded by mu; closed while serving
	// leadReady and leadCh (guarded by mu): this member leads and may
	// prep writes; leadCh is closed while leadReady (see awaitLeadReady).
	leadReady bool
	leadCh    chan struct{}
	readOnly  atomic.Bool

	// Set by the ensemble wiring: mode for srvr, quorum fields for mntr.
	modeFn   func() string
	quorumFn func() *fourletter.Quorum

	quit      chan struct{}
	done      chan struct{} // closed when Close has finished
	closeOnce sync.Once
	failErr   atomic.Pointer[error]
	failed    chan struct{}
	failOnce  sync.Once
	wg        sync.WaitGroup
}

// counters are the packet and latency statistics kept for the server and
// for each connection (srvr, cons, mntr); minLat is -1 before any sample.
type counters struct {
	received atomic.Int64
	sent     atomic.Int64
	minLat   atomic.Int64
	maxLat   atomic.Int64
	totLat   atomic.Int64
	count    atomic.Int64
}

func (st *counters) reset() {
	st.received.Store(0)
	st.sent.Store(0)
	st.minLat.Store(-1)
	st.maxLat.Store(0)
	st.totLat.Store(0)
	st.count.Store(0)
}

// record adds one request latency in ms.
func (st *counters) record(lat int64) {
	st.totLat.Add(lat)
	st.count.Add(1)
	if m := st.minLat.Load(); m < 0 || lat < m {
		st.minLat.Store(lat)
	}
	if lat > st.maxLat.Load() {
		st.maxLat.Store(lat)
	}
}

type serverStats struct {
	counters
	authFailed atomic.Int64
	// The "ensemble" scheme's answers (mntr's ensemble_auth_*).
	ensembleAuthSuccess, ensembleAuthFail, ensembleAuthSkip atomic.Int64

	responses metric.Sizes // frames sent to clients (mntr's *_client_response_size)
}

// New opens the data directories, recovers the newest valid snapshot plus
// the log after it, and returns a server ready to Serve.
func New(cfg *config.Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		log:       logger,
		watches:   watch.New(),
		logCh:     make(chan *proposal, 4096),
		logKick:   make(chan struct{}, 1),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[string]int),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		servingCh: make(chan struct{}),
		leadCh:    make(chan struct{}),
		failed:    make(chan struct{}),
	}
	s.tree = s.newTree()
	s.stats.minLat.Store(-1)
	s.stats.responses.Reset()
	s.inflight.max = outstandingLimit(cfg)
	s.minTimeout, s.maxTimeout = cfg.MinSessionTimeout, cfg.MaxSessionTimeout
	if s.minTimeout <= 0 {
		s.minTimeout = 2 * cfg.TickTime
	}
	if s.maxTimeout <= 0 {
		s.maxTimeout = 20 * cfg.TickTime
	}
	s.sessions = newSessionTable(cfg.TickTime, cfg.MyID)
	s.metrics = metric.NewServer()
	s.proposalSizes.Reset()
	store, err := storage.Open(cfg.DataDir, cfg.DataLogDir, storage.Options{ForceSync: cfg.ForceSync, Logger: logger,
		FsyncWarning: cfg.FsyncWarningThreshold, Metrics: s.metrics})
	if err != nil {
		return nil, err
	}
	s.store = store
	if !cfg.Distributed() {
		// Standalone: recover here. In an ensemble the peer restores the
		// snapshot and applies the log once the ensemble has committed it.
		if err := s.recover(); err != nil {
			store.Close()
			return nil, err
		}
	}
	if cfg.SASL.Enabled() {
		s.sasl = sasl.NewServer(cfg.SASL.Password)
	}
	if s.audit, err = openAudit(cfg.AuditEnable, cfg.LogDir); err != nil {
		store.Close()
		return nil, err
	}
	quotaLog := &rateLog{log: s.log, every: time.Second}
	s.ensembleLog = &rateLog{log: s.log, every: time.Second} // at most a line a second, as Apache
	s.digestLog = &rateLog{log: s.log, every: time.Second}
	s.prep = txn.NewPrep(s.tree, txn.Options{
		ExtendedTypes:   cfg.ExtendedTypesEnabled,
		SkipACL:         cfg.SkipACL,
		ReconfigEnabled: cfg.ReconfigEnabled,
		Providers:       s.providers(),
		EnforceQuota:    cfg.EnforceQuota,
		QuotaLog:        func(msg string) { quotaLog.warn(msg) },
		QuotaRefused:    s.quotaRefused.add,
	})
	if cfg.Distributed() {
		if err := s.newPeer(); err != nil {
			store.Close()
			return nil, err
		}
	}
	s.nextZxid = s.lastZxid.Load()
	count := cfg.SnapCount
	if count < 2 {
		count = 100000
	}
	s.snapAt = count/2 + int(time.Now().UnixNano()%int64(count/2+1))
	return s, nil
}

// recover loads the newest valid snapshot and replays the log after it.
func (s *Server) recover() error {
	start := time.Now()
	zxid, body, ok, err := s.store.LatestSnapshot()
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	if ok {
		err := s.decodeSnapshot(body)
		body.Close()
		if err != nil {
			return fmt.Errorf("snapshot 0x%x: %w", zxid, err)
		}
		s.lastZxid.Store(zxid)
		if err := s.digests.checkLoaded(zxid, s.tree); err != nil {
			s.log.Error("tree digest mismatch", "snapshot", fmt.Sprintf("0x%x", zxid), "err", err)
		}
	}
	// Sessions restored from disk get a fresh timeout, as Apache does on load.
	s.prep = txn.NewPrep(s.tree, txn.Options{ExtendedTypes: true})
	replayStart := time.Now()
	if ok {
		s.metrics.StartupSnapLoadTime.Add(replayStart.Sub(start).Milliseconds())
	}
	n := 0
	err = s.store.Replay(zxid, func(e storage.Entry) error {
		t, err := txn.Unmarshal(e.Data)
		if err != nil {
			return fmt.Errorf("txn 0x%x: %w", e.Zxid, err)
		}
		t.Zxid = e.Zxid
		s.applyTxn(t, false)
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay txn log: %w", err)
	}
	s.sinceSnap = n
	if ok || n > 0 {
		// Apache times the replay of a log after a snapshot, not the
		// empty start of a new server.
		s.metrics.StartupTxnsLoadTime.Add(time.Since(replayStart).Milliseconds())
		s.metrics.StartupTxnsLoaded.Add(int64(n))
	}
	s.metrics.DBInitTime.Add(time.Since(start).Milliseconds())
	// Recovery left garbage (the decoded snapshot's index, the log's
	// records, the maps it outgrew): collect it and give the memory back,
	// in the background. Done before serving, this full collection of a
	// tree of a million znodes held the first request for 0.2 s.
	go debug.FreeOSMemory()
	s.log.Info("data loaded", "zxid", fmt.Sprintf("0x%x", s.lastZxid.Load()), "snapshot", fmt.Sprintf("0x%x", zxid),
		"replayed", n, "znodes", s.tree.NodeCount(), "sessions", s.sessions.count(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Serve accepts clients on ln until Close. It returns ErrServerClosed after
// Close, or the error that made the server stop (a failed log write).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.ClientPortUnification {
		// client.portUnification: TLS clients on the plain port too (their
		// first byte tells them apart), as Netty's DualModeSslHandler.
		tc, err := ServerTLSConfig(s.cfg)
		if err != nil {
			ln.Close()
			s.Close()
			return err
		}
		ln = tlsnet.NewListener(ln, tc, true, s.log)
	}
	s.mu.Lock()
	s.ln = ln
	if l, ok := ln.(*tlsnet.Listener); ok {
		s.tlsLns = append(s.tlsLns, l)
	}
	s.started = time.Now()
	select {
	case <-s.quit:
		// Close ran before Serve set s.ln: it could not close ln.
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	default:
	}
	// Still under mu, so Close's wg.Wait cannot run before these Adds.
	s.startLoops()
	if err := s.startSecure(); err != nil { // tls.go
		s.mu.Unlock()
		s.Close()
		return err
	}
	s.mu.Unlock()
	if s.audit != nil {
		s.audit.server("serverStart", "success")
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.failed:
			s.Close()
		case <-s.quit:
		}
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.quit:
				// Close runs elsewhere (a signal, a failure): return once
				// it has finished, so the caller can exit safely.
				<-s.done
				if p := s.failErr.Load(); p != nil {
					return *p
				}
				return ErrServerClosed
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if c := s.admit(nc); c != nil {
			go c.serve()
		}
	}
}

// startLoops starts the background goroutines; the caller holds mu.
func (s *Server) startLoops() {
	s.startEvloops(evloopCount(s.cfg))
	s.wg.Add(2)
	go s.sessionLoop()
	go s.reapLoop()
	if s.peer == nil {
		s.wg.Add(1)
		go s.logLoop()
	} else {
		peerCtx, cancel := context.WithCancel(context.Background())
		s.wg.Add(2)
		go func() {
			defer s.wg.Done()
			<-s.quit
			cancel()
		}()
		go func() {
			defer s.wg.Done()
			if err := s.peer.Run(peerCtx); err != nil {
				s.fail(err)
			}
		}()
		if s.cfg.ReadOnlyModeEnabled && s.cfg.PeerType != "observer" {
			s.wg.Add(1)
			go s.readOnlyLoop()
		}
	}
	if s.cfg.AutopurgePurgeInterval > 0 || s.cfg.AutopurgePurgeIntervalMs > 0 {
		s.wg.Add(1)
		go s.purgeLoop()
	}
}

// admit enforces maxClientCnxns per client IP and registers the
// connection; nil means it was refused. Under mu, like Close, so that no
// connection starts after Close has collected them.
func (s *Server) admit(nc net.Conn) *conn {
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
		nc.Close()
		return nil
	default:
	}
	refuse := func(msg string, args ...any) *conn {
		s.metrics.ConnectionRejected.Add(1)
		s.log.Warn(msg, args...)
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, as Apache's fastCloseSock: no TIME_WAIT per refused attempt
		}
		nc.Close()
		return nil
	}
	if max := s.cfg.MaxCnxns; max > 0 && len(s.conns) >= max {
		// ServerCnxnFactory.limitTotalNumberOfCnxns (maxCnxns), checked
		// before the per-address limit as there.
		return refuse("too many connections: closing", "connections", len(s.conns), "max", max)
	}
	if max := s.cfg.MaxClientCnxns; max > 0 && s.perIP[host] >= max {
		return refuse("too many connections from this address: closing", "ip", host, "max", max)
	}
	s.perIP[host]++
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

func (s *Server) dropConn(c *conn) {
	s.watches.RemoveWatcher(c)
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		if s.perIP[host]--; s.perIP[host] <= 0 {
			delete(s.perIP, host)
		}
	}
	s.mu.Unlock()
	if sess := s.sessions.get(c.sessionID.Load()); sess != nil {
		s.sessions.mu.Lock()
		if sess.conn == c {
			sess.conn = nil
		}
		s.sessions.mu.Unlock()
	}
}

// attach binds a session to its new connection and closes the old one.
func (s *Server) attach(c *conn, id int64, timeout time.Duration) {
	s.sessions.mu.Lock()
	sess := s.sessions.sessions[id]
	var old *conn
	if sess != nil {
		old = sess.conn
		sess.conn = c
		sess.timeout = timeout
		sess.expireAt = s.sessions.bucket(time.Now(), timeout)
	}
	s.sessions.mu.Unlock()
	if old != nil && old != c {
		old.close()
	}
}

// fail stops the server because it can no longer keep its promises.
func (s *Server) fail(err error) {
	s.failOnce.Do(func() {
		s.log.Error("server stopping", "err", err)
		s.failErr.Store(&err)
		close(s.failed)
	})
}

// Close stops the server: listener, connections, pipeline. Idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.quit) // under mu: Serve starts its goroutines under mu too
		if s.ln != nil {
			s.ln.Close()
		}
		s.mu.Unlock()
		for _, c := range s.connList() {
			c.close()
		}
		s.stopEvloops()
		s.wg.Wait()
		s.snapshotOnClose()
		s.store.Close()
		if s.audit != nil {
			s.audit.server("serverStop", "invoked")
			s.audit.close()
		}
		close(s.done)
	})
	return nil
}

// snapshotOnClose writes a snapshot at a clean shutdown of a standalone
// server when txns were applied since the last one, so that the next start
// reads one file instead of replaying the log (Apache does not; it only
// makes restarts faster).
func (s *Server) snapshotOnClose() {
	if s.peer != nil || (s.sinceSnap == 0 && !s.snapAborted.Load()) || s.failErr.Load() != nil {
		return
	}
	zxid := s.lastZxid.Load()
	size, err := s.writeSnapshot(zxid, func(w io.Writer) error {
		// Encoded straight to the file: a buffer would double the
		// memory the tree takes, at the end of a server's life.
		s.tree.RLock()
		defer s.tree.RUnlock()
		return s.encodeSnapshot(w)
	})
	if err != nil {
		s.log.Warn("snapshot at shutdown failed", "err", err)
		return
	}
	s.log.Info("snapshot written at shutdown", "zxid", fmt.Sprintf("0x%x", zxid), "bytes", size)
}

// connList returns the open connections.
func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Addr returns the listener's address, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// LastZxid returns the zxid of the last applied txn.
func (s *Server) LastZxid() int64 { return s.lastZxid.Load() }

// sessionLoop expires sessions every tick.
func (s *Server) sessionLoop() {
	defer s.wg.Done()
	tick := s.cfg.TickTime
	if tick <= 0 {
		tick = 2 * time.Second
	}
	t := time.NewTicker(tick / 2)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			// Every member expires its local sessions itself (no txn,
			// no ephemerals); the leader expires the global ones.
			for _, sess := range s.sessions.expiredLocal(now) {
				s.log.Info("local session expired", "session_id", fmt.Sprintf("0x%x", sess.id))
				if sess.conn != nil {
					sess.conn.close()
				}
			}
			if !s.leading() {
				continue
			}
			for _, id := range s.sessions.expired(now) {
				s.metrics.StaleSessionsExpired.Add(1)
				s.log.Info("session expired", "session_id", fmt.Sprintf("0x%x", id))
				s.submit(&writeReq{req: txn.Request{SessionID: id, Type: wire.OpCloseSession}})
			}
		}
	}
}

// reapLoop deletes empty containers that once had children and TTL nodes
// past their TTL, as Apache's ContainerManager does.
func (s *Server) reapLoop() {
	defer s.wg.Done()
	every := s.cfg.ContainerCheckInterval
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			if !s.leading() {
				continue
			}
			for _, p := range s.reapCandidates(now) {
				s.submit(&writeReq{req: txn.Request{Type: wire.OpDeleteContainer, Body: &wire.PathRequest{Path: p}}})
			}
		}
	}
}

func (s *Server) reapCandidates(now time.Time) []string {
	s.tree.RLock()
	defer s.tree.RUnlock()
	var out []string
	max := s.cfg.ContainerMaxPerMinute
	if max <= 0 {
		max = 10000
	}
	for _, p := range s.tree.Containers() {
		if n := s.tree.Get(p); n != nil && n.NumChildren() == 0 && n.Cversion > 0 {
			out = append(out, p)
		}
	}
	for _, p := range s.tree.TTLs() {
		n := s.tree.Get(p)
		if n == nil || n.NumChildren() != 0 {
			continue
		}
		if ttl, ok := tree.IsTTL(n.Owner); ok && now.UnixMilli()-n.Mtime > ttl {
			out = append(out, p)
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return out
}

func (s *Server) purgeLoop() {
	defer s.wg.Done()
	every := time.Duration(s.cfg.AutopurgePurgeInterval) * time.Hour
	if s.cfg.AutopurgePurgeIntervalMs > 0 {
		every = s.cfg.AutopurgePurgeIntervalMs // zkgo extension
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			if err := s.store.Purge(s.cfg.AutopurgeSnapRetainCount); err != nil {
				s.log.Warn("autopurge failed", "err", err)
			}
		}
	}
}

func (s *Server) recordLatency(c *conn, sl *slot) {
	if sl.start.IsZero() {
		return
	}
	s.recordAnswer(c, sl.start, isWrite(sl.op))
}

// recordAnswer notes a request answered on c: its latency since start in
// srvr's and cons's numbers, and in updatelatency when it made a txn
// (readlatency when not), as Apache's FinalRequestProcessor.
func (s *Server) recordAnswer(c *conn, start time.Time, txn bool) {
	lat := time.Since(start).Milliseconds()
	s.stats.record(lat)
	if txn {
		s.metrics.UpdateLatency.Add(lat)
	} else {
		s.metrics.ReadLatency.Add(lat)
	}
	c.stats.record(lat)
	c.stats.lastLat.Store(lat)
	c.stats.lastResp.Store(time.Now().UnixMilli())
}

// leading reports whether this server decides expiry and reaping: a
// standalone server or an ensemble's serving leader.
func (s *Server) leading() bool {
	return s.peer == nil || (s.peer.State() == zab.Leading && s.isServing())
}

// rateLog writes at most one warning per interval and counts the ones it
// left out (quota warnings come with every write to a full subtree).
type rateLog struct {
	log     *slog.Logger
	every   time.Duration
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (r *rateLog) warn(msg string, args ...any) { r.write(slog.LevelWarn, msg, args) }

func (r *rateLog) error(msg string, args ...any) { r.write(slog.LevelError, msg, args) }

func (r *rateLog) write(level slog.Level, msg string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < r.every {
		r.skipped++
		return
	}
	r.log.Log(context.Background(), level, msg, append(args, "similar lines left out", r.skipped)...)
	r.last, r.skipped = now, 0
}

// namespaceCounts counts events per top-level namespace (the first
// component of a path), as Apache's quota_exceeded_error_per_namespace.
type namespaceCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *namespaceCounts) add(path string) {
	ns := quota.TopNamespace(path)
	c.mu.Lock()
	if c.n == nil {
		c.n = make(map[string]int64)
	}
	c.n[ns]++
	c.mu.Unlock()
}

func (c *namespaceCounts) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// providers are the optional schemes the configuration registers.
func (s *Server) providers() acl.Providers {
	return acl.Providers{X509: s.cfg.X509Enabled(), SASL: s.cfg.SASL.Provider, NoDigest: s.cfg.DigestAuthDisabled}
}
