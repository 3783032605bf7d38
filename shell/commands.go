package shell

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/wire"
)

// ArgKind says what a positional argument is, for completion.
type ArgKind int

// Argument kinds.
const (
	ArgOther ArgKind = iota
	ArgPath
	ArgData
	ArgACL
	ArgFile
)

// Command is one shell command.
type Command struct {
	Name      string
	Aliases   []string
	Usage     string // zkCli-style usage line
	Help      string // one line
	Flags     []Flag
	MinArgs   int
	MaxArgs   int // -1: unlimited
	Args      []ArgKind
	Output    bool // accepts -o text|json|yaml
	NeedsConn bool
	Run       func(*Invocation) error
}

func commandTable() []*Command {
	cmds := []*Command{
		{Name: "ls", Usage: "ls [-s] [-w] [-R] [-l] path", Help: "list the children of a znode",
			Flags:   []Flag{{Name: "s", Help: "print the stat too"}, {Name: "w", Help: "set a child watch"}, {Name: "R", Help: "list the subtree recursively"}, {Name: "l", Help: "long listing: a table with type, sizes and versions"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runLs},
		{Name: "ls2", Usage: "ls2 path [watch]", Help: "list children and stat (the old ls -s)",
			MinArgs: 1, MaxArgs: 2, Args: []ArgKind{ArgPath, ArgOther}, Output: true, NeedsConn: true, Run: runLs2},
		{Name: "create", Usage: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", Help: "create a znode",
			Flags: []Flag{{Name: "s", Help: "sequential"}, {Name: "e", Help: "ephemeral"}, {Name: "c", Help: "container"}, {Name: "t", Arg: "ttl", Help: "TTL in ms"},
				{Name: "f", Arg: "file", Help: "read data from a file (- for stdin)"}},
			MinArgs: 1, MaxArgs: 3, Args: []ArgKind{ArgPath, ArgData, ArgACL}, Output: true, NeedsConn: true, Run: runCreate},
		{Name: "get", Usage: "get [-s] [-w] [-b] [-x] path", Help: "print a znode's data",
			Flags: []Flag{{Name: "s", Help: "print the stat too"}, {Name: "w", Help: "set a data watch"}, {Name: "base64", Long: true, Help: "print data in base64"},
				{Name: "b", Help: "print data in base64"}, {Name: "x", Help: "print data as a hex dump"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runGet},
		{Name: "set", Usage: "set [-s] [-v version] path data", Help: "set a znode's data",
			Flags: []Flag{{Name: "s", Help: "print the stat"}, {Name: "v", Arg: "version", Help: "expected version"},
				{Name: "f", Arg: "file", Help: "read data from a file (- for stdin)"}, {Name: "b", Help: "data is base64"}},
			MinArgs: 1, MaxArgs: 2, Args: []ArgKind{ArgPath, ArgData}, Output: true, NeedsConn: true, Run: runSet},
		{Name: "stat", Usage: "stat [-w] path", Help: "print a znode's stat",
			Flags:   []Flag{{Name: "w", Help: "set a watch"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runStat},
		{Name: "delete", Usage: "delete [-v version] path", Help: "delete a znode",
			Flags:   []Flag{{Name: "v", Arg: "version", Help: "expected version"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, NeedsConn: true, Run: runDelete},
		{Name: "deleteall", Aliases: []string{"rmr"}, Usage: "deleteall path [-b batch size]", Help: "delete a znode and its subtree",
			Flags:   []Flag{{Name: "b", Arg: "batch size", Help: "deletes per multi"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, NeedsConn: true, Run: runDeleteAll},
		{Name: "sync", Usage: "sync path", Help: "sync the server with the leader",
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runSync},
		{Name: "addauth", Usage: "addauth scheme auth", Help: "add an auth identity to the session",
			MinArgs: 1, MaxArgs: 2, NeedsConn: true, Run: runAddAuth},
		{Name: "getAcl", Usage: "getAcl [-s] path", Help: "print a znode's ACL",
			Flags:   []Flag{{Name: "s", Help: "print the stat too"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runGetACL},
		{Name: "setAcl", Usage: "setAcl [-s] [-v version] [-R] path acl", Help: "set a znode's ACL",
			Flags:   []Flag{{Name: "s", Help: "print the stat"}, {Name: "v", Arg: "version", Help: "expected ACL version"}, {Name: "R", Help: "recursive"}},
			MinArgs: 2, MaxArgs: 2, Args: []ArgKind{ArgPath, ArgACL}, Output: true, NeedsConn: true, Run: runSetACL},
		{Name: "addWatch", Usage: "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", Help: "add a persistent watch",
			Flags:   []Flag{{Name: "m", Arg: "mode", Help: "PERSISTENT or PERSISTENT_RECURSIVE"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, NeedsConn: true, Run: runAddWatch},
		{Name: "removewatches", Usage: "removewatches path [-c|-d|-a] [-l]", Help: "remove watches",
			Flags:   []Flag{{Name: "c", Help: "child watches"}, {Name: "d", Help: "data watches"}, {Name: "a", Help: "any watches"}, {Name: "l", Help: "local only"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, NeedsConn: true, Run: runRemoveWatches},
		{Name: "getEphemerals", Usage: "getEphemerals path", Help: "list this session's ephemeral znodes",
			MinArgs: 0, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runGetEphemerals},
		{Name: "getAllChildrenNumber", Usage: "getAllChildrenNumber path", Help: "count all descendants",
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runGetAllChildrenNumber},
		{Name: "whoami", Usage: "whoami ", Help: "print the session's auth identities",
			MaxArgs: 0, Output: true, NeedsConn: true, Run: runWhoAmI},
		{Name: "config", Usage: "config [-c] [-w] [-s]", Help: "print the ensemble configuration",
			Flags:   []Flag{{Name: "c", Help: "client connection string only"}, {Name: "w", Help: "set a watch"}, {Name: "s", Help: "print the stat too"}},
			MaxArgs: 0, Output: true, NeedsConn: true, Run: runConfig},
		{Name: "reconfig", Usage: reconfigUsage, Help: "change the ensemble membership (needs reconfigEnabled=true on the servers)",
			Flags: []Flag{{Name: "s", Help: "print the stat of /zookeeper/config too"}, {Name: "v", Arg: "version", Help: "only if the config version (hex) is still this one"},
				{Name: "file", Arg: "path", Help: "new membership from a dynamic config file"}, {Name: "members", Arg: "servers", Help: "new membership: serverID=host:port1:port2;port3,..."},
				{Name: "add", Arg: "servers", Help: "servers to add: serverId=host:port1:port2;port3,..."}, {Name: "remove", Arg: "ids", Help: "server ids to remove: id,..."}},
			MaxArgs: 0, Output: true, Run: runReconfig},
		{Name: "connect", Usage: "connect host:port", Help: "connect to another server (new session)",
			MinArgs: 0, MaxArgs: 1, Run: runConnect},
		{Name: "close", Usage: "close ", Help: "close the session", MaxArgs: 0, Run: runClose},
		{Name: "printwatches", Usage: "printwatches on|off", Help: "print watch events or not",
			MaxArgs: 1, Run: runPrintWatches},
		{Name: "history", Usage: "history ", Help: "list recent commands", MaxArgs: 0, Run: runHistory},
		{Name: "redo", Usage: "redo cmdno", Help: "run a command from the history", MinArgs: 1, MaxArgs: 1, Run: runRedo},
		{Name: "version", Usage: "version ", Help: "print the zk version", MaxArgs: 0, Run: runVersion},
		{Name: "help", Usage: "help ", Help: "list the commands; help COMMAND describes one", MaxArgs: 1, Run: runHelp},
		{Name: "quit", Aliases: []string{"exit"}, Usage: "quit ", Help: "leave the shell", MaxArgs: 0, Run: runQuit},
	}
	cmds = append(cmds, quotaCommandTable()...)
	return append(cmds, extraCommandTable()...)
}

func runLs(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	switch {
	case inv.Opts.Has("R"):
		return runLsR(inv, p)
	case inv.Opts.Has("l"):
		return runLsLong(inv, p)
	}
	children, st, err := inv.C.Children(p, inv.Opts.Has("w"))
	if err != nil {
		return cliError(err, p)
	}
	sort.Strings(children)
	if inv.JSON() {
		if inv.Opts.Has("s") {
			return inv.Value(struct {
				Path     string    `json:"path" yaml:"path"`
				Children []string  `json:"children" yaml:"children"`
				Stat     *StatJSON `json:"stat" yaml:"stat"`
			}{p, children, statJSON(st)})
		}
		return inv.Value(children)
	}
	fmt.Fprintln(inv.Out, javaList(children))
	if inv.Opts.Has("s") {
		writeStatText(inv.Out, st)
	}
	return nil
}

func runLs2(inv *Invocation) error {
	inv.Opts["s"] = ""
	if len(inv.Args) > 1 {
		inv.Opts["w"] = ""
		inv.Args = inv.Args[:1]
	}
	return runLs(inv)
}

// runLsR lists the subtree depth-first, one full path a line, as
// ZKUtil.visitSubTreeDFS does in zkCli.sh 3.8 (the node itself first).
func runLsR(inv *Invocation, p string) error {
	t, err := listSubtree(inv.C, p)
	if err != nil {
		return err
	}
	paths := t.dfs()
	if inv.JSON() {
		return inv.Value(paths)
	}
	for _, q := range paths {
		fmt.Fprintln(inv.Out, q)
	}
	return nil
}

// listSubtreeBFS returns p and its descendants in breadth-first order, the
// order of ZKUtil.listSubTreeBFS (children sorted at each level).
func listSubtreeBFS(c *Client, p string) ([]string, error) {
	t, err := listSubtree(c, p)
	if err != nil {
		return nil, err
	}
	return t.bfs(), nil
}

func readData(inv *Invocation, dataArg int) ([]byte, bool, error) {
	if f, ok := inv.Opts["f"]; ok {
		var b []byte
		var err error
		if f == "-" {
			b, err = io.ReadAll(inv.Shell.cfg.In)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, false, fmt.Errorf("read data: %w", err)
		}
		return b, true, nil
	}
	if dataArg >= len(inv.Args) {
		return nil, false, nil
	}
	d := inv.Args[dataArg]
	if d == "-" {
		b, err := io.ReadAll(inv.Shell.cfg.In)
		if err != nil {
			return nil, false, fmt.Errorf("read data from stdin: %w", err)
		}
		return b, true, nil
	}
	return []byte(d), true, nil
}

func runCreate(inv *Invocation) error {
	p := inv.Arg(0, "")
	o := inv.Opts
	m := CreateMode{Sequential: o.Has("s"), Ephemeral: o.Has("e"), Container: o.Has("c")}
	if m.Container && (m.Sequential || m.Ephemeral) {
		return &CommandError{Msg: "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."}
	}
	if t, ok := o["t"]; ok {
		if m.Ephemeral || m.Container {
			return &CommandError{Msg: "-t cannot be combined with -c or -e. TTL cannot be ephemeral or container."}
		}
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return &CommandError{Msg: "-t argument must be a long value"}
		}
		m.TTL = time.Duration(ms) * time.Millisecond
		if m.TTL <= 0 {
			return cliError(zk.ErrBadArguments, p)
		}
	}
	dataIdx, aclIdx := 1, 2
	if o.Has("f") {
		aclIdx = 1
		if len(inv.Args) > 2 {
			return &UsageError{Usage: inv.Cmd.Usage}
		}
	}
	data, _, err := readData(inv, dataIdx)
	if err != nil {
		return err
	}
	acl := zk.WorldACL(zk.PermAll)
	if aclIdx < len(inv.Args) {
		acl, err = parseACL(inv.Err, inv.Args[aclIdx])
		if err != nil {
			return err
		}
	}
	if err := ValidatePath(p); err != nil && !(m.Sequential && strings.HasSuffix(p, "/")) {
		return &CommandError{Msg: err.Error(), Err: err}
	}
	out, err := inv.C.Create(p, data, m, acl)
	if err != nil {
		return cliError(err, p)
	}
	if inv.JSON() {
		return inv.Value(struct {
			Path string `json:"path" yaml:"path"`
		}{out})
	}
	// zkCli.sh 3.8 prints this on stderr.
	fmt.Fprintln(inv.Err, "Created "+out)
	return nil
}

func runGet(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	data, st, err := inv.C.Get(p, inv.Opts.Has("w"))
	if err != nil {
		return cliError(err, p)
	}
	b64 := inv.Opts.Has("base64") || inv.Opts.Has("b")
	if inv.JSON() {
		d, enc := encodeData(data, b64)
		return inv.Value(NodeJSON{Path: p, Data: d, Encoding: enc, Stat: statJSON(st)})
	}
	switch {
	case data == nil:
		fmt.Fprintln(inv.Out, "null")
	case b64:
		fmt.Fprintln(inv.Out, base64.StdEncoding.EncodeToString(data))
	case inv.Opts.Has("x"):
		fmt.Fprintln(inv.Out, hexDump(data))
	default:
		fmt.Fprintln(inv.Out, string(data))
	}
	if inv.Opts.Has("s") {
		writeStatText(inv.Out, st)
	}
	return nil
}

func runSet(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	data, ok, err := readData(inv, 1)
	if err != nil {
		return err
	}
	if !ok {
		return &UsageError{Usage: inv.Cmd.Usage}
	}
	if inv.Opts.Has("b") {
		dec, err := base64.StdEncoding.DecodeString(string(data))
		if err != nil {
			return &CommandError{Msg: "data is not valid base64: " + err.Error()}
		}
		data = dec
	}
	version, err := expectedVersion(inv)
	if err != nil {
		return err
	}
	st, err := inv.C.Set(p, data, version)
	if err != nil {
		return cliError(err, p)
	}
	return writeChangedStat(inv, st)
}

// writeChangedStat ends set and setAcl: the new Stat as the value with
// -o json or yaml, as zkCli's Stat block with -s, else nothing.
func writeChangedStat(inv *Invocation, st *zk.Stat) error {
	if inv.JSON() {
		return inv.Value(statJSON(st))
	}
	if inv.Opts.Has("s") {
		writeStatText(inv.Out, st)
	}
	return nil
}

// expectedVersion is the -v option of set, delete and setAcl: the version
// the znode must have, -1 (any) when the option is not given.
func expectedVersion(inv *Invocation) (int32, error) {
	version, ok := inv.Opts.Int32("v", -1)
	if !ok {
		return 0, &CommandError{Msg: "version " + inv.Opts["v"] + " is not a number"}
	}
	return version, nil
}

func runStat(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	st, err := inv.C.Exists(p, inv.Opts.Has("w"))
	if err != nil {
		return cliError(err, p)
	}
	if st == nil {
		return cliError(zk.ErrNoNode, p)
	}
	if inv.JSON() {
		return inv.Value(statJSON(st))
	}
	writeStatText(inv.Out, st)
	return nil
}

func runDelete(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	version, err := expectedVersion(inv)
	if err != nil {
		return err
	}
	return cliError(inv.C.Delete(p, version), p)
}

// runDeleteAll deletes the subtree deepest first in multis of -b deletes,
// as ZKUtil.deleteRecursive does in 3.8.
func runDeleteAll(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	batch, ok := inv.Opts.Int32("b", 1000)
	if !ok || batch <= 0 {
		return &CommandError{Msg: "batch size must be a positive integer"}
	}
	if p == "/" {
		return &CommandError{Msg: "Arguments are not valid : /"}
	}
	t, err := listSubtree(inv.C, p)
	if err != nil {
		return err
	}
	// Deepest level first, as ZKUtil.deleteRecursive deletes its
	// breadth-first list backwards; the multis of one level go out
	// together (no node of a level is another's ancestor), and the next
	// level waits for them.
	levels := t.levels()
	for d := len(levels) - 1; d >= 0; d-- {
		level := levels[d]
		n := (len(level) + int(batch) - 1) / int(batch)
		err := eachConcurrent(n, func(b int) error {
			chunk := level[b*int(batch) : min((b+1)*int(batch), len(level))]
			ops := make([]any, len(chunk))
			for i, q := range chunk {
				ops[i] = inv.C.MultiDelete(q, -1)
			}
			if _, err := inv.C.Multi(ops...); err != nil {
				return cliError(err, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func runSync(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	err = inv.C.Sync(p)
	if inv.JSON() {
		if err != nil {
			return cliError(err, p)
		}
		return inv.Value(struct {
			Path string `json:"path" yaml:"path"`
			OK   bool   `json:"ok" yaml:"ok"`
		}{p, true})
	}
	if err != nil {
		// As zkCli.sh: "Sync has failed. rc=<code>".
		return &CommandError{Msg: "Sync has failed. rc=" + keeperName(err), Err: err}
	}
	fmt.Fprintln(inv.Out, "Sync is OK")
	return nil
}

func runAddAuth(inv *Invocation) error {
	var auth []byte
	if len(inv.Args) > 1 {
		auth = []byte(inv.Args[1])
	}
	if err := inv.C.AddAuth(inv.Args[0], auth); err != nil {
		return &CommandError{Msg: "addauth " + inv.Args[0] + ": " + keeperOrErr(err), Err: err}
	}
	return nil
}

func keeperOrErr(err error) string {
	if n := keeperName(err); n != "" {
		return n
	}
	return err.Error()
}

func runGetACL(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	acl, st, err := inv.C.GetACL(p)
	if err != nil {
		return cliError(err, p)
	}
	if inv.JSON() {
		if inv.Opts.Has("s") {
			return inv.Value(struct {
				Path string    `json:"path" yaml:"path"`
				ACL  []ACLJSON `json:"acl" yaml:"acl"`
				Stat *StatJSON `json:"stat" yaml:"stat"`
			}{p, aclJSON(acl), statJSON(st)})
		}
		return inv.Value(aclJSON(acl))
	}
	for _, a := range acl {
		fmt.Fprintf(inv.Out, "'%s,'%s\n: %s\n", a.Scheme, a.ID, wire.PermString(a.Perms))
	}
	if inv.Opts.Has("s") {
		writeStatText(inv.Out, st)
	}
	return nil
}

// parseACL parses "scheme:id:perms[,...]" as zkCli's AclParser: the id is
// everything between the first and the last colon; bad entries are
// reported on w and skipped.
func parseACL(w io.Writer, s string) ([]zk.ACL, error) {
	var out []zk.ACL
	for _, a := range strings.Split(s, ",") {
		first, last := strings.IndexByte(a, ':'), strings.LastIndexByte(a, ':')
		if first == -1 || first == last {
			fmt.Fprintln(w, a+" does not have the form scheme:id:perm")
			continue
		}
		var perms int32
		for _, r := range a[last+1:] {
			switch r {
			case 'r', 'R':
				perms |= zk.PermRead
			case 'w', 'W':
				perms |= zk.PermWrite
			case 'c', 'C':
				perms |= zk.PermCreate
			case 'd', 'D':
				perms |= zk.PermDelete
			case 'a', 'A':
				perms |= zk.PermAdmin
			default:
				fmt.Fprintf(w, "Unknown perm type: %c\n", r)
			}
		}
		out = append(out, zk.ACL{Scheme: a[:first], ID: a[first+1 : last], Perms: perms})
	}
	if len(out) == 0 {
		return nil, cliError(zk.ErrInvalidACL, "null")
	}
	return out, nil
}

func runSetACL(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	acl, err := parseACL(inv.Err, inv.Args[1])
	if err != nil {
		return err
	}
	version, err := expectedVersion(inv)
	if err != nil {
		return err
	}
	if inv.Opts.Has("R") {
		// As zkCli.sh (ZKUtil.visitSubTreeDFS): every znode in that order,
		// going on past one that fails. zkCli.sh prints the failures run
		// together; here each is a line on stderr, and the exit status is
		// 1 if any failed.
		t, err := listSubtree(inv.C, p)
		if err != nil {
			return err
		}
		var failed error
		for _, q := range t.dfs() {
			if _, err := inv.C.SetACL(q, acl, version); err != nil {
				if failed != nil {
					fmt.Fprintln(inv.Err, failed)
				}
				failed = cliError(err, q)
			}
		}
		return failed
	}
	st, err := inv.C.SetACL(p, acl, version)
	if err != nil {
		return cliError(err, p)
	}
	return writeChangedStat(inv, st)
}

func runAddWatch(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	mode := AddWatchPersistentRecursive
	if m, ok := inv.Opts["m"]; ok {
		switch strings.ToUpper(m) {
		case "PERSISTENT":
			mode = AddWatchPersistent
		case "PERSISTENT_RECURSIVE":
		default:
			return &UsageError{Msg: "Unsupported mode: " + m, Usage: inv.Cmd.Usage}
		}
	}
	return cliError(inv.C.AddWatch(p, mode), p)
}

func runRemoveWatches(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	wt := WatcherAny
	switch {
	case inv.Opts.Has("c"):
		wt = WatcherChildren
	case inv.Opts.Has("d"):
		wt = WatcherData
	}
	if inv.Opts.Has("l") {
		// Local removal only: go-zookeeper keeps no removable local
		// registry, so there is nothing to do client-side.
		return nil
	}
	return cliError(inv.C.RemoveWatches(p, wt), p)
}

func runGetEphemerals(inv *Invocation) error {
	p := inv.Arg(0, "/")
	if err := ValidatePath(p); err != nil {
		return &CommandError{Msg: err.Error(), Err: err}
	}
	eph, err := inv.C.GetEphemerals(p)
	if err != nil {
		return cliError(err, p)
	}
	sort.Strings(eph)
	if inv.JSON() {
		return inv.Value(eph)
	}
	fmt.Fprintln(inv.Out, javaList(eph))
	return nil
}

func runGetAllChildrenNumber(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	n, err := inv.C.GetAllChildrenNumber(p)
	if err != nil {
		return cliError(err, p)
	}
	if inv.JSON() {
		return inv.Value(struct {
			Path  string `json:"path" yaml:"path"`
			Count int32  `json:"count" yaml:"count"`
		}{p, n})
	}
	fmt.Fprintln(inv.Out, n)
	return nil
}

func runWhoAmI(inv *Invocation) error {
	infos, err := inv.C.WhoAmI()
	if err != nil {
		return &CommandError{Msg: err.Error(), Err: err}
	}
	if inv.JSON() {
		type entry struct {
			Scheme string `json:"scheme" yaml:"scheme"`
			User   string `json:"user" yaml:"user"`
		}
		out := make([]entry, 0, len(infos))
		for _, i := range infos {
			out = append(out, entry{i.AuthScheme, i.User})
		}
		return inv.Value(out)
	}
	fmt.Fprintln(inv.Out, "Auth scheme: User")
	for _, i := range infos {
		fmt.Fprintf(inv.Out, "%s: %s\n", i.AuthScheme, i.User)
	}
	return nil
}

const configNode = "/zookeeper/config"

func runConfig(inv *Invocation) error {
	data, st, err := inv.C.Get(configNode, inv.Opts.Has("w"))
	if err != nil {
		return cliError(err, configNode)
	}
	text := string(data)
	if inv.Opts.Has("c") {
		text = clientConfigString(text)
	}
	if inv.JSON() {
		members, version := parseConfigText(string(data))
		out := struct {
			Servers map[string]string `json:"servers" yaml:"servers"`
			Version string            `json:"version,omitempty" yaml:"version,omitempty"`
			Client  string            `json:"client,omitempty" yaml:"client,omitempty"`
			Stat    *StatJSON         `json:"stat,omitempty" yaml:"stat,omitempty"`
		}{Servers: members, Version: version}
		if inv.Opts.Has("c") {
			out.Client = text
		}
		if inv.Opts.Has("s") {
			out.Stat = statJSON(st)
		}
		return inv.Value(out)
	}
	fmt.Fprintln(inv.Out, text)
	if inv.Opts.Has("s") {
		writeStatText(inv.Out, st)
	}
	return nil
}

// clientConfigString is ConfigUtils.getClientConfigStr: the config version
// then the client addresses of the servers, "version host:port,...", the
// host as written in the config (0.0.0.0 when only a port is given).
func clientConfigString(cfg string) string {
	var version string
	var addrs []string
	for _, line := range strings.Split(cfg, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if k == "version" {
			version = v
			continue
		}
		if !strings.HasPrefix(k, "server.") {
			continue
		}
		_, client, ok := strings.Cut(v, ";")
		if !ok {
			continue // no client address
		}
		// As QuorumServer parses it: "host:port" or just "port" (wildcard).
		host, port, ok := strings.Cut(client, ":")
		if !ok {
			host, port = "0.0.0.0", client
		}
		addrs = append(addrs, host+":"+port)
	}
	return version + " " + strings.Join(addrs, ",")
}

func runConnect(inv *Invocation) error {
	s := inv.Shell
	target := inv.Arg(0, s.cs.String())
	cs, err := ParseConnectString(target)
	if err != nil {
		return &UsageError{Msg: err.Error(), Usage: inv.Cmd.Usage}
	}
	s.Close()
	cs.TLS = s.cfg.TLS
	cs.SASL = s.cfg.SASL
	s.cs = cs
	s.clearCache()
	_, err = s.Client(inv.Ctx)
	return err
}

func runClose(inv *Invocation) error {
	inv.Shell.Close()
	return nil
}

func runPrintWatches(inv *Invocation) error {
	s := inv.Shell
	switch inv.Arg(0, "") {
	case "":
		state := "off"
		if s.printWatches {
			state = "on"
		}
		fmt.Fprintln(inv.Out, "printwatches is "+state)
	case "on":
		s.printWatches = true
	case "off":
		s.printWatches = false
	default:
		return &UsageError{Usage: inv.Cmd.Usage}
	}
	return nil
}

// historySize is how many commands history shows, as zkCli.sh (last 10
// plus the current one).
const historySize = 11

func runHistory(inv *Invocation) error {
	h := inv.Shell.history
	start := len(h) - historySize
	if start < 0 {
		start = 0
	}
	for i := start; i < len(h); i++ {
		fmt.Fprintf(inv.Out, "%d - %s\n", i, h[i])
	}
	return nil
}

func runRedo(inv *Invocation) error {
	n, err := strconv.Atoi(inv.Args[0])
	h := inv.Shell.history
	// The redo line itself is the last history entry.
	if err != nil || n < 0 || n >= len(h)-1 {
		return &CommandError{Msg: "Command index out of range"}
	}
	line := h[n]
	inv.Shell.history[len(h)-1] = line
	return inv.Shell.Run(inv.Ctx, SplitLine(line))
}

func runVersion(inv *Invocation) error {
	fmt.Fprintln(inv.Out, "ZooKeeper CLI version: "+Version)
	return nil
}

func runHelp(inv *Invocation) error {
	if len(inv.Args) == 0 {
		inv.Shell.WriteUsage(inv.Out)
		return nil
	}
	c := inv.Shell.Lookup(inv.Args[0])
	if c == nil {
		return &UsageError{Msg: "Command not found: " + inv.Args[0]}
	}
	WriteCommandHelp(inv.Out, c)
	return nil
}

// WriteCommandHelp describes one command: its usage line, what it does,
// its aliases and its options.
func WriteCommandHelp(w io.Writer, c *Command) {
	fmt.Fprintln(w, "usage: "+strings.TrimSpace(c.Usage))
	fmt.Fprintln(w, c.Help)
	if len(c.Aliases) > 0 {
		fmt.Fprintln(w, "also: "+strings.Join(c.Aliases, ", "))
	}
	flags := append([]Flag{}, c.Flags...)
	if c.Output {
		flags = append(flags, Flag{Name: "o", Arg: "format", Help: "output format: text, json or yaml (also --output)"})
	}
	if len(flags) == 0 {
		return
	}
	fmt.Fprintln(w, "options (before or after the arguments):")
	width := 0
	names := make([]string, len(flags))
	for i, f := range flags {
		names[i] = f.spelled()
		if f.Arg != "" {
			names[i] += " " + f.Arg
		}
		width = max(width, len(names[i]))
	}
	for i, f := range flags {
		fmt.Fprintf(w, "  %-*s  %s\n", width, names[i], f.Help)
	}
}

func runQuit(inv *Invocation) error {
	inv.Shell.quit = true
	inv.Shell.Close()
	return nil
}

// WriteUsage prints the command list as zkCli.sh does: a header line then
// one tab-indented usage line per command.
func (s *Shell) WriteUsage(w io.Writer) {
	fmt.Fprintln(w, "ZooKeeper -server host:port[,host:port...][/chroot] [-timeout ms] [-r] [-o text|json|yaml] cmd args")
	for _, c := range s.Commands() {
		fmt.Fprintf(w, "\t%s\n", c.Usage)
	}
}
