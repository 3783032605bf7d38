package metric

// Server is the part of Apache's ServerMetrics that zkgo keeps, shared by
// the server, its txn log (storage) and its replication (zab). Times are
// in milliseconds, as Apache's.
type Server struct {
	FsyncTime    *Summary // a synced write of the txn log (fsynctime; forceSync only)
	BatchSize    *Summary // txns per write of the txn log (sync_processor_batch_size)
	SnapshotTime *Summary // writing a snapshot (snapshottime)
	DBInitTime   *Summary // loading the data at start (dbinittime)
	// Loading at start: the snapshot (startup_snap_load_time), the txns
	// after it (startup_txns_load_time) and how many (startup_txns_loaded).
	StartupSnapLoadTime, StartupTxnsLoadTime, StartupTxnsLoaded *Summary
	// A request's latency, from its arrival to its answer: reads, and
	// requests that made a txn (readlatency, updatelatency).
	ReadLatency, UpdateLatency *Summary
	// From a txn's time (the leader's clock when it was made) to its
	// application here (propagation_latency), to a follower's receipt of
	// its proposal (proposal_latency), and to its commit by a quorum's
	// acknowledgements on the leader (quorum_ack_latency).
	PropagationLatency, ProposalLatency, QuorumAckLatency *Summary
	ElectionTime                                          *Summary // from looking to leading, following or observing (election_time)
	// A learner's sync with its leader, from connecting to serving
	// (follower_sync_time, observer_sync_time).
	FollowerSyncTime, ObserverSyncTime *Summary
	// Watchers an event fired, per kind of event, on the data side and on
	// the child side each (node_created_watch_count, …; none when none).
	NodeCreatedWatchers, NodeDeletedWatchers, NodeChangedWatchers, NodeChildrenWatchers *Summary

	LookingCount            Counter // elections entered (looking_count)
	DiffCount, SnapCount    Counter // learners synced with DIFF or TRUNC, and with SNAP (diff_count, snap_count)
	ProposalCount           Counter // txns the leader proposed (proposal_count)
	CommitCount             Counter // txns the leader committed (commit_count)
	LearnerProposalReceived Counter // proposals a follower received (learner_proposal_received_count)
	LearnerCommitReceived   Counter // commits a learner received (learner_commit_received_count)

	ConnectionRequest    Counter // connect requests received (connection_request_count)
	ConnectionRejected   Counter // connections refused: maxClientCnxns, maxCnxns (connection_rejected)
	BytesReceived        Counter // bytes of the packets received from clients, length included (bytes_received_count)
	ResponseBytes        Counter // bytes of the replies to requests, length excluded (response_bytes)
	StaleSessionsExpired Counter // sessions expired for want of a heartbeat (stale_sessions_expired)
}

// NewServer returns an empty set.
func NewServer() *Server {
	return &Server{
		FsyncTime: NewSummary(), BatchSize: NewSummary(), SnapshotTime: NewSummary(), DBInitTime: NewSummary(),
		StartupSnapLoadTime: NewSummary(), StartupTxnsLoadTime: NewSummary(), StartupTxnsLoaded: NewSummary(),
		ReadLatency: NewPercentileSummary(), UpdateLatency: NewPercentileSummary(), PropagationLatency: NewPercentileSummary(),
		ProposalLatency: NewPercentileSummary(), QuorumAckLatency: NewPercentileSummary(),
		ElectionTime: NewSummary(), FollowerSyncTime: NewSummary(), ObserverSyncTime: NewSummary(),
		NodeCreatedWatchers: NewSummary(), NodeDeletedWatchers: NewSummary(), NodeChangedWatchers: NewSummary(), NodeChildrenWatchers: NewSummary(),
	}
}

// Named is one metric of the set with Apache's name: a Summary or a
// Counter.
type Named struct {
	Name, Help string
	Summary    *Summary
	Counter    *Counter
}

// All lists the set's metrics with Apache's names, summaries first.
func (m *Server) All() []Named {
	return []Named{
		{Name: "fsynctime", Help: "Time in ms of a synced write of the txn log", Summary: m.FsyncTime},
		{Name: "sync_processor_batch_size", Help: "Txns per write of the txn log", Summary: m.BatchSize},
		{Name: "snapshottime", Help: "Time in ms to write a snapshot", Summary: m.SnapshotTime},
		{Name: "dbinittime", Help: "Time in ms to load the data at start", Summary: m.DBInitTime},
		{Name: "startup_snap_load_time", Help: "Time in ms to load the snapshot at start", Summary: m.StartupSnapLoadTime},
		{Name: "startup_txns_load_time", Help: "Time in ms to replay the txns after the snapshot at start", Summary: m.StartupTxnsLoadTime},
		{Name: "startup_txns_loaded", Help: "Txns replayed after the snapshot at start", Summary: m.StartupTxnsLoaded},
		{Name: "readlatency", Help: "Latency in ms of requests that made no txn", Summary: m.ReadLatency},
		{Name: "updatelatency", Help: "Latency in ms of requests that made a txn", Summary: m.UpdateLatency},
		{Name: "propagation_latency", Help: "Time in ms from a txn's making on the leader to its application", Summary: m.PropagationLatency},
		{Name: "proposal_latency", Help: "Time in ms from a txn's making on the leader to a follower's receipt of its proposal", Summary: m.ProposalLatency},
		{Name: "quorum_ack_latency", Help: "Time in ms from a txn's making to its commit by a quorum's acknowledgements", Summary: m.QuorumAckLatency},
		{Name: "election_time", Help: "Time in ms from looking to a decided role", Summary: m.ElectionTime},
		{Name: "follower_sync_time", Help: "Time in ms a follower took to sync with its leader", Summary: m.FollowerSyncTime},
		{Name: "observer_sync_time", Help: "Time in ms an observer took to sync with its leader", Summary: m.ObserverSyncTime},
		{Name: "node_created_watch_count", Help: "Watchers a NodeCreated event fired", Summary: m.NodeCreatedWatchers},
		{Name: "node_deleted_watch_count", Help: "Watchers a NodeDeleted event fired", Summary: m.NodeDeletedWatchers},
		{Name: "node_changed_watch_count", Help: "Watchers a NodeDataChanged event fired", Summary: m.NodeChangedWatchers},
		{Name: "node_children_watch_count", Help: "Watchers a NodeChildrenChanged event fired", Summary: m.NodeChildrenWatchers},
		{Name: "looking_count", Help: "Elections entered", Counter: &m.LookingCount},
		{Name: "diff_count", Help: "Learners synced with DIFF or TRUNC", Counter: &m.DiffCount},
		{Name: "snap_count", Help: "Learners synced with SNAP", Counter: &m.SnapCount},
		{Name: "proposal_count", Help: "Txns proposed as leader", Counter: &m.ProposalCount},
		{Name: "commit_count", Help: "Txns committed as leader", Counter: &m.CommitCount},
		{Name: "learner_proposal_received_count", Help: "Proposals received as follower", Counter: &m.LearnerProposalReceived},
		{Name: "learner_commit_received_count", Help: "Commits received as learner", Counter: &m.LearnerCommitReceived},
		{Name: "connection_request_count", Help: "Connect requests received", Counter: &m.ConnectionRequest},
		{Name: "connection_rejected", Help: "Connections refused (maxClientCnxns, maxCnxns)", Counter: &m.ConnectionRejected},
		{Name: "bytes_received_count", Help: "Bytes received from clients", Counter: &m.BytesReceived},
		{Name: "response_bytes", Help: "Bytes of replies to requests", Counter: &m.ResponseBytes},
		{Name: "stale_sessions_expired", Help: "Sessions expired for want of a heartbeat", Counter: &m.StaleSessionsExpired},
	}
}

// Reset empties every metric of the set (srst, as Apache's
// ServerMetrics.resetAll).
func (m *Server) Reset() {
	for _, n := range m.All() {
		if n.Summary != nil {
			n.Summary.Reset()
		} else {
			n.Counter.Reset()
		}
	}
}
