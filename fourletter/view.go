package fourletter

import (
	"time"

	"github.com/zkgo/zkgo/internal/metric"
	"github.com/zkgo/zkgo/server/config"
)

// View is the read-only view of a running server that the four-letter
// words and the AdminServer render from. The server implements it; every
// method must be safe to call from any goroutine while the server runs,
// and may be slow-ish (it is called once per 4lw or HTTP request, never on
// a hot path). Returned values are copies the caller may keep.
type View interface {
	// Serving reports whether the server is serving requests (Apache's
	// ZooKeeperServer.isRunning). When false, every word except ruok,
	// envi, gtmk, stmk and isro prints "This ZooKeeper instance is not
	// currently serving requests" (isro prints "null").
	Serving() bool

	// Config is the configuration the server runs with (conf, and the
	// membership shown in ensemble mode). Must not be modified.
	Config() *config.Config

	// Stats are the server-wide numbers of srvr, stat and mntr.
	Stats() Stats

	// Connections lists the client connections (cons, stat, dump and the
	// AdminServer's connections/stats), including the one asking a
	// four-letter word, in the order they are printed.
	Connections() []Conn

	// Sessions lists the live sessions with their expiry (dump; printed
	// by expiry bucket, in this order within a bucket).
	Sessions() []Session

	// Ephemerals maps session id -> paths of its ephemeral znodes (dump;
	// sessions printed by id, paths in this order).
	Ephemerals() map[int64][]string

	// DataWatches is the data-watch table (getData/exists watches and
	// persistent watches; not child watches): one entry per (session,
	// path). wchs, wchc and wchp render it, as Apache's dataWatches,
	// grouping in order of first appearance.
	DataWatches() []Watch

	// Environment is envi's key/value list; DefaultEnvironment builds
	// Apache's list for this process.
	Environment() []KV

	// Quorum is the ensemble state, nil for a standalone server.
	Quorum() *Quorum

	// ResetStats resets the server statistics (srst): latency
	// min/avg/max, packets received/sent, client response sizes and, on a
	// leader, the proposal sizes.
	ResetStats()

	// ResetConnectionStats resets every connection's statistics (crst):
	// packets, latencies, last operation ("NA"), last cxid/zxid (-1).
	ResetConnectionStats()

	// Metrics are further mntr / Prometheus values the server keeps
	// (counters and summaries), printed after the standard ones as
	// zk_<Name>. Int values print as integers, float64 as Java doubles.
	Metrics() []Metric

	// Digests is the tree digest log (hash), oldest first.
	Digests() []ZxidDigest
}

// ZxidDigest is the data tree's digest once the txn Zxid was applied, as
// Apache's DataTree.ZxidDigest: the AdminServer's hash lists them with
// Apache's field names.
type ZxidDigest struct {
	Zxid    int64 `json:"zxid"`
	Version int32 `json:"digestVersion"`
	Digest  int64 `json:"digest"`
}

// Stats are the server-wide numbers (Apache's ServerStats and the gauges
// of ZooKeeperServer.registerMetrics).
type Stats struct {
	// Version as printed after "Zookeeper version: ", e.g.
	// "3.8.0-zkgo-1.0, built on 2026-11-26 12:00 UTC". Tools (zkServer.sh,
	// kazoo, Curator) read the leading 3.8.0.
	Version string
	// Mode is standalone, leader, follower, observer or read-only.
	Mode string

	// Request latency in ms of requests this server answered: min, max,
	// and total/count for the average (Apache rounds it to 4 decimals).
	LatencyMin, LatencyMax     int64
	LatencyTotal, LatencyCount int64

	PacketsReceived int64 // counting four-letter words, as Apache does (4 bytes = 1 packet)
	PacketsSent     int64
	Outstanding     int64 // requests queued and not yet answered
	LastZxid        int64 // last processed zxid
	NodeCount       int64 // as Apache's DataTree counts: the root twice ("" and "/"), so 5 on a fresh server

	WatchCount          int64 // all watches, data + child (zk_watch_count)
	EphemeralsCount     int64 // ephemeral znodes
	ApproximateDataSize int64 // sum of path lengths + data lengths
	GlobalSessions      int64
	LocalSessions       int64
	// LocalSessionsEnabled: localSessionsEnabled on an ensemble member
	// (dump lists local and global sessions apart).
	LocalSessionsEnabled bool
	Uptime               time.Duration

	DataDirSize int64 // bytes under dataDir (dirs, conf)
	LogDirSize  int64 // bytes under dataLogDir

	OpenFileDescriptors int64 // -1 when unknown (not printed)
	MaxFileDescriptors  int64 // -1 when unknown (not printed)

	// Client response sizes in bytes; -1 when no response was sent yet.
	ClientResponseLast, ClientResponseMin, ClientResponseMax int64

	// Last snapshot written or loaded (the AdminServer's last_snapshot):
	// zxid -1 and a zero time when there is none.
	LastSnapshotZxid int64
	LastSnapshotTime time.Time

	AuthFailedCount           int64
	FsyncThresholdExceedCount int64
	ConnectionDropProbability float64
	OutstandingTLSHandshake   int64
	NonMTLSRemoteConnCount    int64
	NonMTLSLocalConnCount     int64
}

// LatencyAvg is Apache's AvgMinMaxCounter.getAvg: total/count rounded to
// four decimals (half up), 0 without samples.
func (s Stats) LatencyAvg() float64 { return metric.Avg4(s.LatencyTotal, s.LatencyCount) }

// Conn is one client connection.
type Conn struct {
	// Remote is the client's "ip:port" (IPv6 as "[::1]:port"); cons
	// prints it as Java does, "/ip:port".
	Remote string
	// InterestOps as Apache's NIO selector prints them: 0 while a command
	// runs, 1 (read) for an idle session connection, 5 (read|write) while
	// writing.
	InterestOps int
	Outstanding int64 // queued requests
	Received    int64 // packets received
	Sent        int64 // packets sent

	// SessionID is 0 until the session is established; the full form of
	// cons prints the fields below only when it is not 0.
	SessionID      int64
	LastOp         string // short op name as Apache's: GETD, SETD, CREA, DELE, EXIS, PING, GETC, SESS, CLOS, …; "NA" initially
	Established    time.Time
	SessionTimeout time.Duration // negotiated
	LastCxid       int64         // -1 before any request (not printed then)
	LastZxid       int64         // -1 initially
	// LastResponseMs is the time of the last response in ms on the
	// server's monotonic clock (Apache prints System.nanoTime()/1e6);
	// ms since server start is fine.
	LastResponseMs int64
	LastLatency    int64 // ms
	MinLatency     int64 // ms, 0 without samples
	AvgLatency     int64 // ms, integer division as Apache's
	MaxLatency     int64 // ms
	// LastActivity is when the connection last received anything; dump's
	// "Connections" section buckets connections by LastActivity +
	// SessionTimeout, as Apache's NIO connection expiry queue.
	LastActivity time.Time
}

// Session is one live session.
type Session struct {
	ID      int64
	Timeout time.Duration
	// Expires is the session's expiry bucket (tick-rounded), on a
	// standalone server or leader. Learners leave it zero: their dump
	// prints "Global Sessions(n):" with timeouts instead.
	Expires time.Time
	// Local: known to this member only (local sessions, read-only mode).
	Local bool
}

// Watch is one entry of a watch table.
type Watch struct {
	SessionID int64
	Path      string
}

// KV is one envi line.
type KV struct{ Key, Value string }

// Metric is one extra mntr value. Value is an int64 (printed as an
// integer), a float64 (printed as a Java double, e.g. "0.0") or a
// metric.Values, one of Apache's summaries (printed as its avg_, min_, …
// values: Flatten).
type Metric struct {
	Name  string // without the zk_ prefix, snake_case
	Value any
	// Help is the Prometheus help text ("" = the name).
	Help string
	// Counter marks a monotonically increasing value for Prometheus.
	Counter bool
	// Key makes the metric one member of a set (Apache's GaugeSet and
	// CounterSet, e.g. the quota metrics per namespace): mntr names it
	// Key_Name, Prometheus Name{key="Key"}.
	Key string
}

// MntrName is the metric's name in mntr and the AdminServer's monitor
// command, without the zk_ prefix.
func (m Metric) MntrName() string {
	if m.Key == "" {
		return m.Name
	}
	return m.Key + "_" + m.Name
}

// Quorum is the state of a quorum peer (nil in standalone mode).
type Quorum struct {
	// PeerState is Apache's QuorumPeer.getDetailedPeerState, e.g.
	// "leading - broadcast", "following - synchronization",
	// "observing - broadcast", "looking".
	PeerState  string
	QuorumSize int // voting members
	// ZabState: election, discovery, synchronization or broadcast.
	ZabState string
	Voting   bool  // this server is a voting member of the current config
	LeaderID int64 // -1 when unknown
	// LeaderAddress is the leader's "host:quorumPort" ("" when unknown).
	LeaderAddress string
	// MasterID is the member a learner syncs with: the leader, or for an
	// observer a follower serving observers (observerMasterPort); -1 when
	// it has none.
	MasterID int64

	// Leader only.
	Learners                 int
	SyncedFollowers          int
	SyncedNonVotingFollowers int
	SyncedObservers          int
	PendingSyncs             int
	LeaderUptime             time.Duration
	// Proposal sizes in bytes, -1 when none was sent yet.
	ProposalLast, ProposalMin, ProposalMax int64
}
