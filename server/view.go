package server

import (
	"maps"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
	"github.com/zkgo/zkgo/server/zab"
)

// lastOpNames are the short names cons prints as lop=, as Apache's
// FinalRequestProcessor sets them.
var lastOpNames = map[int32]string{
	wire.OpPing: "PING", wire.OpCreateSession: "SESS", wire.OpCloseSession: "CLOS", wire.OpMulti: "MULT",
	wire.OpCreate: "CREA", wire.OpCreate2: "CREA", wire.OpCreateTTL: "CREA", wire.OpCreateContainer: "CREA",
	wire.OpDelete: "DELE", wire.OpDeleteContainer: "DELE", wire.OpSetData: "SETD", wire.OpReconfig: "RECO",
	wire.OpSetACL: "SETA", wire.OpCheck: "CHEC", wire.OpSync: "SYNC", wire.OpExists: "EXIS",
	wire.OpGetData: "GETD", wire.OpSetWatches: "SETW", wire.OpSetWatches2: "STW2", wire.OpAddWatch: "ADDW",
	wire.OpGetACL: "GETA", wire.OpGetChildren: "GETC", wire.OpGetChildren2: "GETC",
	wire.OpGetAllChildrenNumber: "GETACN", wire.OpCheckWatches: "CHKW", wire.OpRemoveWatches: "REMW",
	wire.OpGetEphemerals: "GETE", wire.OpMultiRead: "MLTR", wire.OpWhoAmI: "HOMI", wire.OpAuth: "AUTH",
}

// view is the server's fourletter.View.
type view struct{ s *Server }

// View returns the read-only view the four-letter words and the
// AdminServer render from.
func (s *Server) View() fourletter.View { return view{s} }

func (v view) Serving() bool {
	select {
	case <-v.s.quit:
		return false
	default:
		return v.s.isServing() || v.s.readOnly.Load()
	}
}

// Config is the configuration the server runs with; in an ensemble its
// membership is the current one, so that after a reconfig conf and the
// AdminServer show what /zookeeper/config shows, as Apache's do.
func (v view) Config() *config.Config {
	if v.s.peer == nil {
		return v.s.cfg
	}
	servers, version, _ := v.s.peer.Membership()
	if version == v.s.cfg.ConfigVersion {
		return v.s.cfg
	}
	c := *v.s.cfg
	c.Servers, c.ConfigVersion = servers, version
	return &c
}

func (v view) mode() string {
	if m := v.s.modeFn; m != nil {
		return m()
	}
	if v.s.logFault.refusing.Load() {
		return "read-only" // the txn log cannot be written (pipeline.go)
	}
	return "standalone"
}

func (v view) Stats() fourletter.Stats {
	s := v.s
	s.tree.RLock()
	nodes := s.tree.NodeCount()
	eph := s.tree.EphemeralCount()
	size := s.tree.DataSize()
	s.tree.RUnlock()
	global, local := s.sessions.counts()
	min := s.stats.minLat.Load()
	if min < 0 {
		min = 0
	}
	s.mu.Lock()
	started := s.started
	// As Apache's Netty connection factory: failed TLS handshakes count
	// as failed authentications, besides failed logins (ops.go).
	authFailed := s.stats.authFailed.Load()
	for _, l := range s.tlsLns {
		authFailed += l.Failures()
	}
	s.mu.Unlock()
	st := fourletter.Stats{
		Version:                   Version,
		Mode:                      v.mode(),
		LatencyMin:                min,
		LatencyMax:                s.stats.maxLat.Load(),
		LatencyTotal:              s.stats.totLat.Load(),
		LatencyCount:              s.stats.count.Load(),
		PacketsReceived:           s.stats.received.Load(),
		PacketsSent:               s.stats.sent.Load(),
		Outstanding:               s.inflight.n.Load(), // requests in flight, Apache's getInProcess
		LastZxid:                  v.processedZxid(),
		NodeCount:                 int64(nodes),
		WatchCount:                int64(s.watches.Count()),
		EphemeralsCount:           int64(eph),
		ApproximateDataSize:       size,
		GlobalSessions:            int64(global),
		LocalSessions:             int64(local),
		LocalSessionsEnabled:      s.peer != nil && s.cfg.LocalSessionsEnabled,
		FsyncThresholdExceedCount: s.store.SlowSyncs(),
		Uptime:                    time.Since(started),
		// The snapshots' directory and the log's, as Apache since 3.8.4
		// (ZOOKEEPER-4730); 3.8.0 swapped them.
		DataDirSize:         s.store.DataDirSize(),
		LogDirSize:          s.store.LogDirSize(),
		OpenFileDescriptors: openFDs(),
		MaxFileDescriptors:  maxFDs(),
		ClientResponseLast:  s.stats.responses.Last(),
		ClientResponseMin:   s.stats.responses.Min(),
		ClientResponseMax:   s.stats.responses.Max(),
		AuthFailedCount:     authFailed,
	}
	return st
}

// processedZxid is the zxid srvr and stat print: the last one applied,
// and on a leader at least its epoch's zxid 0 (epoch<<32), as Apache's
// leader sets its tree's last processed zxid once a quorum follows it
// (Leader.startZkServer): a new epoch shows there before its first write.
// Replies keep the last applied zxid (Apache's carry epoch<<32 too, and a
// client that read it from a new leader was then refused by a follower
// that had applied nothing of the epoch yet).
func (v view) processedZxid() int64 {
	z := v.s.lastZxid.Load()
	if p := v.s.peer; p != nil && p.State() == zab.Leading && p.Serving() {
		z = max(z, p.CurrentEpoch()<<32)
	}
	return z
}

func openFDs() int64 {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return int64(len(ents))
}

func (v view) Connections() []fourletter.Conn {
	s := v.s
	conns := s.connList()
	out := make([]fourletter.Conn, 0, len(conns))
	for _, c := range conns {
		st := &c.stats
		ops := 1 // reading
		if c.inCommand.Load() {
			ops = 0 // running a four-letter word
		}
		fc := fourletter.Conn{
			Remote:         c.nc.RemoteAddr().String(),
			InterestOps:    ops,
			Received:       st.received.Load(),
			Sent:           st.sent.Load(),
			SessionID:      c.sessionID.Load(),
			LastOp:         "NA",
			Established:    st.established,
			SessionTimeout: time.Duration(c.timeout.Load()) * time.Millisecond,
			LastCxid:       int64(st.lastCxid.Load()),
			LastZxid:       st.lastZxid.Load(),
			LastResponseMs: st.lastResp.Load(),
			LastLatency:    st.lastLat.Load(),
			MaxLatency:     st.maxLat.Load(),
			LastActivity:   time.Now(),
		}
		if n, ok := lastOpNames[st.lastOp.Load()]; ok {
			fc.LastOp = n
		}
		if m := st.minLat.Load(); m > 0 {
			fc.MinLatency = m
		}
		if n := st.count.Load(); n > 0 {
			fc.AvgLatency = st.totLat.Load() / n
		}
		out = append(out, fc)
	}
	return out
}

func (v view) Sessions() []fourletter.Session {
	list := v.s.sessions.list()
	out := make([]fourletter.Session, len(list))
	for i, si := range list {
		out[i] = fourletter.Session{ID: si.ID, Timeout: si.Timeout, Expires: si.ExpireAt, Local: si.Local}
	}
	return out
}

func (v view) Ephemerals() map[int64][]string {
	s := v.s
	s.tree.RLock()
	defer s.tree.RUnlock()
	out := map[int64][]string{}
	for _, sid := range s.tree.EphemeralSessions() {
		out[sid] = s.tree.Ephemerals(sid)
	}
	return out
}

func (v view) DataWatches() []fourletter.Watch {
	var out []fourletter.Watch
	for path, sids := range v.s.watches.DataTable() {
		for _, sid := range sids {
			out = append(out, fourletter.Watch{SessionID: sid, Path: path})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].SessionID != out[j].SessionID {
			return out[i].SessionID < out[j].SessionID
		}
		return out[i].Path < out[j].Path
	})
	return out
}

func (v view) Environment() []fourletter.KV { return fourletter.DefaultEnvironment(Version) }

func (v view) Quorum() *fourletter.Quorum {
	if q := v.s.quorumFn; q != nil {
		return q()
	}
	return nil
}

func (v view) ResetStats() {
	v.s.stats.reset()
	v.s.stats.responses.Reset()
	v.s.metrics.Reset()
	v.s.proposalSizes.Reset()
}

func (v view) ResetConnectionStats() {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.stats.reset()
		c.stats.lastOp.Store(-100)
		c.stats.lastCxid.Store(-1)
		c.stats.lastZxid.Store(-1)
	}
}

func (v view) Metrics() []fourletter.Metric {
	out := append(v.s.logFaultMetrics(), v.s.quotaMetrics()...)
	st := &v.s.stats
	out = append(out, fourletter.Metric{Name: "digest_mismatches_count", Value: v.s.digests.mismatches.Load(), Counter: true,
		Help: "Tree digests that differed from a snapshot's once its txns were replayed, or from the leader's at the same zxid"},
		fourletter.Metric{Name: "ensemble_auth_success", Value: st.ensembleAuthSuccess.Load(), Counter: true,
			Help: "addauth ensemble with one of ensembleAuthName's names"},
		fourletter.Metric{Name: "ensemble_auth_fail", Value: st.ensembleAuthFail.Load(), Counter: true,
			Help: "addauth ensemble with another name (the connection was closed)"},
		fourletter.Metric{Name: "ensemble_auth_skip", Value: st.ensembleAuthSkip.Load(), Counter: true,
			Help: "addauth ensemble without a name, or without ensembleAuthName"})
	return append(out, fourletter.ServerMetrics(v.s.metrics)...)
}

func (v view) Digests() []fourletter.ZxidDigest { return v.s.digests.List() }

// quotaMetrics are Apache's quota gauge sets (QuotaMetricsUtils) and its
// count of writes refused by a quota, one member per top-level namespace.
func (s *Server) quotaMetrics() []fourletter.Metric {
	s.tree.RLock()
	sums := s.tree.QuotaSums()
	s.tree.RUnlock()
	var out []fourletter.Metric
	for _, ns := range slices.Sorted(maps.Keys(sums)) {
		q := sums[ns]
		if q.HasLimits {
			out = append(out,
				fourletter.Metric{Name: "quota_count_limit_per_namespace", Key: ns, Value: q.CountLimit,
					Help: "Quota count limit of the namespace (the hard limit when set)"},
				fourletter.Metric{Name: "quota_bytes_limit_per_namespace", Key: ns, Value: q.BytesLimit,
					Help: "Quota bytes limit of the namespace (the hard limit when set)"})
		}
		if q.HasUsage {
			out = append(out,
				fourletter.Metric{Name: "quota_count_usage_per_namespace", Key: ns, Value: q.CountUsage,
					Help: "Znodes in the namespace's quotas"},
				fourletter.Metric{Name: "quota_bytes_usage_per_namespace", Key: ns, Value: q.BytesUsage,
					Help: "Data bytes in the namespace's quotas"})
		}
	}
	refused := s.quotaRefused.snapshot()
	for _, ns := range slices.Sorted(maps.Keys(refused)) {
		out = append(out, fourletter.Metric{Name: "quota_exceeded_error_per_namespace", Key: ns, Value: refused[ns], Counter: true,
			Help: "Writes refused because they would pass a hard quota"})
	}
	return out
}
