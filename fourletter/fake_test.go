package fourletter

import (
	"time"

	"github.com/zkgo/zkgo/server/config"
)

// fakeView is a View over fixed values.
type fakeView struct {
	serving    bool
	cfg        *config.Config
	stats      Stats
	conns      []Conn
	sessions   []Session
	ephemerals map[int64][]string
	watches    []Watch
	env        []KV
	quorum     *Quorum
	metrics    []Metric
	digests    []ZxidDigest
	resets     int
	connResets int
}

func (f *fakeView) Serving() bool                  { return f.serving }
func (f *fakeView) Config() *config.Config         { return f.cfg }
func (f *fakeView) Stats() Stats                   { return f.stats }
func (f *fakeView) Connections() []Conn            { return f.conns }
func (f *fakeView) Sessions() []Session            { return f.sessions }
func (f *fakeView) Ephemerals() map[int64][]string { return f.ephemerals }
func (f *fakeView) DataWatches() []Watch           { return f.watches }
func (f *fakeView) Environment() []KV              { return f.env }
func (f *fakeView) Quorum() *Quorum                { return f.quorum }
func (f *fakeView) ResetStats()                    { f.resets++ }
func (f *fakeView) ResetConnectionStats()          { f.connResets++ }
func (f *fakeView) Metrics() []Metric              { return f.metrics }
func (f *fakeView) Digests() []ZxidDigest          { return f.digests }

const (
	apacheVersion = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC"
	sid           = int64(0x10000046e680000)
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// apacheState is the state of the Apache 3.8.0 server the files in
// testdata/apache-3.8.0 were captured from (see the README there).
func apacheState() *fakeView {
	cfg, err := config.ParseBytes("zoo.cfg", []byte("tickTime=2000\ndataDir=/tmp/fl-apache/data/version-2\nclientPort=21911\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n"))
	if err != nil {
		panic(err)
	}
	session := Conn{
		Remote: "127.0.0.1:38948", InterestOps: 1, Received: 8, Sent: 8,
		SessionID: sid, LastOp: "GETD", Established: time.UnixMilli(1795698155267),
		SessionTimeout: 10 * time.Second, LastCxid: 7, LastZxid: 4, LastResponseMs: 350809,
		LastLatency: 0, MinLatency: 0, AvgLatency: 2, MaxLatency: 7,
		LastActivity: utc("2026-11-26 13:02:44"),
	}
	return &fakeView{
		serving: true,
		cfg:     cfg,
		stats: Stats{
			Version: apacheVersion, Mode: "standalone",
			LatencyMin: 0, LatencyMax: 7, LatencyTotal: 17, LatencyCount: 8,
			PacketsReceived: 25, PacketsSent: 24, Outstanding: 0, LastZxid: 4, NodeCount: 8,
			WatchCount: 4, EphemeralsCount: 2, ApproximateDataSize: 57, GlobalSessions: 1,
			Uptime: 60490 * time.Millisecond, DataDirSize: 67109337, LogDirSize: 67109337,
			OpenFileDescriptors: 41, MaxFileDescriptors: 20000,
			ClientResponseLast: 89, ClientResponseMin: 16, ClientResponseMax: 94,
		},
		conns: []Conn{
			{Remote: "127.0.0.1:38998", Received: 1, LastCxid: -1, LastZxid: -1, LastActivity: utc("2026-11-26 13:02:44")},
			session,
		},
		sessions:   []Session{{ID: sid, Timeout: 10 * time.Second, Expires: utc("2026-11-26 13:02:46")}},
		ephemerals: map[int64][]string{sid: {"/a/e1", "/e2"}},
		watches:    []Watch{{sid, "/a"}, {sid, "/nonexist"}, {sid, "/e2"}},
		env: []KV{
			{"zookeeper.version", apacheVersion},
			{"host.name", "localhost"},
			{"java.version", "17.0.15"},
			{"java.vendor", "Debian"},
			{"java.home", "/usr/lib/jvm/java-17-openjdk-amd64"},
			{"java.class.path", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"},
			{"java.library.path", "/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib"},
			{"java.io.tmpdir", "/tmp"},
			{"java.compiler", "<NA>"},
			{"os.name", "Linux"},
			{"os.arch", "amd64"},
			{"os.version", "6.18.44-fc-v657"},
			{"user.name", "root"},
			{"user.home", "/root"},
			{"user.dir", "/tmp/fl-apache"},
			{"os.memory.free", "378MB"},
			{"os.memory.max", "6028MB"},
			{"os.memory.total", "388MB"},
		},
		metrics: []Metric{{Name: "proposal_count", Value: int64(0)}, {Name: "watch_bytes", Value: int64(0)}},
	}
}
