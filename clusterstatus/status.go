package clusterstatus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkgo/zkgo/fourletter"
)

// The states of one server.
const (
	StateUp         = "up"          // answered srvr (or mntr) and serves requests
	StateNotServing = "not-serving" // answered "not currently serving requests"
	StateDown       = "down"        // no usable answer
)

// Health is the verdict on the whole list.
type Health string

// The verdicts, with the exit codes of `zk status`.
const (
	HealthOK       Health = "ok"       // exit 0
	HealthDegraded Health = "degraded" // exit 1
	HealthDown     Health = "down"     // exit 2
)

// DefaultTimeout bounds the queries to one server when Check is given none.
const DefaultTimeout = 2 * time.Second

// Server is what one server said about itself.
type Server struct {
	Addr  string `json:"server" yaml:"server"`
	State string `json:"state" yaml:"state"`
	// Error says why a server is down or what part of its answer was
	// unusable.
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
	// Mode is standalone, leader, follower, observer or read-only.
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Zxid is the last zxid, in hex as srvr prints it ("0x…").
	Zxid string `json:"zxid,omitempty" yaml:"zxid,omitempty"`
	// Latencies in milliseconds, as srvr prints them.
	LatencyMin  int64   `json:"latency_min_ms" yaml:"latency_min_ms"`
	LatencyAvg  float64 `json:"latency_avg_ms" yaml:"latency_avg_ms"`
	LatencyMax  int64   `json:"latency_max_ms" yaml:"latency_max_ms"`
	Connections int64   `json:"connections" yaml:"connections"`
	Outstanding int64   `json:"outstanding" yaml:"outstanding"`
	Znodes      int64   `json:"znodes" yaml:"znodes"`
	Version     string  `json:"version,omitempty" yaml:"version,omitempty"`
	// From mntr, when the server allows it (Apache's default whitelist
	// holds srvr only).
	Mntr            bool   `json:"mntr" yaml:"mntr"`
	PeerState       string `json:"peer_state,omitempty" yaml:"peer_state,omitempty"`
	QuorumSize      int    `json:"quorum_size,omitempty" yaml:"quorum_size,omitempty"`
	SyncedFollowers *int   `json:"synced_followers,omitempty" yaml:"synced_followers,omitempty"`
	// Digest is the server's tree digest at the report's DigestZxid.
	Digest *int64 `json:"digest,omitempty" yaml:"digest,omitempty"`
	// DigestMismatches is mntr's zk_digest_mismatches_count: the times
	// since it started that the server found its tree digest differing
	// from a snapshot's or its leader's.
	DigestMismatches int64 `json:"digest_mismatches,omitempty" yaml:"digest_mismatches,omitempty"`

	digests map[int64]int64 // hash: zxid → tree digest (when whitelisted)
}

// Report is the result of Check.
type Report struct {
	Servers []Server `json:"servers" yaml:"servers"`
	Health  Health   `json:"health" yaml:"health"`
	// Summary says in one line why the health is what it is.
	Summary string `json:"summary" yaml:"summary"`
	// Leader is the address of the one leader, when there is exactly one.
	Leader string `json:"leader,omitempty" yaml:"leader,omitempty"`
	// Up counts servers in state up; Voters is the number of voting
	// members the verdict assumed (zk_quorum_size when mntr gives it, else
	// the list minus the observers seen).
	Up     int `json:"up" yaml:"up"`
	Voters int `json:"voters" yaml:"voters"`
	// DigestZxid is the newest zxid whose tree digest every server that
	// answered hash has logged (hex), when two or more have one: their
	// digests there must agree, or the servers' data has diverged.
	DigestZxid string `json:"digest_zxid,omitempty" yaml:"digest_zxid,omitempty"`
}

// ExitCode is 0 when healthy, 1 when degraded and 2 when no server
// answered.
func (r *Report) ExitCode() int {
	switch r.Health {
	case HealthOK:
		return 0
	case HealthDegraded:
		return 1
	}
	return 2
}

// Check asks every server of addrs for srvr and mntr, concurrently, each
// server's queries bounded by timeout (DefaultTimeout when <= 0), and
// judges the result. It never fails: an unreachable server is reported as
// down.
func Check(ctx context.Context, addrs []string, timeout time.Duration) *Report {
	return CheckTLS(ctx, addrs, timeout, nil)
}

// CheckTLS is Check over TLS (the servers' secureClientPort), or plain
// when tc is nil.
func CheckTLS(ctx context.Context, addrs []string, timeout time.Duration, tc *tls.Config) *Report {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := &Report{Servers: make([]Server, len(addrs))}
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r.Servers[i] = probe(qctx, a, tc)
		})
	}
	wg.Wait()
	r.judge()
	return r
}

// probe asks one server for srvr and mntr at the same time.
func probe(ctx context.Context, addr string, tc *tls.Config) Server {
	s := Server{Addr: addr, State: StateDown}
	var (
		srvrOut, mntrOut, hashOut string
		srvrErr, mntrErr, hashErr error
		wg                        sync.WaitGroup
	)
	wg.Go(func() { srvrOut, srvrErr = fourletter.QueryTLS(ctx, addr, "srvr", tc) })
	wg.Go(func() { mntrOut, mntrErr = fourletter.QueryTLS(ctx, addr, "mntr", tc) })
	wg.Go(func() { hashOut, hashErr = fourletter.QueryTLS(ctx, addr, "hash", tc) })
	wg.Wait()
	if hashErr == nil {
		// Outside the whitelist, or not serving: no lines to take.
		s.digests = parseHash(hashOut)
	}

	var problems []string
	srvrOK := false
	if srvrErr == nil {
		sv, err := fourletter.ParseSrvr(srvrOut)
		switch {
		case errors.Is(err, fourletter.ErrNotServing):
			s.State = StateNotServing
			problems = append(problems, err.Error())
		case err != nil:
			problems = append(problems, err.Error())
		default:
			srvrOK = true
			s.State = StateUp
			s.fromSrvr(sv)
		}
	} else {
		problems = append(problems, srvrErr.Error())
	}

	if mntrErr == nil {
		m, err := fourletter.ParseMntr(mntrOut)
		switch {
		case errors.Is(err, fourletter.ErrNotServing):
			if s.State == StateDown {
				s.State = StateNotServing
			}
		case err == nil:
			s.Mntr = true
			s.fromMntr(m, !srvrOK)
			if !srvrOK && s.Mode != "" {
				s.State = StateUp
			}
		}
		// A mntr outside the whitelist is normal, not a problem.
	}
	if s.State != StateUp {
		s.Error = strings.Join(problems, "; ")
	}
	return s
}

func (s *Server) fromSrvr(sv fourletter.Srvr) {
	s.Mode = sv.Mode
	s.Zxid = "0x" + strconv.FormatUint(uint64(sv.Zxid), 16)
	s.LatencyMin, s.LatencyAvg, s.LatencyMax = sv.LatencyMin, sv.LatencyAvg, sv.LatencyMax
	s.Connections = sv.Connections
	s.Outstanding = sv.Outstanding
	s.Znodes = sv.NodeCount
	s.Version = sv.Version
}

// fromMntr takes the quorum fields of mntr and, when srvr gave nothing
// usable (all is true), the fields srvr would have given.
func (s *Server) fromMntr(m map[string]string, all bool) {
	num := func(k string) (int64, bool) {
		v, ok := m[k]
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	s.PeerState = m["zk_peer_state"]
	if n, ok := num("zk_quorum_size"); ok {
		s.QuorumSize = int(n)
	}
	if n, ok := num("zk_synced_followers"); ok {
		v := int(n)
		s.SyncedFollowers = &v
	}
	s.DigestMismatches, _ = num("zk_digest_mismatches_count")
	if !all {
		return
	}
	s.Mode = m["zk_server_state"]
	s.Version = m["zk_version"]
	s.Znodes, _ = num("zk_znode_count")
	s.Connections, _ = num("zk_num_alive_connections")
	s.Outstanding, _ = num("zk_outstanding_requests")
	s.LatencyMin, _ = num("zk_min_latency")
	s.LatencyMax, _ = num("zk_max_latency")
	if v, err := strconv.ParseFloat(m["zk_avg_latency"], 64); err == nil {
		s.LatencyAvg = v
	}
}

// judge sets Health, Summary, Leader, Up and Voters from the servers.
// parseHash reads hash's "<zxid hex>: <digest>" lines; other lines (a
// refusal, "not serving") are skipped.
func parseHash(out string) map[int64]int64 {
	var m map[int64]int64
	for line := range strings.Lines(out) {
		z, d, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		zxid, err1 := strconv.ParseInt(z, 16, 64)
		digest, err2 := strconv.ParseInt(d, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if m == nil {
			m = map[int64]int64{}
		}
		m[zxid] = digest
	}
	return m
}

// countedMismatches names the servers that counted tree digest
// mismatches (their data went astray from a snapshot's or the leader's at
// some point since they started).
func (r *Report) countedMismatches() (problem string) {
	var parts []string
	for _, s := range r.Servers {
		if s.State == StateUp && s.DigestMismatches > 0 {
			parts = append(parts, fmt.Sprintf("%s (%d)", s.Addr, s.DigestMismatches))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "tree digest mismatches counted on " + strings.Join(parts, ", ")
}

// compareDigests finds the newest zxid whose digest every server that
// logs digests has, and describes a disagreement there.
func (r *Report) compareDigests() (problem string) {
	var logs []*Server
	for i := range r.Servers {
		if s := &r.Servers[i]; s.State == StateUp && len(s.digests) > 0 {
			logs = append(logs, s)
		}
	}
	if len(logs) < 2 {
		return ""
	}
	common := int64(-1)
	for z := range logs[0].digests {
		all := true
		for _, s := range logs[1:] {
			_, ok := s.digests[z]
			all = all && ok
		}
		if all && z > common {
			common = z
		}
	}
	if common < 0 {
		return ""
	}
	r.DigestZxid = fmt.Sprintf("0x%x", common)
	differ := false
	for _, s := range logs {
		d := s.digests[common]
		s.Digest = &d
		differ = differ || d != *logs[0].Digest
	}
	if !differ {
		return ""
	}
	parts := make([]string, len(logs))
	for i, s := range logs {
		parts[i] = fmt.Sprintf("%s has %d", s.Addr, *s.Digest)
	}
	return fmt.Sprintf("tree digests differ at zxid %s: %s", r.DigestZxid, strings.Join(parts, ", "))
}

func (r *Report) judge() {
	n := len(r.Servers)
	var (
		answered, notServing, down            int
		leaders, followers, observers, single []string
		readOnly                              int
		quorumSize                            int
	)
	for _, s := range r.Servers {
		switch s.State {
		case StateUp:
			answered++
			r.Up++
		case StateNotServing:
			answered++
			notServing++
		default:
			down++
		}
		if s.State != StateUp {
			continue
		}
		switch s.Mode {
		case "leader":
			leaders = append(leaders, s.Addr)
		case "follower":
			followers = append(followers, s.Addr)
		case "observer":
			observers = append(observers, s.Addr)
		case "standalone":
			single = append(single, s.Addr)
		case "read-only":
			readOnly++
		}
		quorumSize = max(quorumSize, s.QuorumSize)
	}
	r.Voters = quorumSize
	if r.Voters == 0 {
		r.Voters = n - len(observers)
	}
	if answered == 0 {
		r.Health = HealthDown
		r.Summary = fmt.Sprintf("no server answered (%d listed)", n)
		return
	}
	if len(leaders) == 1 {
		r.Leader = leaders[0]
	}

	var problems []string
	if down > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d servers down", down, n))
	}
	if notServing > 0 {
		problems = append(problems, fmt.Sprintf("%d not serving requests", notServing))
	}
	if readOnly > 0 {
		problems = append(problems, fmt.Sprintf("%d in read-only mode", readOnly))
	}
	if p := r.compareDigests(); p != "" {
		problems = append(problems, p)
	}
	if p := r.countedMismatches(); p != "" {
		problems = append(problems, p)
	}
	switch {
	case n == 1 && len(single) == 1:
		// A single standalone server is a whole service.
	case len(single) > 0:
		problems = append(problems, fmt.Sprintf("%d standalone servers in a list of %d: not one ensemble", len(single), n))
	case len(leaders) == 0:
		problems = append(problems, "no leader")
	case len(leaders) > 1:
		problems = append(problems, fmt.Sprintf("%d servers claim to lead (%s)", len(leaders), strings.Join(leaders, ", ")))
	default:
		if agree := 1 + len(followers); agree*2 <= r.Voters {
			problems = append(problems, fmt.Sprintf("no quorum: leader and %d followers of %d voters", len(followers), r.Voters))
		}
	}
	if len(problems) > 0 {
		r.Health = HealthDegraded
		r.Summary = strings.Join(problems, "; ")
		return
	}
	r.Health = HealthOK
	if len(single) == 1 {
		r.Summary = "standalone server up"
		return
	}
	r.Summary = fmt.Sprintf("leader %s, %s, %s, all %d servers up", r.Leader, plural(len(followers), "follower"), plural(len(observers), "observer"), n)
	if r.DigestZxid != "" {
		r.Summary += "; tree digests agree at zxid " + r.DigestZxid
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
