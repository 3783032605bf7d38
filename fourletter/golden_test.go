package fourletter

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
)

var update = flag.Bool("update", false, "rewrite testdata/zkgo golden files")

// TestApacheGolden renders every word from the state Apache's output was
// captured in and compares byte for byte with Apache 3.8.0's output.
func TestApacheGolden(t *testing.T) {
	tests := []struct {
		word   string
		adjust func(f *fakeView) // the capture moment's numbers
	}{
		{word: "ruok"},
		{word: "gtmk"},
		{word: "isro"},
		{word: "envi"},
		{word: "conf"},
		{word: "dirs"},
		{word: "crst"},
		{word: "srst"},
		{word: "wchs"},
		{word: "wchc"},
		{word: "wchp"},
		{word: "mntr"},
		{word: "srvr", adjust: func(f *fakeView) {
			f.stats.PacketsReceived, f.stats.PacketsSent = 14, 13
		}},
		{word: "stat", adjust: func(f *fakeView) {
			f.stats.PacketsReceived, f.stats.PacketsSent = 15, 14
			f.conns[0].Remote = "127.0.0.1:38978"
		}},
		{word: "cons"},
		{word: "dump", adjust: func(f *fakeView) {
			f.conns[0].Remote = "127.0.0.1:39056"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.word, func(t *testing.T) {
			f := apacheState()
			if tc.adjust != nil {
				tc.adjust(f)
			}
			got, known := Run(tc.word, f, nil)
			if !known {
				t.Fatalf("%s not known", tc.word)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "apache-3.8.0", tc.word+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s:\ngot:\n%s\nwant (Apache 3.8.0):\n%s", tc.word, got, want)
			}
		})
	}
}

// TestZkgoGolden covers output Apache was not captured for (quorum
// modes, read-only, not serving), checked against files written from
// Apache's source (server/command/*.java, ServerStats, dumpConf);
// regenerate with -update and review the diff.
func TestZkgoGolden(t *testing.T) {
	leaderCfg, err := config.ParseBytes("zoo.cfg", []byte(`tickTime=2000
initLimit=10
syncLimit=5
dataDir=/data
clientPort=2181
4lw.commands.whitelist=*
server.1=127.0.0.1:2888:3888;127.0.0.1:2181
server.2=127.0.0.1:2889:3889;127.0.0.1:2182
server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183
`))
	if err != nil {
		t.Fatal(err)
	}
	leaderCfg.MyID = 1
	leaderCfg.ConfigVersion = 0x100000000
	quorum := func(f *fakeView, mode string) {
		f.cfg = leaderCfg
		f.stats.Mode = mode
		f.quorum = &Quorum{PeerState: "leading - broadcast", QuorumSize: 2, ZabState: "broadcast", Voting: true,
			LeaderID: 1, MasterID: 1, LeaderAddress: "127.0.0.1:2888", Learners: 2, SyncedFollowers: 1, SyncedObservers: 1,
			PendingSyncs: 0, LeaderUptime: 5 * time.Second, ProposalLast: 36, ProposalMin: 32, ProposalMax: 48}
		switch mode {
		case "follower":
			f.quorum.PeerState = "following - broadcast"
		case "observer":
			f.quorum.PeerState, f.quorum.Voting = "observing - broadcast", false
		}
	}
	tests := []struct {
		name, word string
		adjust     func(f *fakeView)
	}{
		{"leader-srvr", "srvr", func(f *fakeView) { quorum(f, "leader") }},
		{"leader-mntr", "mntr", func(f *fakeView) { quorum(f, "leader") }},
		{"leader-conf", "conf", func(f *fakeView) { quorum(f, "leader") }},
		{"follower-mntr", "mntr", func(f *fakeView) { quorum(f, "follower") }},
		{"observer-mntr", "mntr", func(f *fakeView) { quorum(f, "observer") }},
		{"follower-dump", "dump", func(f *fakeView) {
			quorum(f, "follower")
			f.sessions = append(f.sessions, Session{ID: 0x200000abc, Timeout: 30 * time.Second})
		}},
		{"follower-local-dump", "dump", func(f *fakeView) {
			// localSessionsEnabled: LearnerSessionTracker lists its local
			// tracker's expiry queue, then the global sessions.
			quorum(f, "follower")
			f.stats.LocalSessionsEnabled = true
			f.sessions = append(f.sessions, Session{ID: 0x200000abc, Timeout: 30 * time.Second,
				Expires: f.sessions[0].Expires, Local: true})
		}},
		{"leader-local-dump", "dump", func(f *fakeView) {
			// LeaderSessionTracker: "Local " and "Global " before each
			// tracker's expiry queue.
			quorum(f, "leader")
			f.stats.LocalSessionsEnabled = true
			f.sessions = append(f.sessions, Session{ID: 0x200000abc, Timeout: 30 * time.Second,
				Expires: f.sessions[0].Expires, Local: true})
		}},
		{"readonly-stat", "stat", func(f *fakeView) { f.stats.Mode = "read-only" }},
		{"readonly-isro", "isro", func(f *fakeView) { f.stats.Mode = "read-only" }},
		{"notserving-srvr", "srvr", func(f *fakeView) { f.serving = false }},
		{"notserving-isro", "isro", func(f *fakeView) { f.serving = false }},
		{"notserving-ruok", "ruok", func(f *fakeView) { f.serving = false }},
		{"notserving-hash", "hash", func(f *fakeView) { f.serving = false }},
		{"empty-dump", "dump", func(f *fakeView) {
			f.sessions, f.ephemerals, f.conns = nil, nil, nil
		}},
		{"empty-wchc", "wchc", func(f *fakeView) { f.watches = nil }},
		{"empty-wchs", "wchs", func(f *fakeView) { f.watches = nil }},
		{"two-sessions-wchp", "wchp", func(f *fakeView) {
			f.watches = []Watch{{sid, "/a"}, {2, "/a"}, {2, "/b"}, {sid, "/a"}}
		}},
		{"reset-cons", "cons", func(f *fakeView) {
			// after crst: lop=NA, lcxid -1 is not printed, lzxid -1 prints as 64-bit hex
			f.conns[1].LastOp, f.conns[1].LastCxid, f.conns[1].LastZxid = "NA", -1, -1
			f.conns[1].Received, f.conns[1].Sent = 0, 0
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := apacheState()
			tc.adjust(f)
			got, known := Run(tc.word, f, nil)
			if !known {
				t.Fatalf("%s not known", tc.word)
			}
			path := filepath.Join("testdata", "zkgo", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestWhitelist(t *testing.T) {
	f := apacheState()
	f.cfg = config.Default()
	f.cfg.FourLetterWhitelist = map[string]bool{"srvr": true}
	tests := []struct {
		word      string
		whitelist map[string]bool
		want      string
		known     bool
	}{
		// FourLetterCommands.isEnabled / NopCommand
		{"stat", nil, "stat is not executed because it is not in the whitelist.\n", true},
		{"ruok", nil, "ruok is not executed because it is not in the whitelist.\n", true},
		{"mntr", map[string]bool{"ruok": true}, "mntr is not executed because it is not in the whitelist.\n", true},
		{"ruok", map[string]bool{"ruok": true}, "imok", true},
		// srvr is always enabled (zkServer.sh status needs it)
		{"srvr", map[string]bool{}, "", true},
		// not a four-letter word: a frame length for the caller
		{"abcd", nil, "", false},
		{"\x00\x00\x00\x2c", nil, "", false},
		// telnet close: disabled -> the whitelist line; enabled -> no command (a length)
		{telnetClose, nil, "telnet close is not executed because it is not in the whitelist.\n", true},
		{telnetClose, map[string]bool{"telnet close": true}, "", false},
	}
	for _, tc := range tests {
		got, known := Run(tc.word, f, tc.whitelist)
		if known != tc.known || (tc.want != "" && got != tc.want) || (tc.word == "srvr" && !strings.HasPrefix(got, "Zookeeper version: ")) {
			t.Errorf("Run(%q) = %q, %v; want %q, %v", tc.word, got, known, tc.want, tc.known)
		}
	}
}

func TestResets(t *testing.T) {
	f := apacheState()
	Run("srst", f, nil)
	Run("crst", f, nil)
	if f.resets != 1 || f.connResets != 1 {
		t.Errorf("resets %d, connection resets %d; want 1, 1", f.resets, f.connResets)
	}
	f.serving = false
	if out, _ := Run("srst", f, nil); out != notServing+"\n" || f.resets != 1 {
		t.Errorf("srst while not serving: %q, resets %d", out, f.resets)
	}
}

func TestStmk(t *testing.T) {
	f := apacheState()
	out, known := Run("stmk", f, nil)
	if !known || out != "" {
		t.Errorf("Run(stmk) = %q, %v", out, known)
	}
	if got := TraceMaskReply(1234); got != "1234" {
		t.Errorf("TraceMaskReply = %q", got)
	}
}

func TestJavaDouble(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {2.125, "2.125"}, {1, "1.0"}, {0.5, "0.5"}, {1e7, "1.0E7"},
		{12345678.9, "1.23456789E7"}, {0.0001, "1.0E-4"}, {0.001, "0.001"}, {-3.5, "-3.5"},
	} {
		if got := JavaDouble(tc.in); got != tc.want {
			t.Errorf("JavaDouble(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDefaultEnvironment(t *testing.T) {
	env := DefaultEnvironment("3.8.0-zkgo")
	keys := []string{"zookeeper.version", "host.name", "java.version", "java.vendor", "java.home",
		"java.class.path", "java.library.path", "java.io.tmpdir", "java.compiler", "os.name", "os.arch",
		"os.version", "user.name", "user.home", "user.dir", "os.memory.free", "os.memory.max", "os.memory.total", "go.version"}
	if len(env) != len(keys) {
		t.Fatalf("%d entries, want %d", len(env), len(keys))
	}
	for i, k := range keys {
		if env[i].Key != k {
			t.Errorf("entry %d = %q, want %q", i, env[i].Key, k)
		}
	}
	if env[0].Value != "3.8.0-zkgo" || !strings.HasSuffix(env[15].Value, "MB") {
		t.Errorf("values: %v", env)
	}
}

type rw struct {
	in  *strings.Reader
	out strings.Builder
}

func (r *rw) Read(p []byte) (int, error)  { return r.in.Read(p) }
func (r *rw) Write(p []byte) (int, error) { return r.out.Write(p) }

func TestServe(t *testing.T) {
	f := apacheState()
	c := &rw{in: strings.NewReader("\x00\x00\x00\x00\x00\x00\x01\x32")}
	if known, err := Serve(c, "stmk", f, nil); !known || err != nil || c.out.String() != "306" {
		t.Errorf("stmk: %v %v %q", known, err, c.out.String())
	}
	c = &rw{in: strings.NewReader("\x00\x01")}
	if known, err := Serve(c, "stmk", f, nil); !known || err == nil {
		t.Errorf("stmk with a short mask: %v %v", known, err)
	}
	c = &rw{in: strings.NewReader("")}
	if known, err := Serve(c, "ruok", f, nil); !known || err != nil || c.out.String() != "imok" {
		t.Errorf("ruok: %v %v %q", known, err, c.out.String())
	}
	c = &rw{in: strings.NewReader("")}
	if known, _ := Serve(c, "\x00\x00\x00\x2c", f, nil); known || c.out.Len() != 0 {
		t.Errorf("frame length treated as a word")
	}
}
