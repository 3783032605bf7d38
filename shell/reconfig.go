package shell

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
)

// opReconfig is ZooDefs.OpCode.reconfig.
const opReconfig = 16

const reconfigUsage = "reconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]"

// reconfigRequest is ReconfigRequest.jute. Unset parts must go out as
// null strings (length -1), as ZooKeeperAdmin sends them: the server tells
// an incremental reconfig (joining/leaving) from a new membership by which
// of them are null. go-zookeeper encodes a nil []byte as null.
type reconfigRequest struct {
	JoiningServers []byte
	LeavingServers []byte
	NewMembers     []byte
	CurConfigID    int64
}

// reconfigResponse is GetDataResponse: the new /zookeeper/config.
type reconfigResponse struct {
	Data []byte
	Stat zk.Stat
}

// Reconfig asks the leader to change the ensemble membership, as
// ZooKeeperAdmin.reconfigure does: joining and leaving for an incremental
// change, members for a new membership; nil for the parts not given.
// fromConfig is the config version the change applies to (-1: any).
// It returns the new configuration text and the Stat of /zookeeper/config.
func (c *Client) Reconfig(joining, leaving, members []byte, fromConfig int64) ([]byte, *zk.Stat, error) {
	res := &reconfigResponse{}
	req := &reconfigRequest{JoiningServers: joining, LeavingServers: leaving, NewMembers: members, CurConfigID: fromConfig}
	if _, err := zkRequest(c.Conn, opReconfig, req, res, nil); err != nil {
		return nil, nil, wrapUnknown(err)
	}
	return res.Data, &res.Stat, nil
}

// parseReconfig checks a reconfig command line as ReconfigCommand.parse
// does (3.8), with its messages, and returns the request parts.
func parseReconfig(o Options) (joining, leaving, members []byte, version int64, err error) {
	usage := func(msg string) error { return &UsageError{Msg: msg, Usage: reconfigUsage} }
	nonIncr := o.Has("file") || o.Has("members")
	if !nonIncr && !o.Has("add") && !o.Has("remove") {
		return nil, nil, nil, 0, &UsageError{Usage: reconfigUsage}
	}
	version = -1
	if v, ok := o["v"]; ok {
		// The version is hexadecimal, as /zookeeper/config prints it.
		version, err = strconv.ParseInt(v, 16, 64)
		if err != nil {
			return nil, nil, nil, 0, usage("-v must be followed by a long (configuration version)")
		}
	}
	if nonIncr && (o.Has("add") || o.Has("remove")) {
		return nil, nil, nil, 0, usage("Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)")
	}
	if o.Has("file") && o.Has("members") {
		return nil, nil, nil, 0, usage("Can't use -file and -members together (conflicting non-incremental modes)")
	}
	if v, ok := o["add"]; ok {
		joining = []byte(strings.ToLower(v))
	}
	if v, ok := o["remove"]; ok {
		leaving = []byte(strings.ToLower(v))
	}
	if v, ok := o["members"]; ok {
		members = []byte(strings.ToLower(v))
	}
	if f, ok := o["file"]; ok {
		m, ferr := membersFromFile(f)
		if ferr != nil {
			// zkCli.sh glues the file name and the reason together.
			return nil, nil, nil, 0, &CommandError{Msg: "Error processing " + f + ferr.Error(), Err: ferr}
		}
		members = []byte(m)
	}
	return joining, leaving, members, version, nil
}

// membersFromFile reads a dynamic configuration file (server.N=... lines,
// optional version=hex) and renders it as QuorumMaj.toString does in 3.8:
// one normalised "server.N=host:port:port:type;clientHost:clientPort" line
// per member, sorted by id, then "version=<hex>". The leader checks the
// membership again.
func membersFromFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("%s (%s)", name, javaIOReason(pe.Err))
		}
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return "", fmt.Errorf("%s (Is a directory)", name)
	}
	type member struct {
		id   int64
		line string
	}
	var ms []member
	version := int64(0)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.HasPrefix(k, "server."):
			id, err := strconv.ParseInt(k[len("server."):], 10, 64)
			if err != nil {
				return "", fmt.Errorf("%s: bad server id", k)
			}
			s, err := normaliseServer(v)
			if err != nil {
				return "", fmt.Errorf("%s: %w", k, err)
			}
			ms = append(ms, member{id, fmt.Sprintf("server.%d=%s", id, s)})
		case k == "version":
			if version, err = strconv.ParseInt(v, 16, 64); err != nil {
				return "", fmt.Errorf("version: not a hexadecimal number: %s", v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if len(ms) == 0 {
		return "", errors.New(" has no server.N entries")
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.line + "\n")
	}
	b.WriteString("version=" + strconv.FormatInt(version, 16))
	return b.String(), nil
}

// normaliseServer parses "host:port:port[:type][;[clientHost:]clientPort]"
// and prints it as QuorumServer.toString: the type always, the client
// address 0.0.0.0 when only a port is given.
func normaliseServer(v string) (string, error) {
	addr, client, hasClient := strings.Cut(v, ";")
	host, rest := "", addr
	if strings.HasPrefix(addr, "[") {
		// An IPv6 address: [::1]:2888:3888.
		if i := strings.Index(addr, "]"); i > 0 {
			host, rest = addr[:i+1], addr[i+1:]
		}
	} else if i := strings.IndexByte(addr, ':'); i >= 0 {
		host, rest = addr[:i], addr[i:]
	}
	parts := append([]string{host}, strings.Split(strings.TrimPrefix(rest, ":"), ":")...)
	if host == "" || !strings.HasPrefix(rest, ":") || len(parts) < 3 || len(parts) > 4 {
		return "", fmt.Errorf("%s does not have the form host:port:port or host:port:port:type", addr)
	}
	for _, p := range parts[1:3] {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return "", fmt.Errorf("%s is not a valid port", p)
		}
	}
	typ := "participant"
	if len(parts) == 4 {
		switch strings.ToLower(parts[3]) {
		case "participant":
		case "observer":
			typ = "observer"
		default:
			return "", fmt.Errorf("unrecognised peertype: %s", parts[3])
		}
	}
	out := strings.Join(parts[:3], ":") + ":" + typ
	if hasClient {
		host, port := "0.0.0.0", client
		if h, p, err := net.SplitHostPort(client); err == nil {
			host, port = h, p
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return "", fmt.Errorf("%s is not a valid client port", port)
		}
		out += ";" + host + ":" + port
	}
	return out, nil
}

// javaIOReason is the reason FileInputStream gives for an open failure.
func javaIOReason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "Permission denied"
	}
	return err.Error()
}

// reconfigError is the zkCli.sh sentence for a failed reconfig: the
// KeeperException has an empty path, so "KeeperErrorCode = <name>" with no
// " for path", and two codes have their own sentence.
func reconfigError(err error) error {
	var msg string
	var ke *KeeperError
	switch {
	case errors.As(err, &ke) && ke.Name == "ReconfigInProgress":
		msg = "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
	case errors.As(err, &ke) && ke.Name == "NewConfigNoQuorum":
		msg = "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced"
	case errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoAuth),
		errors.Is(err, zk.ErrInvalidACL), errors.Is(err, zk.ErrBadArguments), errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrNotEmpty), errors.Is(err, zk.ErrNoChildrenForEphemerals):
		return cliError(err, "")
	default:
		if n := keeperName(err); n != "" {
			msg = "KeeperErrorCode = " + n
		} else {
			msg = "reconfig: " + err.Error()
		}
	}
	return &CommandError{Msg: msg, Err: err}
}

func runReconfig(inv *Invocation) error {
	joining, leaving, members, version, err := parseReconfig(inv.Opts)
	if err != nil {
		return err
	}
	c, err := inv.Shell.Client(inv.Ctx)
	if err != nil {
		return err
	}
	data, st, err := c.Reconfig(joining, leaving, members, version)
	if err != nil {
		return reconfigError(err)
	}
	if inv.JSON() {
		servers, ver := parseConfigText(string(data))
		out := struct {
			Servers map[string]string `json:"servers" yaml:"servers"`
			Version string            `json:"version,omitempty" yaml:"version,omitempty"`
			Stat    *StatJSON         `json:"stat,omitempty" yaml:"stat,omitempty"`
		}{Servers: servers, Version: ver}
		if inv.Opts.Has("s") {
			out.Stat = statJSON(st)
		}
		return inv.Value(out)
	}
	fmt.Fprintln(inv.Out, "Committed new configuration:\n"+string(data))
	if inv.Opts.Has("s") {
		writeStatText(inv.Out, st)
	}
	return nil
}

// parseConfigText splits /zookeeper/config text into its server lines
// (key -> value) and version.
func parseConfigText(text string) (map[string]string, string) {
	members := map[string]string{}
	version := ""
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if k == "version" {
			version = v
		} else {
			members[k] = v
		}
	}
	return members, version
}
