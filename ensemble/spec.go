package ensemble

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults of `zk ensemble up`. The timing keys are those of Apache's
// conf/zoo_sample.cfg.
const (
	DefaultVoters    = 3
	DefaultBasePort  = 2181
	DefaultHost      = "127.0.0.1"
	DefaultTickTime  = 2000 * time.Millisecond
	DefaultInitLimit = 10
	DefaultSyncLimit = 5

	// The other ports are looked for from these offsets above the base
	// port, so the default base 2181 gives Apache's customary 2888 (quorum),
	// 3888 (election) and 8080 (AdminServer).
	quorumOffset   = 2888 - DefaultBasePort
	electionOffset = 3888 - DefaultBasePort
	adminOffset    = 8080 - DefaultBasePort

	// MaxMembers bounds voters + observers; a pseudo-cluster on one
	// machine has no use for more.
	MaxMembers = 15
)

// Member is one server of the ensemble: its myid, role in the
// configuration, ports and (while it runs) process id.
type Member struct {
	ID           int  `json:"id" yaml:"id"`
	Observer     bool `json:"observer" yaml:"observer"`
	ClientPort   int  `json:"client_port" yaml:"client_port"`
	QuorumPort   int  `json:"quorum_port" yaml:"quorum_port"`
	ElectionPort int  `json:"election_port" yaml:"election_port"`
	AdminPort    int  `json:"admin_port" yaml:"admin_port"`
	// PID is the process id of the running zkserver, 0 when stopped.
	PID int `json:"pid" yaml:"pid"`
}

// Spec is an ensemble's plan, the content of DIR/ensemble.json.
type Spec struct {
	// Format is the version of this file's layout.
	Format    int    `json:"format"`
	Host      string `json:"host"`
	Voters    int    `json:"voters"`
	Observers int    `json:"observers"`
	BasePort  int    `json:"base_port"`
	// TickTime in milliseconds, InitLimit and SyncLimit in ticks.
	TickTime  int    `json:"tick_time_ms"`
	InitLimit int    `json:"init_limit"`
	SyncLimit int    `json:"sync_limit"`
	ServerBin string `json:"server_bin,omitempty"`
	// Extra are key=value lines appended to every member's zoo.cfg
	// (`zk ensemble up --set`).
	Extra   []string `json:"extra,omitempty"`
	Members []Member `json:"members"`
}

// specFormat is the current Spec.Format.
const specFormat = 1

// Shape is what the caller asks of a new ensemble; a zero field means the
// default.
type Shape struct {
	Voters    int           // default DefaultVoters
	Observers int           // extra members that do not vote, default 0
	BasePort  int           // first client port, default DefaultBasePort
	Host      string        // address every port listens on, default DefaultHost
	TickTime  time.Duration // default DefaultTickTime
	// Extra are key=value lines for every member's zoo.cfg (CheckExtra).
	Extra []string
}

// ownKeys are the zoo.cfg keys ZooCfg writes itself: --set may not change
// them.
var ownKeys = map[string]bool{
	"tickTime": true, "initLimit": true, "syncLimit": true, "dataDir": true, "dataLogDir": true,
	"clientPortAddress": true, "clientPort": true, "admin.enableServer": true,
	"admin.serverAddress": true, "admin.serverPort": true, "metricsProvider.className": true,
	"standaloneEnabled": true, "peerType": true, "dynamicConfigFile": true,
}

// CheckExtra checks --set's lines: key=value, one line each, and no key
// the ensemble writes itself (its ports, directories and membership).
func CheckExtra(lines []string) error {
	for _, l := range lines {
		k, _, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			return fmt.Errorf("--set %q: want KEY=VALUE", l)
		case strings.ContainsAny(l, "\r\n"):
			return fmt.Errorf("--set %q: one line only", l)
		case ownKeys[strings.TrimPrefix(k, "zookeeper.")] || strings.HasPrefix(k, "server.") || strings.HasPrefix(k, "group.") || strings.HasPrefix(k, "weight."):
			return fmt.Errorf("--set %s: zk ensemble up writes it itself", k)
		}
	}
	return nil
}

func (s Shape) withDefaults() Shape {
	if s.Voters == 0 {
		s.Voters = DefaultVoters
	}
	if s.BasePort == 0 {
		s.BasePort = DefaultBasePort
	}
	if s.Host == "" {
		s.Host = DefaultHost
	}
	if s.TickTime == 0 {
		s.TickTime = DefaultTickTime
	}
	return s
}

// PortInUseError says that a port the plan needs is taken.
type PortInUseError struct {
	Host string
	Port int
	What string // "client port of server 2"
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d (%s) is in use on %s", e.Port, e.What, e.Host)
}

// PortChecker reports whether host:port can be listened on (nil) or why
// not.
type PortChecker func(host string, port int) error

// ListenCheck is the real PortChecker: it listens on host:port and closes
// the listener at once.
func ListenCheck(host string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return ln.Close()
}

// Plan lays out a new ensemble of the given shape: members 1..Voters vote,
// Voters+1.. are observers; client ports are BasePort, BasePort+1, …
// (each must be free, or Plan fails with a *PortInUseError naming it), and
// the quorum, election and AdminServer ports are the first free ports
// from 2888, 3888 and 8080 (shifted by BasePort-2181) that no other member
// uses.
func Plan(sh Shape, free PortChecker) (*Spec, error) {
	sh = sh.withDefaults()
	total := sh.Voters + sh.Observers
	switch {
	case sh.Voters < 1:
		return nil, fmt.Errorf("plan: -n %d: need at least 1 voting member", sh.Voters)
	case sh.Observers < 0:
		return nil, fmt.Errorf("plan: --observers %d: must not be negative", sh.Observers)
	case total > MaxMembers:
		return nil, fmt.Errorf("plan: %d members: at most %d", total, MaxMembers)
	case sh.BasePort < 1 || sh.BasePort+total-1 > 65535:
		return nil, fmt.Errorf("plan: --base-port %d: client ports %d-%d are not all valid ports", sh.BasePort, sh.BasePort, sh.BasePort+total-1)
	case sh.TickTime < time.Millisecond:
		return nil, fmt.Errorf("plan: tick time %s: must be at least 1ms", sh.TickTime)
	}
	spec := &Spec{
		Format:    specFormat,
		Host:      sh.Host,
		Voters:    sh.Voters,
		Observers: sh.Observers,
		BasePort:  sh.BasePort,
		TickTime:  int(sh.TickTime / time.Millisecond),
		InitLimit: DefaultInitLimit,
		SyncLimit: DefaultSyncLimit,
		Extra:     sh.Extra,
	}
	if err := CheckExtra(sh.Extra); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	used := map[int]bool{}
	for i := range total {
		m := Member{ID: i + 1, Observer: i >= sh.Voters, ClientPort: sh.BasePort + i}
		if err := free(sh.Host, m.ClientPort); err != nil {
			return nil, &PortInUseError{Host: sh.Host, Port: m.ClientPort, What: fmt.Sprintf("client port of server %d", m.ID)}
		}
		used[m.ClientPort] = true
		spec.Members = append(spec.Members, m)
	}
	pick := func(offset int, what string) (int, error) {
		start := sh.BasePort + offset
		for n := 0; n < 65535; n++ {
			p := start + n
			if p > 65535 {
				p = 1024 + (p-65536)%(65535-1024+1)
			}
			if used[p] {
				continue
			}
			if free(sh.Host, p) != nil {
				continue
			}
			used[p] = true
			return p, nil
		}
		return 0, fmt.Errorf("plan: no free port for the %s on %s", what, sh.Host)
	}
	for i := range spec.Members {
		m := &spec.Members[i]
		var err error
		if m.QuorumPort, err = pick(quorumOffset+i, fmt.Sprintf("quorum port of server %d", m.ID)); err != nil {
			return nil, err
		}
		if m.ElectionPort, err = pick(electionOffset+i, fmt.Sprintf("election port of server %d", m.ID)); err != nil {
			return nil, err
		}
		if m.AdminPort, err = pick(adminOffset+i, fmt.Sprintf("AdminServer port of server %d", m.ID)); err != nil {
			return nil, err
		}
	}
	return spec, nil
}

// Ports returns every port of the member with what it is for.
func (m Member) Ports() []PortUse {
	return []PortUse{
		{m.ClientPort, fmt.Sprintf("client port of server %d", m.ID)},
		{m.QuorumPort, fmt.Sprintf("quorum port of server %d", m.ID)},
		{m.ElectionPort, fmt.Sprintf("election port of server %d", m.ID)},
		{m.AdminPort, fmt.Sprintf("AdminServer port of server %d", m.ID)},
	}
}

// PortUse is one port and what it is for.
type PortUse struct {
	Port int
	What string
}

// CheckPorts reports the first port of the members (in id order) that is
// not free, as a *PortInUseError.
func (s *Spec) CheckPorts(members []Member, free PortChecker) error {
	for _, m := range members {
		for _, p := range m.Ports() {
			if free(s.Host, p.Port) != nil {
				return &PortInUseError{Host: s.Host, Port: p.Port, What: p.What}
			}
		}
	}
	return nil
}

// Validate checks a Spec read from disk.
func (s *Spec) Validate() error {
	var errs []error
	if s.Format != specFormat {
		errs = append(errs, fmt.Errorf("format %d: this zk knows format %d", s.Format, specFormat))
	}
	if s.Host == "" {
		errs = append(errs, errors.New("host: empty"))
	}
	if s.TickTime < 1 || s.InitLimit < 1 || s.SyncLimit < 1 {
		errs = append(errs, errors.New("tick_time_ms, init_limit, sync_limit: must be positive"))
	}
	if len(s.Members) == 0 || len(s.Members) != s.Voters+s.Observers {
		errs = append(errs, fmt.Errorf("members: %d, want voters+observers = %d", len(s.Members), s.Voters+s.Observers))
	}
	seen := map[int]bool{}
	for i, m := range s.Members {
		if m.ID != i+1 {
			errs = append(errs, fmt.Errorf("members[%d]: id %d, want %d", i, m.ID, i+1))
		}
		if m.Observer != (i >= s.Voters) {
			errs = append(errs, fmt.Errorf("members[%d]: observer %v does not match voters %d", i, m.Observer, s.Voters))
		}
		for _, p := range m.Ports() {
			if p.Port < 1 || p.Port > 65535 {
				errs = append(errs, fmt.Errorf("members[%d]: %s: %d is not a port", i, p.What, p.Port))
			} else if seen[p.Port] {
				errs = append(errs, fmt.Errorf("members[%d]: %s: %d is used twice", i, p.What, p.Port))
			}
			seen[p.Port] = true
		}
		if m.PID < 0 {
			errs = append(errs, fmt.Errorf("members[%d]: pid %d", i, m.PID))
		}
	}
	return errors.Join(errs...)
}

// Member returns the member with the given id.
func (s *Spec) Member(id int) (*Member, bool) {
	for i := range s.Members {
		if s.Members[i].ID == id {
			return &s.Members[i], true
		}
	}
	return nil, false
}

// ClientAddr is the member's client address, host:port.
func (s *Spec) ClientAddr(m Member) string {
	return net.JoinHostPort(s.Host, strconv.Itoa(m.ClientPort))
}

// ConnectString lists every member's client address, comma separated,
// as `zk -server` and ZooKeeper clients take it.
func (s *Spec) ConnectString() string {
	addrs := make([]string, len(s.Members))
	for i, m := range s.Members {
		addrs[i] = s.ClientAddr(m)
	}
	return strings.Join(addrs, ",")
}

// ZooCfg renders member id's zoo.cfg with dataDir as given (an absolute
// path). Every member has the same server.N lines; an observer also says
// peerType=observer, as Apache requires. The AdminServer listens on the
// member's own port on Host (it also serves /metrics, so the separate
// metrics provider is off), and every four-letter word is allowed so that
// `zk status` and `zk ensemble status` can use srvr and mntr.
func (s *Spec) ZooCfg(id int, dataDir string) (string, error) {
	self, ok := s.Member(id)
	if !ok {
		return "", fmt.Errorf("zoo.cfg: no server %d in the ensemble", id)
	}
	var b strings.Builder
	role := "voting member"
	if self.Observer {
		role = "observer"
	}
	fmt.Fprintf(&b, "# Written by `zk ensemble up`: server %d (%s) of an ensemble of %d voting member(s) and %d observer(s).\n", id, role, s.Voters, s.Observers)
	fmt.Fprintf(&b, "tickTime=%d\n", s.TickTime)
	fmt.Fprintf(&b, "initLimit=%d\n", s.InitLimit)
	fmt.Fprintf(&b, "syncLimit=%d\n", s.SyncLimit)
	fmt.Fprintf(&b, "dataDir=%s\n", filepath.ToSlash(dataDir))
	fmt.Fprintf(&b, "clientPortAddress=%s\n", s.Host)
	fmt.Fprintf(&b, "clientPort=%d\n", self.ClientPort)
	b.WriteString("4lw.commands.whitelist=*\n")
	b.WriteString("admin.enableServer=true\n")
	fmt.Fprintf(&b, "admin.serverAddress=%s\n", s.Host)
	fmt.Fprintf(&b, "admin.serverPort=%d\n", self.AdminPort)
	b.WriteString("# /metrics is served on the AdminServer port; no separate metrics port.\n")
	b.WriteString("metricsProvider.className=none\n")
	if s.Voters == 1 && s.Observers > 0 {
		// Apache runs a single voter with observers only in quorum mode.
		b.WriteString("standaloneEnabled=false\n")
	}
	if self.Observer {
		b.WriteString("peerType=observer\n")
	}
	for _, m := range s.Members {
		obs := ""
		if m.Observer {
			obs = ":observer"
		}
		h := s.Host
		if strings.Contains(h, ":") {
			h = "[" + h + "]" // IPv6, as Apache's server.N parser wants it
		}
		fmt.Fprintf(&b, "server.%d=%s:%d:%d%s;%s:%d\n", m.ID, h, m.QuorumPort, m.ElectionPort, obs, h, m.ClientPort)
	}
	if len(s.Extra) > 0 {
		b.WriteString("# Given with zk ensemble up --set.\n")
		for _, l := range s.Extra {
			b.WriteString(l + "\n")
		}
	}
	return b.String(), nil
}
