package ensemble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/textable"
)

// Roles of a member that is not serving; a serving member's role is the
// Mode srvr printed (leader, follower, observer, standalone, read-only).
const (
	RoleStopped     = "stopped"     // no live process
	RoleNotServing  = "not-serving" // answers "not currently serving requests" (electing, syncing)
	RoleUnreachable = "unreachable" // the process runs but srvr gets no usable answer
)

// MemberStatus is one member as seen now.
type MemberStatus struct {
	ID       int    `json:"id" yaml:"id"`
	Observer bool   `json:"observer" yaml:"observer"`
	Role     string `json:"role" yaml:"role"`
	Client   string `json:"client" yaml:"client"`
	// PID is 0 when the member is stopped.
	PID int `json:"pid" yaml:"pid"`
	// Zxid is the last zxid srvr printed ("0x…"), "" when it did not answer.
	Zxid  string `json:"zxid,omitempty" yaml:"zxid,omitempty"`
	Log   string `json:"log" yaml:"log"`
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// Serving reports whether the member answers client requests.
func (m MemberStatus) Serving() bool {
	switch m.Role {
	case "leader", "follower", "observer", "standalone", "read-only":
		return true
	}
	return false
}

// Report is the state of every member of an ensemble.
type Report struct {
	Dir     string `json:"dir" yaml:"dir"`
	Connect string `json:"connect" yaml:"connect"`
	// Healthy: every member serves and exactly one leads (a single
	// member serves standalone).
	Healthy bool `json:"healthy" yaml:"healthy"`
	// Leader is the id of the one leader, 0 when there is none or several.
	Leader  int            `json:"leader" yaml:"leader"`
	Members []MemberStatus `json:"members" yaml:"members"`
}

// Member returns the status of member id.
func (r *Report) Member(id int) (MemberStatus, bool) {
	for _, m := range r.Members {
		if m.ID == id {
			return m, true
		}
	}
	return MemberStatus{}, false
}

// Summary says in one line how the ensemble is.
func (r *Report) Summary() string {
	serving, leaders := 0, 0
	var notServing []string
	for _, m := range r.Members {
		if m.Serving() {
			serving++
		} else {
			notServing = append(notServing, fmt.Sprintf("%d %s", m.ID, m.Role))
		}
		if m.Role == "leader" {
			leaders++
		}
	}
	s := fmt.Sprintf("%d of %d members serving", serving, len(r.Members))
	switch {
	case r.Leader != 0:
		s += fmt.Sprintf(", leader %d", r.Leader)
	case len(r.Members) == 1 && serving == 1:
	case leaders > 1:
		s += fmt.Sprintf(", %d leaders", leaders)
	default:
		s += ", no leader"
	}
	if len(notServing) > 0 {
		s += " (" + strings.Join(notServing, ", ") + ")"
	}
	return s
}

// status asks every member for srvr concurrently, each bounded by
// timeout, and judges the whole.
func status(ctx context.Context, dir string, s *Spec, timeout time.Duration) *Report {
	r := &Report{Dir: dir, Connect: s.ConnectString(), Members: make([]MemberStatus, len(s.Members))}
	var wg sync.WaitGroup
	for i, m := range s.Members {
		ms := MemberStatus{ID: m.ID, Observer: m.Observer, Client: s.ClientAddr(m), Log: LogPath(dir, m.ID), Role: RoleStopped}
		if !alive(m.PID, dir, m.ID) {
			r.Members[i] = ms
			continue
		}
		ms.PID = m.PID
		wg.Go(func() { // the only writer of r.Members[i]
			qctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			ms.Role, ms.Zxid, ms.Error = query(qctx, ms.Client)
			r.Members[i] = ms
		})
	}
	wg.Wait()
	r.judge()
	return r
}

// judge sets Leader and Healthy from the members' roles.
func (r *Report) judge() {
	r.Leader = 0
	leaders, serving := 0, 0
	for _, m := range r.Members {
		if m.Role == "leader" {
			leaders++
			r.Leader = m.ID
		}
		if m.Serving() {
			serving++
		}
	}
	if leaders != 1 {
		r.Leader = 0
	}
	single := len(r.Members) == 1 && r.Members[0].Role == "standalone"
	r.Healthy = serving == len(r.Members) && (leaders == 1 || single)
}

// query returns the role and zxid of the server at addr, or why not.
func query(ctx context.Context, addr string) (role, zxid, errMsg string) {
	out, err := fourletter.Query(ctx, addr, "srvr")
	if err != nil {
		return RoleUnreachable, "", err.Error()
	}
	sv, err := fourletter.ParseSrvr(out)
	if errors.Is(err, fourletter.ErrNotServing) {
		return RoleNotServing, "", ""
	}
	if err != nil {
		return RoleUnreachable, "", err.Error()
	}
	return sv.Mode, "0x" + strconv.FormatInt(sv.Zxid, 16), ""
}

// WriteTable prints the report for a human: one row per member (id,
// role, client address, pid, last zxid), then the connect string, the
// directory and a one-line summary.
func (r *Report) WriteTable(w io.Writer) error {
	rows := make([][]string, 0, len(r.Members))
	for _, m := range r.Members {
		pid, zxid := "-", "-"
		if m.PID != 0 {
			pid = strconv.Itoa(m.PID)
		}
		if m.Zxid != "" {
			zxid = m.Zxid
		}
		rows = append(rows, []string{strconv.Itoa(m.ID), m.Role, m.Client, pid, zxid})
	}
	var out strings.Builder
	if err := textable.Write(&out, []string{"ID", "ROLE", "CLIENT", "PID", "ZXID"}, rows); err != nil {
		return fmt.Errorf("ensemble table: %w", err)
	}
	for _, m := range r.Members {
		if m.Error != "" {
			fmt.Fprintf(&out, "server %d: %s\n", m.ID, m.Error)
		}
	}
	fmt.Fprintf(&out, "connect: %s\n", r.Connect)
	fmt.Fprintf(&out, "dir: %s\n", r.Dir)
	fmt.Fprintf(&out, "%s\n", r.Summary())
	_, err := io.WriteString(w, out.String())
	return err
}
