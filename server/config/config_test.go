package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSample(t *testing.T) {
	t.Setenv("ZK_SUPER_DIGEST", "")
	c, err := Parse("testdata/sample.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// Apache 3.8 with conf/zoo_sample.cfg: conf prints tickTime=2000,
	// maxClientCnxns=60, minSessionTimeout=4000, maxSessionTimeout=40000.
	checks := []struct {
		name      string
		got, want any
	}{
		{"TickTime", c.TickTime, 2 * time.Second},
		{"DataDir", c.DataDir, "/tmp/zookeeper"},
		{"DataLogDir", c.DataLogDir, "/tmp/zookeeper"},
		{"ClientPort", c.ClientPort, 2181},
		{"ClientPortAddress", c.ClientPortAddress, ""},
		{"MaxClientCnxns", c.MaxClientCnxns, 60},
		{"MinSessionTimeout", c.MinSessionTimeout, 4 * time.Second},
		{"MaxSessionTimeout", c.MaxSessionTimeout, 40 * time.Second},
		{"SnapCount", c.SnapCount, 100000},
		{"AutopurgeSnapRetainCount", c.AutopurgeSnapRetainCount, 3},
		{"AutopurgePurgeInterval", c.AutopurgePurgeInterval, 0},
		{"ForceSync", c.ForceSync, true},
		{"JuteMaxBuffer", c.JuteMaxBuffer, 0xfffff},
		{"FourLetterWhitelist", c.FourLetterWhitelist, map[string]bool{"srvr": true}},
		{"ContainerCheckInterval", c.ContainerCheckInterval, time.Minute},
		{"ContainerMaxPerMinute", c.ContainerMaxPerMinute, 10000},
		{"AdminEnableServer", c.AdminEnableServer, true},
		{"AdminServerAddress", c.AdminServerAddress, "0.0.0.0"},
		{"AdminServerPort", c.AdminServerPort, 8080},
		{"AdminCommandURL", c.AdminCommandURL, "/commands"},
		{"AdminIdleTimeout", c.AdminIdleTimeout, 30 * time.Second},
		{"MetricsHTTPPort", c.MetricsHTTPPort, 7000},
		{"InitLimit", c.InitLimit, 10},
		{"SyncLimit", c.SyncLimit, 5},
		{"ConnectToLearnerMasterLimit", c.ConnectToLearnerMasterLimit, 10},
		{"PeerType", c.PeerType, "participant"},
		{"ElectionAlg", c.ElectionAlg, 3},
		{"StandaloneEnabled", c.StandaloneEnabled, true},
		{"ReconfigEnabled", c.ReconfigEnabled, false},
		{"SkipACL", c.SkipACL, false},
		{"ClientPortListenBacklog", c.ClientPortListenBacklog, -1},
		{"ClientEventLoops", c.ClientEventLoops, -1},
		{"SnapSizeLimitInKb", c.SnapSizeLimitInKb, int64(4194304)},
		{"PreAllocSizeKb", c.PreAllocSizeKb, int64(65536)},
		{"CommitLogCount", c.CommitLogCount, 500},
		{"GlobalOutstandingLimit", c.GlobalOutstandingLimit, 1000},
		{"FsyncWarningThreshold", c.FsyncWarningThreshold, time.Second},
		{"DigestEnabled", c.DigestEnabled, true},
		{"MaxResponseCacheSize", c.MaxResponseCacheSize, 400},
		{"CnxTimeout", c.CnxTimeout, 5 * time.Second},
		{"MyID", c.MyID, int64(0)},
		{"Distributed", c.Distributed(), false},
		{"Warnings", len(c.Warnings), 0},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseFull(t *testing.T) {
	c, err := Parse("testdata/full.cfg")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"TickTime", c.TickTime, time.Second},
		{"DataDir (key: value)", c.DataDir, "/var/lib/zk"},
		{"DataLogDir (key value)", c.DataLogDir, "/var/lib/zk-log"},
		{"ClientPort", c.ClientPort, 2182},
		{"ClientPortAddress", c.ClientPortAddress, "127.0.0.1"},
		{"ClientAddr", c.ClientAddr(), "127.0.0.1:2182"},
		{"MaxClientCnxns", c.MaxClientCnxns, 0},
		{"MaxCnxns", c.MaxCnxns, 500},
		{"ClientEventLoops (zookeeper.nio.numSelectorThreads)", c.ClientEventLoops, 3},
		{"MinSessionTimeout", c.MinSessionTimeout, 3 * time.Second},
		{"MaxSessionTimeout", c.MaxSessionTimeout, time.Minute},
		{"SnapCount", c.SnapCount, 5000},
		{"SnapSizeLimitInKb", c.SnapSizeLimitInKb, int64(1024)},
		{"TxnLogSizeLimitInKb", c.TxnLogSizeLimitInKb, int64(2048)},
		{"PreAllocSizeKb", c.PreAllocSizeKb, int64(1024)},
		{"CommitLogCount", c.CommitLogCount, 100},
		{"GlobalOutstandingLimit", c.GlobalOutstandingLimit, 2000},
		{"AutopurgeSnapRetainCount", c.AutopurgeSnapRetainCount, 5},
		{"AutopurgePurgeInterval", c.AutopurgePurgeInterval, 1},
		{"ForceSync", c.ForceSync, false},
		{"FsyncWarningThreshold", c.FsyncWarningThreshold, 50 * time.Millisecond},
		{"SkipACL", c.SkipACL, true},
		// srvr always; isro because readonlymode.enabled=true.
		{"FourLetterWhitelist", c.FourLetterWhitelist, map[string]bool{"stat": true, "ruok": true, "conf": true, "mntr": true, "srvr": true, "isro": true}},
		{"JuteMaxBuffer (zookeeper. prefix)", c.JuteMaxBuffer, 4194304},
		{"ExtendedTypesEnabled", c.ExtendedTypesEnabled, false},
		{"ContainerCheckInterval", c.ContainerCheckInterval, time.Second},
		{"ContainerMaxPerMinute", c.ContainerMaxPerMinute, 50},
		{"SuperDigest", c.SuperDigest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU="},
		{"AdminEnableServer", c.AdminEnableServer, false},
		{"AdminServerAddress", c.AdminServerAddress, "127.0.0.2"},
		{"AdminServerPort", c.AdminServerPort, 9090},
		{"AdminAddr", c.AdminAddr(), "127.0.0.2:9090"},
		{"AdminIdleTimeout", c.AdminIdleTimeout, time.Second},
		{"AdminCommandURL", c.AdminCommandURL, "/cmds"},
		{"MetricsEnabled", c.MetricsEnabled, true},
		{"MetricsAddr", c.MetricsAddr(), "127.0.0.1:7001"},
		{"PprofEnabled", c.PprofEnabled, true},
		{"LogDir", c.LogDir, "/var/log/zk"},
		{"ReadOnlyModeEnabled", c.ReadOnlyModeEnabled, true},
		{"EnforceQuota", c.EnforceQuota, true},
		{"DigestEnabled", c.DigestEnabled, false},
		{"SnapshotCompression", c.SnapshotCompression, "gz"},
		{"MaxResponseCacheSize", c.MaxResponseCacheSize, 10},
		{"MaxGetChildrenCache", c.MaxGetChildrenCache, 20},
		{"LeaderServes", c.LeaderServes, false},
		{"CnxTimeout", c.CnxTimeout, 1500 * time.Millisecond},
		{"ReconfigEnabled", c.ReconfigEnabled, true},
		{"ClientPortListenBacklog", c.ClientPortListenBacklog, 100},
		{"Extra", c.Extra, map[string]string{
			"someFutureKey":                 "42",
			"metricsProvider.exportJvmInfo": "true",
		}},
		// A continuation line joined, the next line's leading blanks dropped.
		{"DigestAlg", c.DigestAlg.Name, "SHA-256"},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	wantWarn := []string{
		"testdata/full.cfg:36: metricsProvider.exportJvmInfo: ignored",
		"testdata/full.cfg:50: someFutureKey: unknown key, ignored",
	}
	if len(c.Warnings) != len(wantWarn) {
		t.Fatalf("warnings = %q, want %d", c.Warnings, len(wantWarn))
	}
	for i, w := range wantWarn {
		if !strings.HasPrefix(c.Warnings[i], w) {
			t.Errorf("warning %d = %q, want prefix %q", i, c.Warnings[i], w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // every line of the error, in order
	}{
		{
			name: "one error per bad line, then missing keys",
			file: "testdata/errors.cfg",
			want: []string{
				`testdata/errors.cfg:1: tickTime: "abc" is not an integer`,
				`testdata/errors.cfg:2: initLimit: must be > 0, got 0`,
				`testdata/errors.cfg:3: syncLimit: must be > 0, got -1`,
				`testdata/errors.cfg:4: clientPort: port 70000 out of range 1-65535`,
				`testdata/errors.cfg:5: minSessionTimeout: "x" is not an integer`,
				`testdata/errors.cfg:6: maxClientCnxns: must be >= 0, got -5`,
				`testdata/errors.cfg:7: forceSync: invalid option "maybe": choose 'yes' or 'no'`,
				`testdata/errors.cfg:8: admin.enableServer: invalid option "yes": choose 'true' or 'false'`,
				`testdata/errors.cfg:9: electionAlg: invalid value 1: only 3 is supported`,
				`testdata/errors.cfg:10: peerType: unrecognised peer type "witness": participant or observer`,
				`testdata/errors.cfg:11: server.1: "host1:2888" does not have the form host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]`,
				`testdata/errors.cfg:12: server.x: server id "x" is not a non-negative integer`,
				`testdata/errors.cfg:13: server.3: quorum port and election port must be different (both 2888)`,
				`testdata/errors.cfg:14: server.4: unrecognised peer type "voter": participant or observer`,
				`testdata/errors.cfg:15: server.5: "host5:2888:3888;a:b:c" does not have the form host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]`,
				`testdata/errors.cfg:16: jute.maxbuffer: must be > 0, got 0`,
				`testdata/errors.cfg: dataDir: is not set`,
				`testdata/errors.cfg: clientPort: is not set (nor a client port in server.<myid>)`,
			},
		},
		{
			name: "min session timeout above max",
			file: "testdata/minmax.cfg",
			want: []string{`testdata/minmax.cfg:4: minSessionTimeout: minSessionTimeout must not be larger than maxSessionTimeout (30000 > 20000)`},
		},
		{
			name: "ensemble without myid",
			file: "testdata/nomyid/zoo.cfg",
			want: []string{`testdata/nomyid/data/myid: myid: file is missing (required with server.N lines)`},
		},
		{
			name: "myid not in the server list",
			file: "testdata/badmyid/zoo.cfg",
			want: []string{`testdata/badmyid/data/myid:1: myid: 7 is not one of the server.N ids [1 2]`},
		},
		{
			// QuorumPeerConfig.setupClientPort: a static clientPort that
			// differs from server.<myid>'s client port is an error.
			name: "static and server.N client address differ",
			file: "testdata/clientconflict/zoo.cfg",
			want: []string{`testdata/clientconflict/zoo.cfg:5: clientPort: client address :2181 in the static config differs from server.1's client address 127.0.0.1:2191`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseBytesCases(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\n"
	tests := []struct {
		name    string
		cfg     string
		wantErr string // substring; "" = no error
		check   func(t *testing.T, c *Config)
	}{
		{name: "zookeeper. prefix on a sysprop key", cfg: base + "zookeeper.skipACL=yes\n",
			check: func(t *testing.T, c *Config) { want(t, c.SkipACL, true) }},
		{name: "zookeeper. prefix does not apply to QuorumPeerConfig keys", cfg: base + "zookeeper.tickTime=5\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.TickTime, DefaultTickTime)
				want(t, c.Extra["zookeeper.tickTime"], "5")
			}},
		{name: "4lw star", cfg: base + "4lw.commands.whitelist=*\n",
			check: func(t *testing.T, c *Config) {
				want(t, len(c.FourLetterWhitelist), len(FourLetterWords)+1)
				want(t, c.FourLetterWhitelist["telnet close"], true)
			}},
		{name: "4lw unknown word warns", cfg: base + "4lw.commands.whitelist=stat,blah\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.FourLetterWhitelist["stat"] && c.FourLetterWhitelist["srvr"], true)
				want(t, len(c.Warnings), 1)
			}},
		{name: "snapRetainCount below 3 is raised with a warning", cfg: base + "autopurge.snapRetainCount=1\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.AutopurgeSnapRetainCount, 3)
				want(t, len(c.Warnings), 1)
			}},
		{name: "session timeouts follow tickTime", cfg: base + "tickTime=500\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.MinSessionTimeout, time.Second)
				want(t, c.MaxSessionTimeout, 10*time.Second)
			}},
		{name: "clientPortAddress without clientPort", cfg: "dataDir=/d\nclientPortAddress=127.0.0.1\n",
			wantErr: "x.cfg:2: clientPortAddress: is set but clientPort is not set"},
		{name: "bad clientPortAddress", cfg: base + "clientPortAddress=not a host\n",
			wantErr: `x.cfg:3: clientPortAddress: "not a host" is not a valid host name`},
		{name: "server lines with dynamicConfigFile", cfg: base + "dynamicConfigFile=/x\nserver.1=a:1:2\n",
			wantErr: "x.cfg:4: server.1: must be in the separate dynamic config file"},
		{name: "duplicate server id", cfg: base + "initLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.1=b:1:2\nserver.2=c:1:2\n",
			wantErr: "x.cfg:6: server.1: server 1 is already defined on line 5"},
		{name: "ensemble needs initLimit and syncLimit", cfg: base + "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n",
			wantErr: "x.cfg: initLimit: is not set (required with server.N lines)\nx.cfg: syncLimit: is not set (required with server.N lines)"},
		{name: "observers without participants", cfg: base + "server.1=a:1:2:observer\n",
			wantErr: "x.cfg: server: observers without participants is an invalid configuration"},
		{name: "one participant runs standalone", cfg: base + "server.1=a:1:2\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.Distributed(), false)
				want(t, len(c.Warnings), 1)
			}},
		{name: "standaloneEnabled=false with one server is distributed", cfg: base + "initLimit=5\nsyncLimit=2\nstandaloneEnabled=false\nserver.1=a:1:2\n",
			check: func(t *testing.T, c *Config) { want(t, c.Distributed(), true) }},
		{name: "ipv6 server and client address", cfg: base + "initLimit=5\nsyncLimit=2\nserver.1=[::1]:2888:3888;[::1]:2181\nserver.2=b:1:2:participant\nserver.3=c:1:2:OBSERVER;2183\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.Servers[0], Server{ID: 1, Host: "::1", QuorumPort: 2888, ElectionPort: 3888, ClientAddress: "::1", ClientPort: 2181})
				want(t, c.Servers[2], Server{ID: 3, Host: "c", QuorumPort: 1, ElectionPort: 2, Observer: true, ClientPort: 2183})
			}},
		{name: "multi address without multiAddress.enabled", cfg: base + "server.1=a:1:2|b:1:2\n",
			wantErr: "multiAddress.enabled is false"},
		{name: "metrics provider off", cfg: base + "metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider\n",
			check: func(t *testing.T, c *Config) { want(t, c.MetricsEnabled, false) }},
		{name: "unknown metrics provider", cfg: base + "metricsProvider.className=com.example.Foo\n",
			wantErr: `x.cfg:3: metricsProvider.className: unknown metrics provider "com.example.Foo"`},
		{name: "admin port 0 for tests", cfg: base + "admin.serverPort=0\nmetricsProvider.httpPort=0\n",
			check: func(t *testing.T, c *Config) { want(t, c.AdminServerPort, 0); want(t, c.MetricsHTTPPort, 0) }},
		{name: "super digest", cfg: base + "DigestAuthenticationProvider.superDigest=nocolon\n",
			wantErr: `x.cfg:3: DigestAuthenticationProvider.superDigest: "nocolon" is not user:base64digest`},
		{name: "int overflow", cfg: base + "snapCount=99999999999\n",
			wantErr: `x.cfg:3: snapCount: "99999999999" is out of range`},
		{name: "version in static file", cfg: base + "version=100000000\n",
			check: func(t *testing.T, c *Config) { want(t, c.ConfigVersion, int64(0x100000000)) }},
		{name: "comments, blank and CRLF lines", cfg: "# c\r\n! c2\r\n\r\n   dataDir = /d  \r\nclientPort\t2181\r\n",
			check: func(t *testing.T, c *Config) { want(t, c.DataDir, "/d"); want(t, c.ClientPort, 2181) }},
		{name: "last duplicate wins with a warning", cfg: base + "clientPort=2182\n",
			check: func(t *testing.T, c *Config) {
				want(t, c.ClientPort, 2182)
				want(t, c.Warnings, []string{"x.cfg:3: clientPort: also set on line 2; the last value wins"})
			}},
		{name: "extended types limit the server id", cfg: base,
			check: func(t *testing.T, c *Config) { want(t, c.ExtendedTypesEnabled, true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseBytes("x.cfg", []byte(tc.cfg))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func want[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSuperDigestEnv(t *testing.T) {
	t.Setenv("ZK_SUPER_DIGEST", "super:abc=")
	c, err := ParseBytes("x.cfg", []byte("dataDir=/d\nclientPort=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.SuperDigest, "super:abc=")
	// zoo.cfg wins over the environment.
	c, err = ParseBytes("x.cfg", []byte("dataDir=/d\nclientPort=1\nDigestAuthenticationProvider.superDigest=a:b\n"))
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.SuperDigest, "a:b")
}

func TestParseEnsembleWithMyID(t *testing.T) {
	c, err := Parse("testdata/ensemble/zoo.cfg")
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.MyID, int64(3))
	want(t, c.Distributed(), true)
	want(t, len(c.Servers), 4)
	want(t, c.Servers[1], Server{ID: 2, Host: "zoo2", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2182})
	want(t, c.Servers[3].Observer, true)
	self, ok := c.Self()
	want(t, ok, true)
	want(t, self.Host, "::1")
	want(t, c.ClientPort, 2181) // server.3 has no client part: the static one stays
	want(t, c.PeerType, "participant")
}

func TestParseDynamicFile(t *testing.T) {
	c, err := Parse("testdata/dynamic/zoo.cfg")
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.MyID, int64(2))
	want(t, len(c.Servers), 3)
	want(t, c.ConfigVersion, int64(0x100000000))
	// no clientPort in zoo.cfg: it comes from server.2's ";127.0.0.1:2182"
	want(t, c.ClientAddr(), "127.0.0.1:2182")
	want(t, c.Distributed(), true)
}

func TestParseDynamicFileErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.5")
	writeFile(t, cfg, "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir="+dir+"\ndynamicConfigFile="+dyn+"\n")
	writeFile(t, dyn, "server.1=a:1:2;2181\nclientPort=2181\nversion=5\nserver.2=b:1:2;2182\n")
	writeFile(t, filepath.Join(dir, "myid"), "1\n")
	_, err := Parse(cfg)
	if err == nil {
		t.Fatal("no error")
	}
	wantLines := []string{
		dyn + ":2: clientPort: not allowed in a dynamic config file (only server.N, group.N, weight.N)",
		dyn + ":3: version: the dynamic file must not contain a version (it comes from the file name)",
	}
	want(t, strings.Split(err.Error(), "\n"), wantLines)

	writeFile(t, dyn, "server.1=a:1:2;2181\nserver.2=b:1:2;2182\n")
	c, err := Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.ConfigVersion, int64(5))
	want(t, c.ClientPort, 2181)

	os.Remove(dyn)
	if _, err := Parse(cfg); err == nil || !strings.Contains(err.Error(), "dynamicConfigFile: ") {
		t.Fatalf("missing dynamic file: err = %v", err)
	}
}

func TestParseMyIDErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	writeFile(t, cfg, "initLimit=5\nsyncLimit=2\ndataDir="+dir+"\nserver.255=a:1:2;2181\nserver.2=b:1:2;2182\n")
	writeFile(t, filepath.Join(dir, "myid"), "abc\n")
	_, err := Parse(cfg)
	want(t, err.Error(), filepath.Join(dir, "myid")+`:1: myid: "abc" is not a number`)

	writeFile(t, filepath.Join(dir, "myid"), "255\n")
	_, err = Parse(cfg)
	want(t, err.Error(), filepath.Join(dir, "myid")+":1: myid: extendedTypesEnabled is true but server id 255 is too large; it cannot be larger than 254")
}

func TestParseMissingFile(t *testing.T) {
	_, err := Parse(filepath.Join(t.TempDir(), "nope.cfg"))
	if err == nil || !strings.Contains(err.Error(), "read config: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	want(t, c.TickTime, 2*time.Second)
	want(t, c.ClientAddr(), "127.0.0.1:2181")
	want(t, c.AdminAddr(), "127.0.0.1:8080")
	want(t, c.AdminEnableServer, true)
	want(t, c.MetricsEnabled, false)
	want(t, c.MinSessionTimeout, 4*time.Second)
	want(t, c.MaxSessionTimeout, 40*time.Second)
	want(t, c.DataDir, DefaultDataDir())
	want(t, c.DataLogDir, c.DataDir)
	want(t, filepath.IsAbs(c.DataDir), true)
	want(t, c.FourLetterWhitelist["mntr"], true)
	// The default must pass the same validation as a file.
	_, err := ParseBytes("default", []byte("tickTime=2000\ndataDir="+c.DataDir+"\nclientPort=2181\nclientPortAddress=127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
}

func TestProperties(t *testing.T) {
	got := parseProperties([]byte("a=1\n  b : 2\nc 3\nd\\ e=4\nf=x\\\n   y\\\n z\ng=\\u0041\\t\n#h=5\n!i=6\nj=\nk==v\n"))
	wantProps := []property{
		{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}, {"d e", "4", 4}, {"f", "xyz", 5},
		{"g", "A", 8}, {"j", "", 11}, {"k", "=v", 12},
	}
	want(t, got, wantProps)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseBytes: the parser never panics, and every error line names the
// file.
func FuzzParseBytes(f *testing.F) {
	for _, name := range []string{"sample.cfg", "full.cfg", "errors.cfg", "minmax.cfg", "ensemble/zoo.cfg"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("server.1=[::1\nserver.2=[::1]:\nserver.3=[]:1:2\nkey=\\u12"))
	f.Add([]byte("a\\\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseBytes("f.cfg", b)
		if c == nil {
			t.Fatal("nil config")
		}
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(l, "f.cfg") {
					t.Fatalf("error line without the file name: %q", l)
				}
			}
		}
	})
}

// The fast leader election's notification intervals, Apache's
// zookeeper.fastleader.* properties, as zoo.cfg keys.
func TestNotificationIntervals(t *testing.T) {
	c, err := parseWith(t, "zookeeper.fastleader.minNotificationInterval=50\nfastleader.maxNotificationInterval=2000\n", nil)
	if err != nil || c.MinNotificationInterval != 50*time.Millisecond || c.MaxNotificationInterval != 2*time.Second {
		t.Fatalf("%v: %v %v", err, c.MinNotificationInterval, c.MaxNotificationInterval)
	}
	if _, err := parseWith(t, "fastleader.minNotificationInterval=0\n", nil); err == nil {
		t.Fatal("an interval of 0 ms was taken")
	}
}
