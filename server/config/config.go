// Package config parses zoo.cfg and myid into a Config, fills Apache
// ZooKeeper 3.8 defaults and validates. Nothing else in zkgo reads
// configuration files or environment variables.
package config

import "time"

// Config is everything zkserver reads from zoo.cfg (and myid).
type Config struct {
	// Path of the zoo.cfg this came from ("" for the embedded default).
	Path string

	TickTime                 time.Duration // tickTime, default 3000 ms (Apache's code default)
	DataDir                  string        // dataDir
	DataLogDir               string        // dataLogDir, defaults to DataDir
	ClientPort               int           // clientPort
	ClientPortAddress        string        // clientPortAddress, "" = all addresses
	MaxClientCnxns           int           // maxClientCnxns per IP, default 60, 0 = unlimited
	MinSessionTimeout        time.Duration // default 2 × tickTime
	MaxSessionTimeout        time.Duration // default 20 × tickTime
	SnapCount                int           // snapCount, default 100000
	AutopurgeSnapRetainCount int           // autopurge.snapRetainCount, default 3 (min 3)
	AutopurgePurgeInterval   int           // autopurge.purgeInterval in hours, default 0 (off)
	ForceSync                bool          // forceSync, default true
	JuteMaxBuffer            int           // jute.maxbuffer, default 0xfffff

	FourLetterWhitelist map[string]bool // 4lw.commands.whitelist; srvr always in; "*" expands to all

	ExtendedTypesEnabled   bool          // extendedTypesEnabled (TTL nodes), default true in zkgo
	ContainerCheckInterval time.Duration // znode.container.checkIntervalMs, default 60 s
	ContainerMaxPerMinute  int           // znode.container.maxPerMinute, default 10000
	SuperDigest            string        // DigestAuthenticationProvider.superDigest ("user:base64sha1"), or $ZK_SUPER_DIGEST
	SkipACL                bool          // skipACL=yes

	AdminEnableServer  bool   // admin.enableServer, default true
	AdminServerAddress string // admin.serverAddress, default 0.0.0.0
	AdminServerPort    int    // admin.serverPort, default 8080
	MetricsHTTPHost    string // metricsProvider.httpHost, default 0.0.0.0
	MetricsHTTPPort    int    // metricsProvider.httpPort, default 7000; metrics on only when MetricsEnabled
	MetricsEnabled     bool   // true when metricsProvider.className names Prometheus or metricsProvider.httpPort is set
	PprofEnabled       bool   // pprof.enabled: serve /debug/pprof on the admin port

	LogDir string // zookeeper.log.dir: log file directory, "" = stderr

	// Ensemble keys.
	MyID                  int64
	InitLimit             int    // ticks
	SyncLimit             int    // ticks
	PeerType              string // "participant" or "observer"
	Servers               []Server
	DynamicConfigFile     string
	ReconfigEnabled       bool
	ReadOnlyModeEnabled   bool // readonlymode.enabled
	ElectionPortBindRetry int

	// Unknown keys, kept so they can be reported and shown by conf.
	Extra map[string]string
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
