package txn

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// TypeReconfig is the txn of a committed reconfig. Its Data is the new
// membership as server.N lines (each ending in a newline); the version of
// that membership is the txn's zxid, so /zookeeper/config gets the lines
// plus "version=<hex zxid>" when the txn is applied, as Apache's
// QuorumVerifier text.
const TypeReconfig = wire.OpReconfig

// ConfigNode is the znode that shows the membership.
const ConfigNode = "/zookeeper/config"

// Quorum is what the prep step of reconfig needs from the replication
// layer (zab.Peer on the leader).
type Quorum interface {
	// Membership is the active configuration, its version, and whether a
	// reconfig is proposed but not committed yet.
	Membership() (servers []config.Server, version int64, pending bool)
	// QuorumSynced reports whether a quorum of the voters of servers is
	// connected to this leader and in broadcast.
	QuorumSynced(servers []config.Server) bool
}

// ReconfigRequest is wire's ReconfigRequest keeping null strings apart from
// empty ones: newMembers non-null asks for a new membership, otherwise
// joining and leaving change the current one (Apache tells the two forms
// apart by null, not by emptiness).
type ReconfigRequest struct {
	JoiningServers, LeavingServers, NewMembers *string
	CurConfigID                                int64
}

func encodeNullable(e *wire.Encoder, s *string) {
	if s == nil {
		e.NullString()
		return
	}
	e.String(*s)
}

func decodeNullable(d *wire.Decoder) *string {
	s, ok := d.NullableString()
	if !ok {
		return nil
	}
	return &s
}

// Encode writes the request as ReconfigRequest.jute.
func (r *ReconfigRequest) Encode(e *wire.Encoder) {
	encodeNullable(e, r.JoiningServers)
	encodeNullable(e, r.LeavingServers)
	encodeNullable(e, r.NewMembers)
	e.Long(r.CurConfigID)
}

// Decode reads ReconfigRequest.jute.
func (r *ReconfigRequest) Decode(d *wire.Decoder) {
	r.JoiningServers = decodeNullable(d)
	r.LeavingServers = decodeNullable(d)
	r.NewMembers = decodeNullable(d)
	r.CurConfigID = d.Long()
}

// errBadArguments carries Apache's message for a malformed reconfig.
func errBadArguments(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{wire.ErrBadArguments}, args...)...)
}

// NextMembership computes the membership a reconfig asks for, as Apache's
// PrepRequestProcessor: newMembers (lines or commas of server.N=spec; a
// version line is ignored) replaces the membership; otherwise leaving ids
// are removed from cur and joining server.N=spec entries (which must give
// a client port) are added or replace the member of that id. Errors wrap
// wire.ErrBadArguments.
func NextMembership(cur []config.Server, r *ReconfigRequest) ([]config.Server, error) {
	var next []config.Server
	if r.NewMembers != nil {
		seen := map[int64]bool{}
		for _, line := range strings.FieldsFunc(*r.NewMembers, func(c rune) bool { return c == ',' || c == '\n' }) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, val, ok := strings.Cut(line, "=")
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			if !ok {
				return nil, errBadArguments("%q is not key=value", line)
			}
			if key == "version" {
				continue
			}
			s, err := parseServerEntry(key, val)
			if err != nil {
				return nil, err
			}
			if seen[s.ID] {
				return nil, errBadArguments("server %d is listed twice", s.ID)
			}
			seen[s.ID] = true
			next = append(next, s)
		}
	} else {
		byID := map[int64]config.Server{}
		for _, s := range cur {
			byID[s.ID] = s
		}
		if r.LeavingServers != nil {
			for _, l := range strings.Split(*r.LeavingServers, ",") {
				l = strings.TrimSpace(l)
				if l == "" {
					continue
				}
				id, err := strconv.ParseInt(l, 10, 64)
				if err != nil {
					return nil, errBadArguments("%q is not a server id", l)
				}
				delete(byID, id)
			}
		}
		if r.JoiningServers != nil {
			for _, j := range strings.Split(*r.JoiningServers, ",") {
				j = strings.TrimSpace(j)
				if j == "" {
					continue
				}
				key, val, ok := strings.Cut(j, "=")
				if !ok || strings.Contains(val, "=") {
					return nil, errBadArguments("Wrong format of server string")
				}
				s, err := parseServerEntry(strings.TrimSpace(key), strings.TrimSpace(val))
				if err != nil {
					return nil, err
				}
				if s.ClientPort == 0 {
					return nil, errBadArguments("Wrong format of server string - each server should have at least 3 ports specified")
				}
				byID[s.ID] = s
			}
		}
		for _, s := range byID {
			next = append(next, s)
		}
	}
	slices.SortFunc(next, func(a, b config.Server) int { return cmp.Compare(a.ID, b.ID) })
	if err := checkAddresses(next); err != nil {
		return nil, err
	}
	return next, nil
}

// parseServerEntry parses "server.N" = "host:port:port[:role][;[addr:]port]";
// an incremental joiner may also be written "N=…" (Apache takes the id
// after the last dot).
func parseServerEntry(key, val string) (config.Server, error) {
	idStr := key[strings.LastIndex(key, ".")+1:]
	if strings.Contains(key, ".") && !strings.HasPrefix(key, "server.") {
		return config.Server{}, errBadArguments("%q is not a server.N key", key)
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return config.Server{}, errBadArguments("%q: the server id is not a positive integer", key)
	}
	s, err := config.ParseServer(id, val, false)
	if err != nil {
		return config.Server{}, errBadArguments("server.%d: %v", id, err)
	}
	return s, nil
}

// checkAddresses refuses two members on one quorum or election address
// (Apache's QuorumServer.checkAddressDuplicate).
func checkAddresses(ss []config.Server) error {
	seen := map[string]int64{}
	for _, s := range ss {
		for _, port := range []int{s.QuorumPort, s.ElectionPort} {
			a := s.Host + ":" + strconv.Itoa(port)
			if other, dup := seen[a]; dup && other != s.ID {
				return errBadArguments("Reconfiguration failed")
			}
			seen[a] = s.ID
		}
	}
	return nil
}

// ConfigText is /zookeeper/config's content for a membership and version.
func ConfigText(members string, version int64) []byte {
	return []byte(members + "version=" + strconv.FormatInt(version, 16))
}

// ParseConfigText reads /zookeeper/config's content (or a dynamic config
// file): server.N lines and a version line.
func ParseConfigText(b []byte) (servers []config.Server, version int64, err error) {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, 0, fmt.Errorf("config line %q is not key=value", line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "version" {
			v, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("config version %q: %w", val, err)
			}
			version = int64(v)
			continue
		}
		s, err := parseServerEntry(key, val)
		if err != nil {
			return nil, 0, err
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return nil, 0, errors.New("config lists no server")
	}
	return servers, version, nil
}

// prepReconfig checks a reconfig on the leader in the order of Apache's
// PrepRequestProcessor and returns the txn body.
func (p *Prep) prepReconfig(o *overlay, req *Request, t *Txn) (*Txn, error) {
	if p.opts.Quorum == nil {
		return nil, wire.ErrUnimplemented // standalone
	}
	cur, version, pending := p.opts.Quorum.Membership()
	if pending {
		return nil, &wire.Error{Code: wire.CodeReconfigInProgress}
	}
	r, ok := req.Body.(*ReconfigRequest)
	if !ok {
		return nil, wire.ErrMarshallingError
	}
	if r.CurConfigID != -1 && r.CurConfigID != version {
		return nil, wire.ErrBadVersion
	}
	next, err := NextMembership(cur, r)
	if err != nil {
		return nil, err
	}
	voters := config.Voters(next)
	if (p.opts.StandaloneEnabled && voters < 2) || voters < 1 {
		return nil, errBadArguments("Reconfig failed - new configuration must include at least %d followers", min(2, max(voters+1, 1)))
	}
	if !p.opts.Quorum.QuorumSynced(next) {
		return nil, &wire.Error{Code: wire.CodeNewConfigNoQuorum}
	}
	if err := p.checkACL(o.get(ConfigNode), wire.PermWrite, req); err != nil {
		return nil, err
	}
	t.Type = TypeReconfig
	t.Path = ConfigNode
	t.Data = []byte(config.ServerLines(next))
	return t, nil
}

// EnableReconfig gives the prep step the replication layer it asks
// reconfig's questions of (the leader's peer), and standaloneEnabled.
func (p *Prep) EnableReconfig(q Quorum, standaloneEnabled bool) {
	p.mu.Lock()
	p.opts.Quorum = q
	p.opts.StandaloneEnabled = standaloneEnabled
	p.mu.Unlock()
}
