package admin

import (
	"cmp"
	"net"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/config"
)

// command is one AdminServer command (Apache's Commands.*Command).
type command struct {
	names []string // primary name first, then aliases
	// serverRequired: answer "not currently serving" when the server is
	// not serving (CommandBase.isServerRequired, true unless stated).
	serverRequired bool
	run            func(v fourletter.View, args map[string]string, r *object)
}

// commands are Apache 3.8.0's, in Commands.registerCommand order.
var commands = []*command{
	{names: []string{"connection_stat_reset", "crst"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, _ *object) {
		v.ResetConnectionStats()
	}},
	{names: []string{"configuration", "conf", "config"}, serverRequired: true, run: cmdConf},
	{names: []string{"connections", "cons"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		r.set("connections", connList(v.Connections(), false))
		r.set("secure_connections", []any{})
	}},
	{names: []string{"hash"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		r.set("digests", v.Digests())
	}},
	{names: []string{"dirs"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		st := v.Stats()
		r.set("datadir_size", st.DataDirSize)
		r.set("logdir_size", st.LogDirSize)
	}},
	{names: []string{"dump"}, serverRequired: true, run: cmdDump},
	{names: []string{"environment", "env", "envi"}, run: func(v fourletter.View, _ map[string]string, r *object) {
		for _, kv := range v.Environment() {
			r.set(kv.Key, kv.Value)
		}
	}},
	{names: []string{"get_trace_mask", "gtmk"}, run: func(_ fourletter.View, _ map[string]string, r *object) {
		r.set("tracemask", int64(fourletter.DefaultTraceMask))
	}},
	{names: []string{"initial_configuration", "icfg"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		var s any
		if c := v.Config(); c != nil && c.InitialConfig != "" {
			s = c.InitialConfig
		}
		r.set("initial_configuration", s)
	}},
	{names: []string{"is_read_only", "isro"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		r.set("read_only", v.Stats().Mode == "read-only")
	}},
	{names: []string{"last_snapshot", "lsnp"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		st := v.Stats()
		zxid, ts := int64(-1), int64(-1)
		if !st.LastSnapshotTime.IsZero() {
			zxid, ts = st.LastSnapshotZxid, st.LastSnapshotTime.Unix()
		}
		r.set("zxid", strconv.FormatUint(uint64(zxid), 16))
		r.set("timestamp", ts)
	}},
	{names: []string{"leader", "lead"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		q := v.Quorum()
		if q == nil {
			r.set("error", "server is not initialized")
			return
		}
		r.set("is_leader", v.Stats().Mode == "leader")
		r.set("leader_id", q.LeaderID)
		r.set("leader_ip", q.LeaderAddress)
	}},
	{names: []string{"monitor", "mntr"}, run: func(v fourletter.View, _ map[string]string, r *object) {
		for _, m := range fourletter.Flatten(fourletter.MonitorValues(v)) {
			r.set(m.MntrName(), m.Value)
		}
	}},
	{names: []string{"observer_connection_stat_reset", "orst"}, serverRequired: true, run: func(fourletter.View, map[string]string, *object) {}},
	{names: []string{"ruok"}, serverRequired: true, run: func(fourletter.View, map[string]string, *object) {}},
	{names: []string{"set_trace_mask", "stmk"}, run: func(_ fourletter.View, args map[string]string, r *object) {
		s, ok := args["traceMask"]
		if !ok {
			r.set("error", "setTraceMask requires long traceMask argument")
			return
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			r.set("error", "setTraceMask requires long traceMask argument, got "+s)
			return
		}
		r.set("tracemask", n) // echoed, not applied: zkgo has no trace masks
	}},
	{names: []string{"server_stats", "srvr"}, serverRequired: true, run: cmdSrvr},
	{names: []string{"stats", "stat"}, serverRequired: true, run: func(v fourletter.View, args map[string]string, r *object) {
		cmdSrvr(v, args, r)
		r.set("connections", connList(v.Connections(), true))
		r.set("secure_connections", []any{})
	}},
	{names: []string{"stat_reset", "srst"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, _ *object) {
		v.ResetStats()
	}},
	{names: []string{"observers", "obsr"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		n := int64(0)
		if m := v.Stats().Mode; m == "leader" || m == "follower" {
			// A follower counts the observers it serves as their
			// observer master (Apache: ObserverMaster's active ones).
			if q := v.Quorum(); q != nil {
				n = int64(q.SyncedObservers)
			}
		}
		r.set("synced_observers", n)
		r.set("observers", []any{})
	}},
	{names: []string{"system_properties", "sysp"}, run: func(v fourletter.View, _ map[string]string, r *object) {
		// No JVM: the environment list, sorted by key as Apache sorts
		// its system properties.
		env := slices.Clone(v.Environment())
		slices.SortStableFunc(env, func(a, b fourletter.KV) int { return cmp.Compare(a.Key, b.Key) })
		for _, kv := range env {
			r.set(kv.Key, kv.Value)
		}
	}},
	{names: []string{"voting_view"}, serverRequired: true, run: cmdVotingView},
	{names: []string{"watches", "wchc"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		ids, m := fourletter.WatchesBySession(v.DataWatches())
		o := newObject()
		for _, id := range ids {
			o.set(strconv.FormatInt(id, 10), m[id])
		}
		r.set("session_id_to_watched_paths", o)
	}},
	{names: []string{"watches_by_path", "wchp"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		paths, m := fourletter.WatchesByPath(v.DataWatches())
		o := newObject()
		for _, p := range paths {
			o.set(p, m[p])
		}
		r.set("path_to_session_ids", o)
	}},
	{names: []string{"watch_summary", "wchs"}, serverRequired: true, run: func(v fourletter.View, _ map[string]string, r *object) {
		c, p, t := fourletter.WatchSummary(v.DataWatches())
		r.set("num_connections", int64(c))
		r.set("num_paths", int64(p))
		r.set("num_total_watches", int64(t))
	}},
	{names: []string{"zabstate"}, run: cmdZabState},
}

var byName = func() map[string]*command {
	m := map[string]*command{}
	for _, c := range commands {
		for _, n := range c.names {
			m[n] = c
		}
	}
	return m
}()

// primaryNames are the commands' primary names, sorted (the listing).
func primaryNames() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.names[0])
	}
	slices.Sort(out)
	return out
}

// runCommand is Commands.runCommand plus CommandResponse.toMap: the
// command's data first, then "command" (the primary name, or the name
// asked for when it is unknown or the server is not serving) and "error"
// (unless the data set "error" itself).
func runCommand(name string, v fourletter.View, args map[string]string) *object {
	c := byName[name]
	resp := newObject()
	var errVal any
	switch {
	case c == nil:
		errVal = "Unknown command: " + name
	case c.serverRequired && !v.Serving():
		errVal = "This ZooKeeper instance is not currently serving requests"
	default:
		name = c.names[0] // CommandBase.initializeResponse uses the primary name
		c.run(v, args, resp)
	}
	// CommandResponse.toMap: copy of data, put command, put error, putAll(data).
	out := newObject()
	for _, k := range resp.keys {
		out.set(k, resp.vals[k])
	}
	out.set("command", name)
	out.set("error", errVal)
	for _, k := range resp.keys {
		out.set(k, resp.vals[k])
	}
	return out
}

func cmdConf(v fourletter.View, _ map[string]string, r *object) {
	c := v.Config()
	if c == nil {
		return
	}
	// ZooKeeperServerConf.toMap
	r.set("client_port", int64(c.ClientPort))
	r.set("data_dir", absPath(c.DataDir))
	r.set("data_log_dir", absPath(c.DataLogDir))
	r.set("tick_time", c.TickTime.Milliseconds())
	r.set("max_client_cnxns", int64(c.MaxClientCnxns))
	r.set("min_session_timeout", c.MinSessionTimeout.Milliseconds())
	r.set("max_session_timeout", c.MaxSessionTimeout.Milliseconds())
	r.set("server_id", c.MyID)
	r.set("client_port_listen_backlog", int64(c.ClientPortListenBacklog))
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil && p != "" {
		return a
	}
	return p
}

// connList is ServerCnxnFactory.getAllConnectionInfo: one
// ServerCnxn.getConnectionInfo map per connection.
func connList(conns []fourletter.Conn, brief bool) []any {
	out := make([]any, 0, len(conns))
	for _, c := range conns {
		o := newObject()
		o.set("remote_socket_address", c.Remote)
		o.set("interest_ops", int64(c.InterestOps))
		o.set("outstanding_requests", c.Outstanding)
		o.set("packets_received", c.Received)
		o.set("packets_sent", c.Sent)
		if !brief {
			lastOp := c.LastOp
			if lastOp == "" {
				lastOp = "NA"
			}
			o.set("session_id", c.SessionID)
			o.set("last_operation", lastOp)
			o.set("established", c.Established.UnixMilli()) // a Date: epoch ms
			o.set("session_timeout", c.SessionTimeout.Milliseconds())
			o.set("last_cxid", c.LastCxid)
			o.set("last_zxid", c.LastZxid)
			o.set("last_response_time", c.LastResponseMs)
			o.set("last_latency", c.LastLatency)
			o.set("min_latency", c.MinLatency)
			o.set("avg_latency", c.AvgLatency)
			o.set("max_latency", c.MaxLatency)
		}
		out = append(out, o)
	}
	return out
}

func cmdDump(v fourletter.View, _ map[string]string, r *object) {
	// getSessionExpiryMap: expiry time -> session ids, by time. Learners
	// track no expiry for global sessions: empty.
	exp := newObject()
	mode := v.Stats().Mode
	if mode != "follower" && mode != "observer" {
		sessions := slices.Clone(v.Sessions())
		slices.SortStableFunc(sessions, func(a, b fourletter.Session) int { return a.Expires.Compare(b.Expires) })
		for _, s := range sessions {
			k := strconv.FormatInt(s.Expires.UnixMilli(), 10)
			ids, _ := exp.get(k)
			l, _ := ids.([]int64)
			exp.set(k, append(l, s.ID))
		}
	}
	r.set("expiry_time_to_session_ids", exp)
	eph := newObject()
	m := v.Ephemerals()
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(uint64(a), uint64(b)) })
	for _, id := range ids {
		eph.set(strconv.FormatInt(id, 10), slices.Clone(m[id]))
	}
	r.set("session_id_to_ephemeral_paths", eph)
}

func bufferStats(last, min, max int64) *object {
	return newObject().set("last_buffer_size", last).set("min_buffer_size", min).set("max_buffer_size", max)
}

// cmdSrvr is SrvrCommand; server_stats is the ServerStats bean as Jackson
// serialises it (snake_case, fields with getters first, then the other
// getters).
func cmdSrvr(v fourletter.View, _ map[string]string, r *object) {
	st := v.Stats()
	conns := int64(len(v.Connections()))
	resp := bufferStats(st.ClientResponseLast, st.ClientResponseMin, st.ClientResponseMax)
	ss := newObject().
		set("packets_sent", st.PacketsSent).
		set("packets_received", st.PacketsReceived).
		set("fsync_threshold_exceed_count", st.FsyncThresholdExceedCount).
		set("client_response_stats", resp).
		set("min_latency", st.LatencyMin).
		set("avg_latency", st.LatencyAvg()).
		set("max_latency", st.LatencyMax).
		set("outstanding_requests", st.Outstanding).
		set("last_processed_zxid", st.LastZxid).
		set("data_dir_size", st.DataDirSize).
		set("log_dir_size", st.LogDirSize).
		set("server_state", st.Mode).
		set("num_alive_client_connections", conns).
		set("uptime", st.Uptime.Milliseconds()).
		set("provider_null", false).
		set("non_mtlslocal_conn_count", st.NonMTLSLocalConnCount).
		set("non_mtlsremote_conn_count", st.NonMTLSRemoteConnCount).
		set("auth_failed_count", st.AuthFailedCount)
	r.set("version", st.Version)
	r.set("read_only", st.Mode == "read-only")
	r.set("server_stats", ss)
	r.set("client_response", bufferStats(st.ClientResponseLast, st.ClientResponseMin, st.ClientResponseMax))
	if q := v.Quorum(); q != nil && st.Mode == "leader" {
		r.set("proposal_stats", bufferStats(q.ProposalLast, q.ProposalMin, q.ProposalMax))
	}
	r.set("node_count", st.NodeCount)
}

func hostPort(host string, port int) string {
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// cmdVotingView is VotingViewCommand: the voting members of the current
// configuration.
func cmdVotingView(v fourletter.View, _ map[string]string, r *object) {
	cur := newObject()
	c := v.Config()
	if v.Quorum() != nil && c != nil {
		servers := slices.Clone(c.Servers)
		slices.SortFunc(servers, func(a, b config.Server) int { return cmp.Compare(a.ID, b.ID) })
		for _, s := range servers {
			if s.Observer {
				continue
			}
			client := ""
			switch {
			case s.ClientPort != 0:
				client = hostPort(s.ClientAddress, s.ClientPort)
			case s.ID == c.MyID:
				client = hostPort(c.ClientPortAddress, c.ClientPort)
			}
			cur.set(strconv.FormatInt(s.ID, 10), newObject().
				set("server_addresses", []string{net.JoinHostPort(s.Host, strconv.Itoa(s.QuorumPort))}).
				set("election_addresses", []string{net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort))}).
				set("client_address", client).
				set("learner_type", "participant"))
		}
	}
	r.set("current_config", cur)
}

// cmdZabState is ZabStateCommand.
func cmdZabState(v fourletter.View, _ map[string]string, r *object) {
	q := v.Quorum()
	c := v.Config()
	if q == nil || c == nil {
		r.set("voting", false)
		r.set("zabstate", "")
		return
	}
	self, _ := c.Self()
	zxid := v.Stats().LastZxid
	r.set("myid", c.MyID)
	r.set("is_leader", v.Stats().Mode == "leader")
	r.set("quorum_address", net.JoinHostPort(self.Host, strconv.Itoa(self.QuorumPort)))
	r.set("election_address", net.JoinHostPort(self.Host, strconv.Itoa(self.ElectionPort)))
	r.set("client_address", hostPort(c.ClientPortAddress, c.ClientPort))
	r.set("voting", q.Voting)
	r.set("last_zxid", "0x"+strconv.FormatUint(uint64(zxid), 16))
	r.set("zab_epoch", zxid>>32)
	r.set("zab_counter", zxid&0xffffffff)
	r.set("zabstate", q.ZabState)
}
