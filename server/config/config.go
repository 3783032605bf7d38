package config

import (
	"github.com/zkgo/zkgo/server/acl"
	"os"
	"os/user"
	"path/filepath"
	"time"
)

// Config is everything zkserver reads from zoo.cfg (and myid).
//
// Durations are stored as time.Duration; zoo.cfg gives them in
// milliseconds (tickTime, min/maxSessionTimeout, …).
type Config struct {
	// Path of the zoo.cfg this came from ("" for the embedded default).
	Path string

	TickTime                 time.Duration // tickTime, default 3000 ms (Apache's code default)
	DataDir                  string        // dataDir
	DataLogDir               string        // dataLogDir, defaults to DataDir
	ClientPort               int           // clientPort (or the port of server.<myid>'s ";[addr:]port")
	ClientPortAddress        string        // clientPortAddress, "" = all addresses
	MaxClientCnxns           int           // maxClientCnxns per IP, default 60, 0 = unlimited
	MinSessionTimeout        time.Duration // default 2 × tickTime
	MaxSessionTimeout        time.Duration // default 20 × tickTime
	SnapCount                int           // snapCount, default 100000
	AutopurgeSnapRetainCount int           // autopurge.snapRetainCount, default 3 (min 3)
	AutopurgePurgeInterval   int           // autopurge.purgeInterval in hours, default 0 (off)
	// AutopurgePurgeIntervalMs is autopurge.purgeIntervalMs, a zkgo
	// extension (tests, small disks): when > 0 it replaces
	// purgeInterval's hours. Default 0.
	AutopurgePurgeIntervalMs time.Duration
	ForceSync                bool // forceSync, default true ("no" turns fsync off)
	JuteMaxBuffer            int  // jute.maxbuffer, default 0xfffff

	FourLetterWhitelist map[string]bool // 4lw.commands.whitelist; srvr always in; "*" expands to all

	ExtendedTypesEnabled   bool          // extendedTypesEnabled (TTL nodes), default true in zkgo
	ContainerCheckInterval time.Duration // znode.container.checkIntervalMs, default 60 s
	ContainerMaxPerMinute  int           // znode.container.maxPerMinute, default 10000
	SuperDigest            string        // DigestAuthenticationProvider.superDigest ("user:base64sha1"), or $ZK_SUPER_DIGEST
	// DigestAlg (DigestAuthenticationProvider.digestAlg) is the digest
	// scheme's algorithm, SHA1 by default; DigestAuthDisabled
	// (DigestAuthenticationProvider.enabled=false) unregisters the scheme.
	DigestAlg          acl.DigestAlgorithm
	DigestAuthDisabled bool
	SkipACL            bool // skipACL=yes
	// EnsembleAuth: an authProvider.N key names
	// EnsembleAuthenticationProvider, the "ensemble" scheme: a client
	// that says (addauth ensemble NAME) it wants another ensemble than
	// EnsembleAuthNames (ensembleAuthName, comma-separated; nil when
	// unset: any name) is disconnected, to try another server.
	EnsembleAuth      bool
	EnsembleAuthNames []string

	SASL SASLConfig // DIGEST-MD5 logins and the sasl scheme (sasl.go)
	// QuorumSASL is the members' DIGEST-MD5 logins to each other
	// (quorum.auth.*, sasl.go).
	QuorumSASL QuorumSASLConfig
	// SessionRequireClientSASLAuth (sessionRequireClientSASLAuth) enforces
	// the sasl scheme; EnforceAuth (enforce.auth.enabled) enforces
	// EnforceAuthSchemes (enforce.auth.schemes): a connection that holds
	// none of their ids gets SESSIONCLOSEDREQUIRESASLAUTH for any request
	// but auth and sasl, and is closed (AuthenticationHelper).
	SessionRequireClientSASLAuth bool
	EnforceAuth                  bool
	EnforceAuthSchemes           []string

	AdminEnableServer  bool   // admin.enableServer, default true
	AdminServerAddress string // admin.serverAddress, default 0.0.0.0
	AdminServerPort    int    // admin.serverPort, default 8080; 0 = any free port (tests)
	MetricsHTTPHost    string // metricsProvider.httpHost, default 0.0.0.0
	MetricsHTTPPort    int    // metricsProvider.httpPort, default 7000; 0 = any free port (tests)
	MetricsEnabled     bool   // serve /metrics on MetricsHTTPHost:MetricsHTTPPort; see parse rules in keys.go
	PprofEnabled       bool   // pprof.enabled: serve /debug/pprof on the admin port

	LogDir string // zookeeper.log.dir: log file directory, "" = stderr
	// AuditEnable (audit.enable) writes Apache's audit log: to
	// LogDir/zookeeper_audit.log, or stderr without LogDir.
	AuditEnable bool

	// Ensemble keys.
	MyID                  int64  // from dataDir/myid; 0 = no myid file
	InitLimit             int    // ticks
	SyncLimit             int    // ticks
	PeerType              string // "participant" or "observer"
	Servers               []Server
	DynamicConfigFile     string
	ReconfigEnabled       bool
	ReadOnlyModeEnabled   bool // readonlymode.enabled
	ElectionPortBindRetry int

	// Unknown keys (and keys Apache knows but zkgo ignores), kept so they
	// can be reported; Warnings describes each.
	Extra map[string]string

	// --- Fields added by the config owner (all Apache 3.8 keys of the
	// reference's section 9 that the struct above did not carry). ---

	// Warnings are non-fatal findings ("zoo.cfg:9: fooBar: unknown key,
	// ignored"), one line each, for the caller to log at Warn.
	Warnings []string

	SecureClientPort        int       // secureClientPort, 0 = off
	SecureClientPortAddress string    // secureClientPortAddress
	TLS                     TLSConfig // ssl.* keys of the secure client port (tls.go)
	// ClientPortUnification (client.portUnification): the plain client
	// port serves TLS clients too, with the ssl.* keys.
	ClientPortUnification bool
	// SSLQuorum (sslQuorum) makes members connect to each other over TLS
	// with the ssl.quorum.* keys (QuorumTLS); PortUnification
	// (portUnification) makes their quorum and election ports accept
	// plain connections as well as TLS ones, for a rolling change.
	SSLQuorum, PortUnification bool
	QuorumTLS                  TLSConfig
	// SSLQuorumReloadCertFiles (sslQuorumReloadCertFiles) reloads the
	// ssl.quorum.* stores when their files change.
	SSLQuorumReloadCertFiles bool
	ClientPortListenBacklog  int // clientPortListenBacklog, default -1 (OS default)
	MaxCnxns                 int // maxCnxns: total client connections, 0 = unlimited
	// ClientEventLoops (nio.numSelectorThreads) is how many event loops
	// read the plain-TCP client connections past their handshake: -1 (the
	// default) for Apache's count of selector threads, sqrt(cores/2) and at
	// least one; 0 for a goroutine per connection instead.
	ClientEventLoops int

	SnapSizeLimitInKb      int64         // snapSizeLimitInKb, default 4194304; <= 0 disables
	TxnLogSizeLimitInKb    int64         // txnLogSizeLimitInKb, default -1 (off)
	PreAllocSizeKb         int64         // preAllocSize in KB, default 65536
	CommitLogCount         int           // commitLogCount, default 500
	GlobalOutstandingLimit int           // globalOutstandingLimit, default 1000
	FsyncWarningThreshold  time.Duration // fsync.warningthresholdms, default 1000 ms
	EnforceQuota           bool          // enforceQuota, default false
	DigestEnabled          bool          // digest.enabled, default true
	SnapshotCompression    string        // snapshot.compression.method: "" (none), "gz" or "snappy"
	MaxResponseCacheSize   int           // maxResponseCacheSize, default 400
	MaxGetChildrenCache    int           // maxGetChildrenResponseCacheSize, default 400

	ConnectToLearnerMasterLimit   int           // ticks, default = InitLimit
	ElectionAlg                   int           // electionAlg, only 3
	StandaloneEnabled             bool          // standaloneEnabled, default true
	SyncEnabled                   bool          // syncEnabled, default true
	LocalSessionsEnabled          bool          // localSessionsEnabled
	LocalSessionsUpgradingEnabled bool          // localSessionsUpgradingEnabled
	ObserverMasterPort            int           // observerMasterPort, 0 = off
	LeaderServes                  bool          // leaderServes, default true
	QuorumListenOnAllIPs          bool          // quorumListenOnAllIPs
	CnxTimeout                    time.Duration // cnxTimeout, default 5000 ms
	// MinNotificationInterval and MaxNotificationInterval are
	// fastleader.minNotificationInterval (how long an election waits for a
	// better vote, and its first resend interval; default 200 ms) and
	// fastleader.maxNotificationInterval (the resend interval's cap,
	// default 60 s). 0 means the default.
	MinNotificationInterval, MaxNotificationInterval time.Duration
	MultiAddressEnabled                              bool              // multiAddress.enabled
	Groups                                           map[int64][]int64 // group.N=id:id:… (hierarchical quorums)
	Weights                                          map[int64]int64   // weight.ID=w
	// ConfigVersion is the version of the dynamic membership: the hex
	// suffix of "<cfg>.dynamic.<hex>" or 0.
	ConfigVersion int64

	AdminIdleTimeout time.Duration // admin.idleTimeout, default 30000 ms
	AdminCommandURL  string        // admin.commandURL, default "/commands"

	MetricsProviderClassName string // metricsProvider.className as written ("" if absent)

	// InitialConfig is the zoo.cfg text as read ("" for the embedded
	// default): the AdminServer's initial_configuration.
	InitialConfig string
}

// Server is one server.N line.
type Server struct {
	ID            int64
	Host          string
	QuorumPort    int
	ElectionPort  int
	Observer      bool
	ClientAddress string // "" when not given
	ClientPort    int    // 0 when not given
}

// Apache ZooKeeper 3.8 defaults (QuorumPeerConfig, ZooKeeperServer,
// FilePadding, ZKDatabase, JettyAdminServer, PrometheusMetricsProvider).
const (
	DefaultTickTime         = 3000 * time.Millisecond
	DefaultMaxClientCnxns   = 60
	DefaultSnapCount        = 100000
	DefaultSnapRetainCount  = 3
	DefaultJuteMaxBuffer    = 0xfffff
	DefaultAdminServerPort  = 8080
	DefaultMetricsHTTPPort  = 7000
	DefaultContainerCheck   = time.Minute
	DefaultContainerPerMin  = 10000
	DefaultAdminCommandURL  = "/commands"
	DefaultAdminIdleTimeout = 30000 * time.Millisecond
)

// FourLetterWords lists every word Apache ZooKeeper 3.8 knows
// (FourLetterCommands.cmd2String, without "telnet close").
var FourLetterWords = []string{
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
	"srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
}

// defaults returns a Config with every Apache 3.8 default filled in, as
// when zoo.cfg says nothing. DataDir and ClientPort stay empty: Apache has
// no default for them. Session timeouts are derived from TickTime after
// parsing (zero here means "2/20 × tickTime").
func defaults() *Config {
	return &Config{
		TickTime:                 DefaultTickTime,
		MaxClientCnxns:           DefaultMaxClientCnxns,
		SnapCount:                DefaultSnapCount,
		AutopurgeSnapRetainCount: DefaultSnapRetainCount,
		ForceSync:                true,
		JuteMaxBuffer:            DefaultJuteMaxBuffer,
		FourLetterWhitelist:      map[string]bool{"srvr": true},
		ExtendedTypesEnabled:     true, // zkgo: TTL nodes on by default (Apache: false)
		ContainerCheckInterval:   DefaultContainerCheck,
		ContainerMaxPerMinute:    DefaultContainerPerMin,
		AdminEnableServer:        true,
		AdminServerAddress:       "0.0.0.0",
		AdminServerPort:          DefaultAdminServerPort,
		MetricsHTTPHost:          "0.0.0.0",
		MetricsHTTPPort:          DefaultMetricsHTTPPort,
		MetricsEnabled:           false, // /metrics is on the AdminServer; the separate port needs metricsProvider.* (see keys.go)
		PeerType:                 "participant",
		Extra:                    map[string]string{},

		ClientPortListenBacklog: -1,
		ClientEventLoops:        -1,
		SnapSizeLimitInKb:       4194304,
		TxnLogSizeLimitInKb:     -1,
		PreAllocSizeKb:          65536,
		CommitLogCount:          500,
		GlobalOutstandingLimit:  1000,
		FsyncWarningThreshold:   1000 * time.Millisecond,
		DigestEnabled:           true,
		MaxResponseCacheSize:    400,
		MaxGetChildrenCache:     400,
		ElectionAlg:             3,
		StandaloneEnabled:       true,
		SyncEnabled:             true,
		LeaderServes:            true,
		CnxTimeout:              5000 * time.Millisecond,
		AdminIdleTimeout:        DefaultAdminIdleTimeout,
		AdminCommandURL:         DefaultAdminCommandURL,
	}
}

// DefaultDataDir is the data directory of the embedded default
// configuration: <os.TempDir()>/zkgo-<user>/data, e.g.
// /tmp/zkgo-alice/data. Like Apache's sample zoo.cfg (/tmp/zookeeper) it
// survives server restarts but not a reboot, and the user name keeps two
// users of one machine out of each other's way.
func DefaultDataDir() string {
	name := "zkgo"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name += "-" + filepath.Base(u.Username) // Base: Windows names are DOMAIN\user
	} else {
		name += "-" + os.Getenv("USER")
	}
	return filepath.Join(os.TempDir(), name, "data")
}

// Default returns the embedded configuration `make run` uses when no
// zoo.cfg is given. It is Apache's sample zoo.cfg (tickTime 2000,
// clientPort 2181) with choices for a laptop:
//
//   - dataDir is DefaultDataDir() (per user, under the temp dir);
//   - everything listens on 127.0.0.1 only: an unauthenticated
//     ZooKeeper and its AdminServer should not be reachable from the
//     network by default (Apache listens on all interfaces);
//   - the AdminServer is on 127.0.0.1:8080 (Apache's port), and serves
//     Prometheus /metrics itself, so the default opens one extra port, not
//     two (the separate metricsProvider port 7000 is off);
//   - the four-letter-word whitelist is "*": on a loopback-only developer
//     server there is nothing to hide, and `zk status` wants mntr.
func Default() *Config {
	c := defaults()
	c.TickTime = 2000 * time.Millisecond
	c.DataDir = DefaultDataDir()
	c.DataLogDir = c.DataDir
	c.ClientPort = 2181
	c.ClientPortAddress = "127.0.0.1"
	c.AdminServerAddress = "127.0.0.1"
	c.MetricsHTTPHost = "127.0.0.1"
	c.MetricsEnabled = false
	c.FourLetterWhitelist = whitelistAll()
	c.finish()
	return c
}

func whitelistAll() map[string]bool {
	m := make(map[string]bool, len(FourLetterWords))
	for _, w := range FourLetterWords {
		m[w] = true
	}
	m["telnet close"] = true // as Apache's "*"
	return m
}

// finish derives the values that depend on others once parsing is done.
func (c *Config) finish() {
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.ConnectToLearnerMasterLimit == 0 {
		c.ConnectToLearnerMasterLimit = c.InitLimit
	}
	if c.SuperDigest == "" {
		c.SuperDigest = os.Getenv("ZK_SUPER_DIGEST")
	}
	if c.ReadOnlyModeEnabled {
		// FourLetterCommands.isEnabled: isro is added with read-only mode.
		c.FourLetterWhitelist["isro"] = true
	}
	c.FourLetterWhitelist["srvr"] = true // zkServer.sh status needs it
}

// Distributed reports whether this configuration runs a quorum peer in
// ensemble mode (Apache's QuorumPeerConfig.isDistributed): more than one
// participant, or standaloneEnabled=false with at least one server line.
func (c *Config) Distributed() bool {
	return len(c.Servers) > 0 && (!c.StandaloneEnabled || Voters(c.Servers) > 1)
}

// Voters counts the participants (the servers that are not observers).
func Voters(servers []Server) int {
	n := 0
	for _, s := range servers {
		if !s.Observer {
			n++
		}
	}
	return n
}

// Self returns this server's server.N entry (N = MyID), if any.
func (c *Config) Self() (Server, bool) {
	for _, s := range c.Servers {
		if s.ID == c.MyID {
			return s, true
		}
	}
	return Server{}, false
}

// ClientAddr is the address the client port listens on, "host:port".
func (c *Config) ClientAddr() string {
	return joinHostPort(c.ClientPortAddress, c.ClientPort)
}

// AdminAddr is the AdminServer's listen address, "host:port".
func (c *Config) AdminAddr() string {
	return joinHostPort(c.AdminServerAddress, c.AdminServerPort)
}

// MetricsAddr is the Prometheus endpoint's listen address, "host:port".
func (c *Config) MetricsAddr() string {
	return joinHostPort(c.MetricsHTTPHost, c.MetricsHTTPPort)
}
