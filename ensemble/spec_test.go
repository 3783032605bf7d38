package ensemble

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
)

// busy is a PortChecker that reports the given ports as taken.
func busy(ports ...int) PortChecker {
	return func(host string, port int) error {
		if slices.Contains(ports, port) {
			return errors.New("address already in use")
		}
		return nil
	}
}

func TestPlanPorts(t *testing.T) {
	type ports struct{ client, quorum, election, admin []int }
	tests := []struct {
		name      string
		shape     Shape
		taken     []int
		want      ports
		observers []bool
	}{
		{
			name:      "defaults are Apache's customary ports",
			shape:     Shape{},
			want:      ports{[]int{2181, 2182, 2183}, []int{2888, 2889, 2890}, []int{3888, 3889, 3890}, []int{8080, 8081, 8082}},
			observers: []bool{false, false, false},
		},
		{
			name:      "other base port shifts every range",
			shape:     Shape{Voters: 3, BasePort: 20000},
			want:      ports{[]int{20000, 20001, 20002}, []int{20707, 20708, 20709}, []int{21707, 21708, 21709}, []int{25899, 25900, 25901}},
			observers: []bool{false, false, false},
		},
		{
			name:      "taken quorum, election and admin ports are skipped",
			shape:     Shape{},
			taken:     []int{2889, 3888, 8081, 8082},
			want:      ports{[]int{2181, 2182, 2183}, []int{2888, 2890, 2891}, []int{3889, 3890, 3891}, []int{8080, 8083, 8084}},
			observers: []bool{false, false, false},
		},
		{
			name:      "observers come after the voters",
			shape:     Shape{Voters: 3, Observers: 2},
			want:      ports{[]int{2181, 2182, 2183, 2184, 2185}, []int{2888, 2889, 2890, 2891, 2892}, []int{3888, 3889, 3890, 3891, 3892}, []int{8080, 8081, 8082, 8083, 8084}},
			observers: []bool{false, false, false, true, true},
		},
		{
			name:      "single member",
			shape:     Shape{Voters: 1},
			want:      ports{[]int{2181}, []int{2888}, []int{3888}, []int{8080}},
			observers: []bool{false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Plan(tc.shape, busy(tc.taken...))
			if err != nil {
				t.Fatal(err)
			}
			var got ports
			var obs []bool
			for i, m := range s.Members {
				if m.ID != i+1 {
					t.Errorf("member %d has id %d", i, m.ID)
				}
				got.client = append(got.client, m.ClientPort)
				got.quorum = append(got.quorum, m.QuorumPort)
				got.election = append(got.election, m.ElectionPort)
				got.admin = append(got.admin, m.AdminPort)
				obs = append(obs, m.Observer)
			}
			for _, c := range []struct {
				what      string
				got, want []int
			}{{"client", got.client, tc.want.client}, {"quorum", got.quorum, tc.want.quorum}, {"election", got.election, tc.want.election}, {"admin", got.admin, tc.want.admin}} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s ports %v, want %v", c.what, c.got, c.want)
				}
			}
			if !slices.Equal(obs, tc.observers) {
				t.Errorf("observers %v, want %v", obs, tc.observers)
			}
			if err := s.Validate(); err != nil {
				t.Errorf("planned spec does not validate: %v", err)
			}
		})
	}
}

func TestPlanWrapsAroundTheTopPort(t *testing.T) {
	s, err := Plan(Shape{Voters: 3, BasePort: 65000}, busy())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Members {
		for _, p := range m.Ports() {
			if p.Port < 1024 || p.Port > 65535 {
				t.Errorf("%s: %d", p.What, p.Port)
			}
		}
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name  string
		shape Shape
		taken []int
		want  string
		port  int // a *PortInUseError for this port
	}{
		{name: "client port in use", shape: Shape{}, taken: []int{2182}, want: "port 2182 (client port of server 2) is in use on 127.0.0.1", port: 2182},
		{name: "observer's client port in use", shape: Shape{Observers: 1}, taken: []int{2184}, want: "port 2184 (client port of server 4) is in use", port: 2184},
		{name: "negative voters", shape: Shape{Voters: -1}, want: "need at least 1 voting member"},
		{name: "negative observers", shape: Shape{Observers: -2}, want: "must not be negative"},
		{name: "too many", shape: Shape{Voters: 9, Observers: 7}, want: "at most 15"},
		{name: "client ports past 65535", shape: Shape{BasePort: 65534}, want: "client ports 65534-65536"},
		{name: "--set without =", shape: Shape{Extra: []string{"audit.enable"}}, want: `--set "audit.enable": want KEY=VALUE`},
		{name: "--set of a port", shape: Shape{Extra: []string{"zookeeper.clientPort=1"}}, want: "--set zookeeper.clientPort: zk ensemble up writes it itself"},
		{name: "--set of a member", shape: Shape{Extra: []string{"server.4=h:1:2"}}, want: "--set server.4: zk ensemble up writes it itself"},
		{name: "--set of two lines", shape: Shape{Extra: []string{"a=b\nserver.9=x:1:2"}}, want: "one line only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.shape, busy(tc.taken...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Plan: %v, want an error containing %q", err, tc.want)
			}
			var pe *PortInUseError
			if tc.port != 0 && (!errors.As(err, &pe) || pe.Port != tc.port) {
				t.Fatalf("Plan: %v, want a *PortInUseError for port %d", err, tc.port)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestZooCfgExact(t *testing.T) {
	s, err := Plan(Shape{}, busy())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ZooCfg(2, "/tmp/e/server2/data")
	if err != nil {
		t.Fatal(err)
	}
	want := `# Written by ` + "`zk ensemble up`" + `: server 2 (voting member) of an ensemble of 3 voting member(s) and 0 observer(s).
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/tmp/e/server2/data
clientPortAddress=127.0.0.1
clientPort=2182
4lw.commands.whitelist=*
admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort=8081
# /metrics is served on the AdminServer port; no separate metrics port.
metricsProvider.className=none
server.1=127.0.0.1:2888:3888;127.0.0.1:2181
server.2=127.0.0.1:2889:3889;127.0.0.1:2182
server.3=127.0.0.1:2890:3890;127.0.0.1:2183
`
	if got != want {
		t.Fatalf("zoo.cfg:\n%s\nwant:\n%s", got, want)
	}
	if _, err := s.ZooCfg(4, "/x"); err == nil {
		t.Fatal("ZooCfg(4) of a 3-member ensemble did not fail")
	}
}

// TestZooCfgParses writes each member's files and reads them back with
// zkserver's own parser: the configuration must be an ensemble (Apache's
// isDistributed), with this member's myid, client address and peer type,
// every server line, srvr and mntr allowed, and no two members sharing a
// listening port.
func TestZooCfgParses(t *testing.T) {
	tests := []struct {
		name             string
		shape            Shape
		wantDistributed  bool
		wantObserverFrom int
	}{
		{"three voters", Shape{Voters: 3, BasePort: 12000}, true, 4},
		{"five voters two observers", Shape{Voters: 5, Observers: 2, BasePort: 12000}, true, 6},
		{"single standalone", Shape{Voters: 1, BasePort: 12000}, false, 2},
		{"single voter with an observer", Shape{Voters: 1, Observers: 1, BasePort: 12000}, true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Plan(tc.shape, busy())
			if err != nil {
				t.Fatal(err)
			}
			listen := map[string]int{}
			for _, m := range s.Members {
				if err := writeMemberFiles(dir, s, m.ID); err != nil {
					t.Fatal(err)
				}
				c, err := config.Parse(ConfigPath(dir, m.ID))
				if err != nil {
					t.Fatalf("server %d: %v", m.ID, err)
				}
				if len(c.Extra) > 0 {
					t.Errorf("server %d: unknown keys %v", m.ID, c.Extra)
				}
				if c.MyID != int64(m.ID) {
					t.Errorf("server %d: myid %d", m.ID, c.MyID)
				}
				if c.Distributed() != tc.wantDistributed {
					t.Errorf("server %d: distributed %v, want %v", m.ID, c.Distributed(), tc.wantDistributed)
				}
				if c.DataDir != DataDir(dir, m.ID) {
					t.Errorf("server %d: dataDir %s", m.ID, c.DataDir)
				}
				if got, want := c.ClientAddr(), "127.0.0.1:"+strconv.Itoa(m.ClientPort); got != want {
					t.Errorf("server %d: client address %s, want %s", m.ID, got, want)
				}
				if c.TickTime != DefaultTickTime || c.InitLimit != DefaultInitLimit || c.SyncLimit != DefaultSyncLimit {
					t.Errorf("server %d: tickTime %s initLimit %d syncLimit %d", m.ID, c.TickTime, c.InitLimit, c.SyncLimit)
				}
				for _, w := range []string{"srvr", "mntr", "stat", "conf", "ruok"} {
					if !c.FourLetterWhitelist[w] {
						t.Errorf("server %d: %s not whitelisted", m.ID, w)
					}
				}
				if c.MetricsEnabled {
					t.Errorf("server %d: the separate metrics port is on", m.ID)
				}
				if !c.AdminEnableServer || c.AdminAddr() != "127.0.0.1:"+strconv.Itoa(m.AdminPort) {
					t.Errorf("server %d: admin server %v on %s", m.ID, c.AdminEnableServer, c.AdminAddr())
				}
				if len(c.Servers) != len(s.Members) {
					t.Fatalf("server %d: %d server lines, want %d", m.ID, len(c.Servers), len(s.Members))
				}
				for i, sv := range c.Servers {
					o := s.Members[i]
					if sv.ID != int64(o.ID) || sv.Host != "127.0.0.1" || sv.QuorumPort != o.QuorumPort || sv.ElectionPort != o.ElectionPort ||
						sv.ClientPort != o.ClientPort || sv.Observer != (o.ID >= tc.wantObserverFrom) {
						t.Errorf("server %d: line server.%d = %+v, want %+v", m.ID, sv.ID, sv, o)
					}
				}
				self, ok := c.Self()
				if !ok || self.Observer != m.Observer {
					t.Errorf("server %d: self %+v (found %v), observer want %v", m.ID, self, ok, m.Observer)
				}
				for _, p := range []int{m.ClientPort, m.QuorumPort, m.ElectionPort, m.AdminPort} {
					if other, dup := listen[strconv.Itoa(p)]; dup {
						t.Errorf("port %d of server %d is also server %d's", p, m.ID, other)
					}
					listen[strconv.Itoa(p)] = m.ID
				}
				b, err := os.ReadFile(filepath.Join(DataDir(dir, m.ID), "myid"))
				if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(m.ID) {
					t.Errorf("server %d: myid file %q (%v)", m.ID, b, err)
				}
			}
		})
	}
}

func TestSpecRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := readSpec(dir); !errors.Is(err, ErrNoEnsemble) {
		t.Fatalf("readSpec of an empty dir: %v, want ErrNoEnsemble", err)
	}
	s, err := Plan(Shape{Voters: 3, Observers: 1, TickTime: 500 * time.Millisecond}, busy())
	if err != nil {
		t.Fatal(err)
	}
	s.Members[1].PID = 4242
	s.ServerBin = "/opt/zkserver"
	if err := writeSpec(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := readSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.TickTime != 500 || got.ServerBin != "/opt/zkserver" || !slices.Equal(got.Members, s.Members) {
		t.Fatalf("read back %+v, want %+v", got, s)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries after writeSpec, want only %s", len(entries), StateFile)
	}
}

func TestSpecValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *Spec)
		want string
	}{
		{"unknown format", func(s *Spec) { s.Format = 9 }, "format 9"},
		{"missing member", func(s *Spec) { s.Members = s.Members[:2] }, "members: 2"},
		{"ids out of order", func(s *Spec) { s.Members[0].ID, s.Members[1].ID = 2, 1 }, "want 1"},
		{"shared port", func(s *Spec) { s.Members[2].AdminPort = s.Members[0].ClientPort }, "used twice"},
		{"port out of range", func(s *Spec) { s.Members[0].QuorumPort = 70000 }, "not a port"},
		{"observer flag", func(s *Spec) { s.Members[0].Observer = true }, "observer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Plan(Shape{}, busy())
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSpec(dir); err == nil || errors.Is(err, ErrNoEnsemble) {
		t.Fatalf("readSpec of a broken file: %v", err)
	}
}

func TestConflicts(t *testing.T) {
	s, err := Plan(Shape{}, busy())
	if err != nil {
		t.Fatal(err)
	}
	if d := conflicts(Shape{}, s); len(d) != 0 {
		t.Errorf("no options given: conflicts %v", d)
	}
	if d := conflicts(Shape{Voters: 3, BasePort: 2181}, s); len(d) != 0 {
		t.Errorf("same options: conflicts %v", d)
	}
	d := conflicts(Shape{Voters: 5, BasePort: 3000}, s)
	if len(d) != 2 || !strings.Contains(d[0], "-n 5") || !strings.Contains(d[1], "--base-port 3000") {
		t.Errorf("conflicts %v, want -n 5 and --base-port 3000", d)
	}
}

func TestReportJudge(t *testing.T) {
	tests := []struct {
		name    string
		roles   []string
		healthy bool
		leader  int
		summary string
	}{
		{"one leader", []string{"follower", "leader", "follower"}, true, 2, "3 of 3 members serving, leader 2"},
		{"observer", []string{"leader", "follower", "follower", "observer"}, true, 1, "4 of 4 members serving, leader 1"},
		{"member stopped", []string{"follower", "leader", RoleStopped}, false, 2, "2 of 3 members serving, leader 2 (3 stopped)"},
		{"electing", []string{RoleNotServing, RoleNotServing, RoleStopped}, false, 0, "0 of 3 members serving, no leader (1 not-serving, 2 not-serving, 3 stopped)"},
		{"two leaders", []string{"leader", "leader", "follower"}, false, 0, "3 of 3 members serving, 2 leaders"},
		{"no leader", []string{"follower", "follower", "follower"}, false, 0, "3 of 3 members serving, no leader"},
		{"standalone", []string{"standalone"}, true, 0, "1 of 1 members serving"},
		{"unreachable", []string{"leader", RoleUnreachable, "follower"}, false, 1, "2 of 3 members serving, leader 1 (2 unreachable)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{}
			for i, role := range tc.roles {
				r.Members = append(r.Members, MemberStatus{ID: i + 1, Role: role})
			}
			r.judge()
			if r.Healthy != tc.healthy || r.Leader != tc.leader || r.Summary() != tc.summary {
				t.Fatalf("healthy %v leader %d summary %q, want %v %d %q", r.Healthy, r.Leader, r.Summary(), tc.healthy, tc.leader, tc.summary)
			}
		})
	}
}

// --set's lines end every member's zoo.cfg, which still parses, and the
// spec keeps them for the members' later starts.
func TestZooCfgExtra(t *testing.T) {
	s, err := Plan(Shape{Extra: []string{"audit.enable=true", "superUser=admin"}}, busy())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{1, 3} {
		got, err := s.ZooCfg(id, "/tmp/e/data")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(got, "\naudit.enable=true\nsuperUser=admin\n") {
			t.Fatalf("server %d's zoo.cfg ends %q", id, got[max(0, len(got)-80):])
		}
		c, err := config.ParseBytes("zoo.cfg", []byte(got))
		if err != nil || !c.AuditEnable || !slices.Equal(c.SASL.SuperUsers, []string{"admin"}) {
			t.Fatalf("server %d's zoo.cfg: %v, audit %v, super users %v", id, err, c.AuditEnable, c.SASL.SuperUsers)
		}
	}
	if d := conflicts(Shape{Extra: []string{"audit.enable=false"}}, s); len(d) != 1 || !strings.Contains(d[0], "--set audit.enable=false") {
		t.Fatalf("conflicts: %q", d)
	}
	if d := conflicts(Shape{Extra: s.Extra}, s); len(d) != 0 {
		t.Fatalf("the same --set conflicts: %q", d)
	}
}
