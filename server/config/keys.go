package config

import (
	"fmt"
	"github.com/zkgo/zkgo/server/acl"
	"strconv"
	"strings"
	"time"
)

// Error is one configuration problem: "zoo.cfg:7: initLimit: must be > 0".
// Line is 0 when the problem is not on one line (a missing key).
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString(e.File)
	if e.Line > 0 {
		sb.WriteString(":" + strconv.Itoa(e.Line))
	}
	sb.WriteString(": ")
	if e.Key != "" {
		k := e.Key
		if strings.ContainsFunc(k, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			// A key with an escaped newline (\n) would split the
			// one-line-per-problem message.
			k = strconv.Quote(k)
		}
		sb.WriteString(k + ": ")
	}
	sb.WriteString(e.Msg)
	return sb.String()
}

// setter applies one value; an error is the message after "key: ".
type setter func(c *Config, v string) error

// keyTable maps every zoo.cfg key zkgo understands to its setter. Keys
// Apache reads as "zookeeper.<key>" system properties are listed without
// the prefix; lookup strips it.
var keyTable = map[string]setter{
	// QuorumPeerConfig.parseProperties
	"dataDir":                       str(func(c *Config) *string { return &c.DataDir }),
	"dataLogDir":                    str(func(c *Config) *string { return &c.DataLogDir }),
	"clientPort":                    port(func(c *Config) *int { return &c.ClientPort }, false),
	"clientPortAddress":             str(func(c *Config) *string { return &c.ClientPortAddress }),
	"secureClientPort":              port(func(c *Config) *int { return &c.SecureClientPort }, false),
	"secureClientPortAddress":       str(func(c *Config) *string { return &c.SecureClientPortAddress }),
	"observerMasterPort":            port(func(c *Config) *int { return &c.ObserverMasterPort }, false),
	"clientPortListenBacklog":       integer(func(c *Config) *int { return &c.ClientPortListenBacklog }, -1<<31),
	"tickTime":                      millis(func(c *Config) *time.Duration { return &c.TickTime }, 1),
	"maxClientCnxns":                integer(func(c *Config) *int { return &c.MaxClientCnxns }, 0),
	"minSessionTimeout":             millis(func(c *Config) *time.Duration { return &c.MinSessionTimeout }, 1),
	"maxSessionTimeout":             millis(func(c *Config) *time.Duration { return &c.MaxSessionTimeout }, 1),
	"initLimit":                     integer(func(c *Config) *int { return &c.InitLimit }, 1),
	"syncLimit":                     integer(func(c *Config) *int { return &c.SyncLimit }, 1),
	"connectToLearnerMasterLimit":   integer(func(c *Config) *int { return &c.ConnectToLearnerMasterLimit }, 1),
	"electionAlg":                   setElectionAlg,
	"quorumListenOnAllIPs":          boolean(func(c *Config) *bool { return &c.QuorumListenOnAllIPs }),
	"peerType":                      setPeerType,
	"syncEnabled":                   boolean(func(c *Config) *bool { return &c.SyncEnabled }),
	"dynamicConfigFile":             str(func(c *Config) *string { return &c.DynamicConfigFile }),
	"autopurge.snapRetainCount":     integer(func(c *Config) *int { return &c.AutopurgeSnapRetainCount }, -1<<31),
	"autopurge.purgeInterval":       integer(func(c *Config) *int { return &c.AutopurgePurgeInterval }, -1<<31),
	"standaloneEnabled":             boolean(func(c *Config) *bool { return &c.StandaloneEnabled }),
	"reconfigEnabled":               boolean(func(c *Config) *bool { return &c.ReconfigEnabled }),
	"localSessionsEnabled":          boolean(func(c *Config) *bool { return &c.LocalSessionsEnabled }),
	"localSessionsUpgradingEnabled": boolean(func(c *Config) *bool { return &c.LocalSessionsUpgradingEnabled }),
	"multiAddress.enabled":          boolean(func(c *Config) *bool { return &c.MultiAddressEnabled }),
	"metricsProvider.className":     setMetricsClass,
	"metricsProvider.httpHost":      str(func(c *Config) *string { return &c.MetricsHTTPHost }),
	"metricsProvider.httpPort":      metricsPort,

	// System properties ("zookeeper.<key>"), settable from zoo.cfg.
	"snapCount":                                integer(func(c *Config) *int { return &c.SnapCount }, 2),
	"snapSizeLimitInKb":                        int64Key(func(c *Config) *int64 { return &c.SnapSizeLimitInKb }),
	"txnLogSizeLimitInKb":                      int64Key(func(c *Config) *int64 { return &c.TxnLogSizeLimitInKb }),
	"preAllocSize":                             int64Key(func(c *Config) *int64 { return &c.PreAllocSizeKb }),
	"commitLogCount":                           integer(func(c *Config) *int { return &c.CommitLogCount }, 1),
	"globalOutstandingLimit":                   integer(func(c *Config) *int { return &c.GlobalOutstandingLimit }, 1),
	"forceSync":                                yesNo(func(c *Config) *bool { return &c.ForceSync }),
	"fsync.warningthresholdms":                 millis(func(c *Config) *time.Duration { return &c.FsyncWarningThreshold }, 0),
	"skipACL":                                  yesNo(func(c *Config) *bool { return &c.SkipACL }),
	"maxCnxns":                                 integer(func(c *Config) *int { return &c.MaxCnxns }, 0),
	"nio.numSelectorThreads":                   integer(func(c *Config) *int { return &c.ClientEventLoops }, 0),
	"leaderServes":                             yesNo(func(c *Config) *bool { return &c.LeaderServes }),
	"cnxTimeout":                               millis(func(c *Config) *time.Duration { return &c.CnxTimeout }, 1),
	"electionPortBindRetry":                    integer(func(c *Config) *int { return &c.ElectionPortBindRetry }, 0),
	"maxResponseCacheSize":                     integer(func(c *Config) *int { return &c.MaxResponseCacheSize }, 0),
	"maxGetChildrenResponseCacheSize":          integer(func(c *Config) *int { return &c.MaxGetChildrenCache }, 0),
	"enforceQuota":                             boolean(func(c *Config) *bool { return &c.EnforceQuota }),
	"digest.enabled":                           boolean(func(c *Config) *bool { return &c.DigestEnabled }),
	"snapshot.compression.method":              setCompression,
	"4lw.commands.whitelist":                   setWhitelist,
	"admin.enableServer":                       boolean(func(c *Config) *bool { return &c.AdminEnableServer }),
	"admin.serverAddress":                      str(func(c *Config) *string { return &c.AdminServerAddress }),
	"admin.serverPort":                         port(func(c *Config) *int { return &c.AdminServerPort }, true),
	"admin.idleTimeout":                        millis(func(c *Config) *time.Duration { return &c.AdminIdleTimeout }, 1),
	"admin.commandURL":                         setCommandURL,
	"jute.maxbuffer":                           integer(func(c *Config) *int { return &c.JuteMaxBuffer }, 1),
	"extendedTypesEnabled":                     boolean(func(c *Config) *bool { return &c.ExtendedTypesEnabled }),
	"znode.container.checkIntervalMs":          millis(func(c *Config) *time.Duration { return &c.ContainerCheckInterval }, 1),
	"znode.container.maxPerMinute":             integer(func(c *Config) *int { return &c.ContainerMaxPerMinute }, 1),
	"DigestAuthenticationProvider.superDigest": setSuperDigest,
	"fastleader.minNotificationInterval":       millis(func(c *Config) *time.Duration { return &c.MinNotificationInterval }, 1),
	"fastleader.maxNotificationInterval":       millis(func(c *Config) *time.Duration { return &c.MaxNotificationInterval }, 1),
	"DigestAuthenticationProvider.digestAlg": func(c *Config, v string) error {
		a, err := acl.ParseDigestAlgorithm(v)
		c.DigestAlg = a
		return err
	},
	"DigestAuthenticationProvider.enabled": func(c *Config, v string) error {
		var on bool
		if err := boolean(func(*Config) *bool { return &on })(c, v); err != nil {
			return err
		}
		c.DigestAuthDisabled = !on
		return nil
	},
	"readonlymode.enabled":      boolean(func(c *Config) *bool { return &c.ReadOnlyModeEnabled }),
	"pprof.enabled":             boolean(func(c *Config) *bool { return &c.PprofEnabled }),
	"autopurge.purgeIntervalMs": millis(func(c *Config) *time.Duration { return &c.AutopurgePurgeIntervalMs }, 1),
	"log.dir":                   str(func(c *Config) *string { return &c.LogDir }),
	"audit.enable":              boolean(func(c *Config) *bool { return &c.AuditEnable }),
	"audit.impl.class": func(c *Config, v string) error {
		if strings.TrimSpace(v) != "org.apache.zookeeper.audit.Slf4jAuditLogger" {
			return warning(fmt.Sprintf("%q ignored: zkgo writes the audit log itself (Slf4jAuditLogger's lines)", strings.TrimSpace(v)))
		}
		return nil
	},
}

// ignoredKeys are Apache keys zkgo accepts but does not implement (TLS,
// quorum SASL, Jetty options, JVM tuning…). They go to Extra with a warning.
var ignoredKeys = map[string]string{
	"serverCnxnFactory":                       "zkgo has its own connection handling",
	"quorum.auth.kerberos.servicePrincipal":   "Kerberos only: zkgo's members log in with DIGEST-MD5",
	"quorum.cnxn.threads.size":                "not used by zkgo",
	"jvm.pause.info-threshold.ms":             "no JVM",
	"jvm.pause.warn-threshold.ms":             "no JVM",
	"jvm.pause.sleep.time.ms":                 "no JVM",
	"jvm.pause.monitor":                       "no JVM",
	"multiAddress.reachabilityCheckTimeoutMs": "not used by zkgo",
	"multiAddress.reachabilityCheckEnabled":   "not used by zkgo",
	"oraclePath":                              "not supported",
	"admin.portUnification":                   "the AdminServer has no TLS",
	"admin.forceHttps":                        "the AdminServer has no TLS",
	"admin.needClientAuth":                    "the AdminServer has no TLS",
	"metricsProvider.exportJvmInfo":           "no JVM",
	"metricsProvider.numWorkerThreads":        "not used by zkgo",
	"metricsProvider.maxQueueSize":            "not used by zkgo",
	"metricsProvider.workerShutdownTimeoutMs": "not used by zkgo",
	"connection_throttle_tokens":              "not used by zkgo",
	"request.throttler.shutdownTimeout":       "not used by zkgo",
	"learner.closeSocketAsync":                "not used by zkgo",
	"leader.closeSocketAsync":                 "not used by zkgo",
	"flushDelay":                              "not used by zkgo",
	"maxWriteQueuePollTime":                   "not used by zkgo",
	"maxBatchSize":                            "not used by zkgo",
	"watchManagerName":                        "not used by zkgo",
	"zookeeper.sasl.client":                   "a client setting",
	"kerberos.removeHostFromPrincipal":        "Kerberos is not supported",
	"kerberos.removeRealmFromPrincipal":       "Kerberos is not supported",
	"kerberos.canonicalizeHostNames":          "Kerberos is not supported",
	"letAnySaslUserDoX":                       "not supported",
	"nio.numWorkerThreads":                    "the event loops handle the requests they read (nio.numSelectorThreads)",
	"nio.directBufferBytes":                   "no NIO",
	"nio.shutdownTimeout":                     "no NIO",
	"netty.server.outstandingHandshake.limit": "no Netty",
	"commitProcessor.maxReadBatchSize":        "not used by zkgo",
	"commitProcessor.maxCommitBatchSize":      "not used by zkgo",
	"commitProcessor.numWorkerThreads":        "not used by zkgo",
	"snapshot.trust.empty":                    "zkgo's log records whether it holds the whole history: without a snapshot it is replayed when it does, and the start is refused when it does not",
	"admin.rateLimiterIntervalInMS":           "3.9 key, not in 3.8",
	"admin.snapshot.enabled":                  "3.9 key, not in 3.8",
	"admin.restore.enabled":                   "3.9 key, not in 3.8",
}

// lookupKey returns the canonical name and setter of a zoo.cfg key, with
// or without the "zookeeper." prefix.
func lookupKey(key string) (string, setter, bool) {
	if s, ok := keyTable[key]; ok {
		return key, s, true
	}
	if s, ok := prefixKey(key); ok {
		return key, s, true
	}
	if k, ok := strings.CutPrefix(key, "zookeeper."); ok && !quorumPeerConfigKeys[k] {
		if s, ok := keyTable[k]; ok {
			return k, s, true
		}
		if s, ok := prefixKey(k); ok {
			return k, s, true
		}
	}
	return "", nil, false
}

// quorumPeerConfigKeys are read by QuorumPeerConfig itself, never as
// "zookeeper.<key>" system properties, so the prefix does not apply.
var quorumPeerConfigKeys = map[string]bool{
	"dataDir": true, "dataLogDir": true, "clientPort": true, "clientPortAddress": true,
	"secureClientPort": true, "secureClientPortAddress": true, "observerMasterPort": true,
	"clientPortListenBacklog": true, "tickTime": true, "maxClientCnxns": true,
	"minSessionTimeout": true, "maxSessionTimeout": true, "initLimit": true, "syncLimit": true,
	"connectToLearnerMasterLimit": true, "electionAlg": true, "quorumListenOnAllIPs": true,
	"peerType": true, "syncEnabled": true, "dynamicConfigFile": true,
	"autopurge.snapRetainCount": true, "autopurge.purgeInterval": true, "standaloneEnabled": true,
	"reconfigEnabled": true, "localSessionsEnabled": true, "localSessionsUpgradingEnabled": true,
	"multiAddress.enabled": true, "metricsProvider.className": true,
	"metricsProvider.httpHost": true, "metricsProvider.httpPort": true,
}

func ignoredReason(key string) (string, bool) {
	if r, ok := ignoredKeys[key]; ok {
		return r, true
	}
	k := strings.TrimPrefix(key, "zookeeper.")
	if r, ok := ignoredKeys[k]; ok {
		return r, true
	}
	if strings.HasPrefix(k, "ssl.quorum.") {
		return "not used by zkgo", true
	}
	return "", false
}

func str(f func(*Config) *string) setter {
	return func(c *Config, v string) error {
		*f(c) = v
		return nil
	}
}

func parseInt(v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%q is out of range", v)
		}
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	return n, nil
}

func integer(f func(*Config) *int, min int) setter {
	return func(c *Config, v string) error {
		n, err := parseInt(v, 32) // Apache: Integer.parseInt
		if err != nil {
			return err
		}
		if int(n) < min {
			if min == 1 {
				return fmt.Errorf("must be > 0, got %d", n)
			}
			return fmt.Errorf("must be >= %d, got %d", min, n)
		}
		*f(c) = int(n)
		return nil
	}
}

func int64Key(f func(*Config) *int64) setter {
	return func(c *Config, v string) error {
		n, err := parseInt(v, 64)
		if err != nil {
			return err
		}
		*f(c) = n
		return nil
	}
}

func millis(f func(*Config) *time.Duration, min int64) setter {
	return func(c *Config, v string) error {
		n, err := parseInt(v, 32)
		if err != nil {
			return err
		}
		if n < min {
			if min == 1 {
				return fmt.Errorf("must be > 0, got %d", n)
			}
			return fmt.Errorf("must be >= %d, got %d", min, n)
		}
		*f(c) = time.Duration(n) * time.Millisecond
		return nil
	}
}

// port accepts 1..65535; 0 too when zeroOK (0 = pick a free port).
func port(f func(*Config) *int, zeroOK bool) setter {
	return func(c *Config, v string) error {
		n, err := parseInt(v, 32)
		if err != nil {
			return err
		}
		if n < 0 || n > 65535 || (n == 0 && !zeroOK) {
			return fmt.Errorf("port %d out of range 1-65535", n)
		}
		*f(c) = int(n)
		return nil
	}
}

// boolean parses like QuorumPeerConfig.parseBoolean: true or false, any
// case.
func boolean(f func(*Config) *bool) setter {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "true":
			*f(c) = true
		case "false":
			*f(c) = false
		default:
			return fmt.Errorf("invalid option %q: choose 'true' or 'false'", v)
		}
		return nil
	}
}

// yesNo parses forceSync / skipACL / leaderServes, which Apache reads as
// "yes"/"no" (and we also take true/false).
func yesNo(f func(*Config) *bool) setter {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "yes", "true":
			*f(c) = true
		case "no", "false":
			*f(c) = false
		default:
			return fmt.Errorf("invalid option %q: choose 'yes' or 'no'", v)
		}
		return nil
	}
}

func setElectionAlg(c *Config, v string) error {
	n, err := parseInt(v, 32)
	if err != nil {
		return err
	}
	if n != 3 {
		return fmt.Errorf("invalid value %d: only 3 is supported", n)
	}
	c.ElectionAlg = 3
	return nil
}

func setPeerType(c *Config, v string) error {
	switch strings.ToLower(v) {
	case "observer", "participant":
		c.PeerType = strings.ToLower(v)
		return nil
	}
	return fmt.Errorf("unrecognised peer type %q: participant or observer", v)
}

// metricsPort sets metricsProvider.httpPort; naming the port asks for the
// Prometheus endpoint on it, as setting the Prometheus provider class does.
func metricsPort(c *Config, v string) error {
	if err := port(func(c *Config) *int { return &c.MetricsHTTPPort }, true)(c, v); err != nil {
		return err
	}
	if c.MetricsProviderClassName == "" || strings.HasSuffix(c.MetricsProviderClassName, "PrometheusMetricsProvider") {
		c.MetricsEnabled = true
	}
	return nil
}

func setMetricsClass(c *Config, v string) error {
	c.MetricsProviderClassName = v
	switch {
	case strings.HasSuffix(v, "PrometheusMetricsProvider"):
		c.MetricsEnabled = true
	case v == "", strings.HasSuffix(v, "DefaultMetricsProvider"), strings.HasSuffix(v, "NullMetricsProvider"), strings.EqualFold(v, "none"):
		// "No metrics provider": mntr/AdminServer only, no /metrics port.
		c.MetricsEnabled = false
	default:
		return fmt.Errorf("unknown metrics provider %q: zkgo has PrometheusMetricsProvider or none", v)
	}
	return nil
}

func setCompression(c *Config, v string) error {
	switch strings.ToLower(v) {
	case "", "none", "checked":
		c.SnapshotCompression = ""
	case "gz", "snappy":
		c.SnapshotCompression = strings.ToLower(v)
	default:
		return fmt.Errorf("unknown method %q: gz, snappy or none", v)
	}
	return nil
}

func setCommandURL(c *Config, v string) error {
	if !strings.HasPrefix(v, "/") {
		return fmt.Errorf("%q must start with /", v)
	}
	c.AdminCommandURL = strings.TrimRight(v, "/")
	if c.AdminCommandURL == "" {
		return fmt.Errorf("%q must not be /", v)
	}
	return nil
}

func setSuperDigest(c *Config, v string) error {
	user, digest, ok := strings.Cut(v, ":")
	if !ok || user == "" || digest == "" {
		return fmt.Errorf("%q is not user:base64digest", v)
	}
	c.SuperDigest = v
	return nil
}

// setWhitelist follows FourLetterCommands.isEnabled: comma-separated,
// trimmed, "*" = every known word; srvr is always added (finish).
func setWhitelist(c *Config, v string) error {
	m := map[string]bool{}
	var unknown []string
	for _, w := range strings.Split(v, ",") {
		w = strings.TrimSpace(w)
		switch {
		case w == "":
		case w == "*":
			for _, k := range FourLetterWords {
				m[k] = true
			}
			// Apache's "*" enables every entry of cmd2String, including
			// the telnet close sequence (which then runs no command).
			m["telnet close"] = true
		default:
			m[w] = true
			if !isKnownWord(w) {
				unknown = append(unknown, w)
			}
		}
	}
	c.FourLetterWhitelist = m
	if len(unknown) > 0 {
		return warning(fmt.Sprintf("unknown four-letter words %s (ignored)", strings.Join(unknown, ", ")))
	}
	return nil
}

func isKnownWord(w string) bool {
	for _, k := range FourLetterWords {
		if k == w {
			return true
		}
	}
	return false
}

// warning is a setter result that is reported as a warning, the value
// having been applied.
type warning string

func (w warning) Error() string { return string(w) }
