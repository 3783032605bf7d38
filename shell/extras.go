package shell

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/internal/textable"
)

// Commands zkCli.sh does not have (what users of zk-shell and
// zookeepercli ask for).
func extraCommandTable() []*Command {
	return []*Command{
		{Name: "tree", Usage: "tree [-d depth] path", Help: "draw the subtree with data sizes",
			Flags:   []Flag{{Name: "d", Arg: "depth", Help: "maximum depth"}},
			MinArgs: 0, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runTree},
		{Name: "find", Usage: "find path [pattern]", Help: "list paths in a subtree whose name matches a glob pattern",
			MinArgs: 1, MaxArgs: 2, Args: []ArgKind{ArgPath, ArgOther}, Output: true, NeedsConn: true, Run: runFind},
		{Name: "du", Usage: "du path", Help: "bytes and znode count of a subtree",
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runDu},
		{Name: "watch", Usage: "watch [-R] path", Help: "print events on a znode (or subtree) until Ctrl-C",
			Flags:   []Flag{{Name: "R", Help: "the whole subtree"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runWatch},
		{Name: "export", Usage: "export path [file]", Help: "write a subtree (data, ACLs, node types) as JSON",
			MinArgs: 1, MaxArgs: 2, Args: []ArgKind{ArgPath, ArgFile}, NeedsConn: true, Run: runExport},
		{Name: "import", Usage: "import file path", Help: "create a subtree from an export, all or nothing",
			MinArgs: 2, MaxArgs: 2, Args: []ArgKind{ArgFile, ArgPath}, NeedsConn: true, Run: runImport},
	}
}

// nodeType names the kind of a znode from its Stat. Containers and TTL
// nodes show ephemeralOwner 0 to clients, so they read as persistent.
func nodeType(st *zk.Stat) string {
	if st.EphemeralOwner != 0 {
		return "ephemeral"
	}
	return "persistent"
}

// LongEntryJSON is one row of `ls -l -o json`.
type LongEntryJSON struct {
	Name string    `json:"name" yaml:"name"`
	Type string    `json:"type" yaml:"type"`
	Stat *StatJSON `json:"stat" yaml:"stat"`
}

func runLsLong(inv *Invocation, p string) error {
	children, _, err := inv.C.Children(p, inv.Opts.Has("w"))
	if err != nil {
		return cliError(err, p)
	}
	sort.Strings(children)
	entries := make([]LongEntryJSON, 0, len(children))
	for _, ch := range children {
		st, err := inv.C.Exists(JoinPath(p, ch), false)
		if errors.Is(err, zk.ErrNoAuth) {
			// A child this client may not read: its Stat is hidden
			// (servers since Apache 3.8.4), its name is not.
			entries = append(entries, LongEntryJSON{Name: ch, Type: "unreadable"})
			continue
		}
		if err != nil {
			return cliError(err, JoinPath(p, ch))
		}
		if st == nil {
			continue // deleted meanwhile
		}
		entries = append(entries, LongEntryJSON{Name: ch, Type: nodeType(st), Stat: statJSON(st)})
	}
	if inv.JSON() {
		return inv.Value(entries)
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		s := e.Stat
		if s == nil {
			rows = append(rows, []string{e.Name, e.Type, "-", "-", "-", "-", "-"})
			continue
		}
		rows = append(rows, []string{e.Name, e.Type, strconv.Itoa(int(s.DataLength)), strconv.Itoa(int(s.NumChildren)),
			strconv.Itoa(int(s.Version)), time.UnixMilli(s.Mtime).Format(time.RFC3339), fmt.Sprintf("0x%x", s.EphemeralOwner)})
	}
	header := []string{"NAME", "TYPE", "DATALENGTH", "NUMCHILDREN", "VERSION", "MTIME", "EPHEMERALOWNER"}
	if err := textable.Write(inv.Out, header, rows); err != nil {
		return fmt.Errorf("ls -l: %w", err)
	}
	return nil
}

// TreeJSON is one node of `tree -o json`.
type TreeJSON struct {
	Name       string      `json:"name" yaml:"name"`
	Path       string      `json:"path" yaml:"path"`
	DataLength int32       `json:"dataLength" yaml:"dataLength"`
	Children   []*TreeJSON `json:"children,omitempty" yaml:"children,omitempty"`
}

func buildTree(c *Client, p string, depth, max int) (*TreeJSON, error) {
	st, err := c.Exists(p, false)
	if err != nil {
		return nil, cliError(err, p)
	}
	if st == nil {
		return nil, cliError(zk.ErrNoNode, p)
	}
	n := &TreeJSON{Name: BaseName(p), Path: p, DataLength: st.DataLength}
	if max >= 0 && depth >= max {
		return n, nil
	}
	children, _, err := c.Children(p, false)
	if errors.Is(err, zk.ErrNoNode) {
		return n, nil
	}
	if err != nil {
		return nil, cliError(err, p)
	}
	sort.Strings(children)
	for _, ch := range children {
		sub, err := buildTree(c, JoinPath(p, ch), depth+1, max)
		if err != nil {
			var ce *CommandError
			if errors.As(err, &ce) && errors.Is(ce.Err, zk.ErrNoNode) {
				continue // deleted meanwhile
			}
			return nil, err
		}
		n.Children = append(n.Children, sub)
	}
	return n, nil
}

func runTree(inv *Invocation) error {
	p := inv.Arg(0, "/")
	if err := ValidatePath(p); err != nil {
		return &CommandError{Msg: err.Error(), Err: err}
	}
	max := -1
	if d, ok := inv.Opts["d"]; ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return &UsageError{Msg: "depth must be a number >= 0", Usage: inv.Cmd.Usage}
		}
		max = n
	}
	root, err := buildTree(inv.C, p, 0, max)
	if err != nil {
		return err
	}
	if inv.JSON() {
		return inv.Value(root)
	}
	fmt.Fprintf(inv.Out, "%s (%d B)\n", root.Path, root.DataLength)
	var draw func(n *TreeJSON, prefix string)
	draw = func(n *TreeJSON, prefix string) {
		for i, ch := range n.Children {
			branch, next := "├── ", "│   "
			if i == len(n.Children)-1 {
				branch, next = "└── ", "    "
			}
			fmt.Fprintf(inv.Out, "%s%s%s (%d B)\n", prefix, branch, ch.Name, ch.DataLength)
			draw(ch, prefix+next)
		}
	}
	draw(root, "")
	return nil
}

func runFind(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	pattern := inv.Arg(1, "*")
	if _, err := path.Match(pattern, ""); err != nil {
		return &UsageError{Msg: "bad pattern " + pattern + ": " + err.Error(), Usage: inv.Cmd.Usage}
	}
	all, err := listSubtreeBFS(inv.C, p)
	if err != nil {
		return err
	}
	out := []string{}
	for _, q := range all {
		name := BaseName(q)
		ok, _ := path.Match(pattern, name)
		if !ok {
			ok, _ = path.Match(pattern, q)
		}
		if ok {
			out = append(out, q)
		}
	}
	sort.Strings(out)
	if inv.JSON() {
		return inv.Value(out)
	}
	for _, q := range out {
		fmt.Fprintln(inv.Out, q)
	}
	return nil
}

func runDu(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	all, err := listSubtreeBFS(inv.C, p)
	if err != nil {
		return err
	}
	stats := make([]*zk.Stat, len(all))
	err = eachConcurrent(len(all), func(i int) error {
		q := all[i]
		st, err := inv.C.Exists(q, false)
		if err != nil {
			return cliError(err, q)
		}
		stats[i] = st
		return nil
	})
	if err != nil {
		return err
	}
	var bytes int64
	var count int64
	for _, st := range stats {
		if st == nil {
			continue // deleted meanwhile
		}
		bytes += int64(st.DataLength)
		count++
	}
	if inv.JSON() {
		return inv.Value(struct {
			Path   string `json:"path" yaml:"path"`
			Bytes  int64  `json:"bytes" yaml:"bytes"`
			Znodes int64  `json:"znodes" yaml:"znodes"`
		}{p, bytes, count})
	}
	fmt.Fprintf(inv.Out, "%d\t%d\t%s\n", bytes, count, p)
	return nil
}

// runWatch sets a persistent (or persistent-recursive with -R) watch and
// prints one line per event until the context is cancelled (Ctrl-C).
func runWatch(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	mode := AddWatchPersistent
	if inv.Opts.Has("R") {
		mode = AddWatchPersistentRecursive
	}
	inv.C.Events() // drop anything older
	if err := inv.C.AddWatch(p, mode); err != nil {
		return cliError(err, p)
	}
	defer func() {
		// Best effort: the session may be gone already.
		_ = inv.C.RemoveWatches(p, WatcherAny)
	}()
	if f, ok := inv.Out.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	for {
		select {
		case <-inv.Ctx.Done():
			return nil
		case <-inv.C.Notify():
		}
		for _, ev := range inv.C.Events() {
			if inv.JSON() {
				e := EventJSON{Type: EventTypeName(ev.Type), State: KeeperStateName(ev.State), Path: ev.Path, Time: time.Now().UnixMilli()}
				if ev.Type == zk.EventSession {
					e.Path = ""
				} else {
					e.State = "SyncConnected"
				}
				if err := writeValue(inv.Out, FormatJSON, e); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintln(inv.Out, WatchedEventString(ev))
			if ev.Type == zk.EventSession && ev.State == zk.StateExpired {
				return &CommandError{Msg: "session expired"}
			}
		}
	}
}

// ExportJSON is the file format of export/import.
type ExportJSON struct {
	Format  string           `json:"format"` // "zkgo-export/1"
	Root    string           `json:"root"`
	Created int64            `json:"created"` // ms since epoch
	Nodes   []ExportNodeJSON `json:"nodes"`
}

// ExportNodeJSON is one znode in an export; Path is relative to the root
// ("" for the root itself, else "/a/b").
type ExportNodeJSON struct {
	Path     string    `json:"path"`
	Type     string    `json:"type"` // persistent | ephemeral
	Data     *string   `json:"data"`
	Encoding string    `json:"encoding,omitempty"`
	ACL      []ACLJSON `json:"acl"`
}

const exportFormat = "zkgo-export/1"

func runExport(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	paths, err := listSubtreeBFS(inv.C, p)
	if err != nil {
		return err
	}
	ex := ExportJSON{Format: exportFormat, Root: p, Created: time.Now().UnixMilli(), Nodes: []ExportNodeJSON{}}
	nodes := make([]*ExportNodeJSON, len(paths)) // nil: deleted meanwhile
	err = eachConcurrent(len(paths), func(i int) error {
		q := paths[i]
		data, st, err := inv.C.Get(q, false)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return cliError(err, q)
		}
		acl, _, err := inv.C.GetACL(q)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return cliError(err, q)
		}
		d, enc := encodeData(data, false)
		rel := strings.TrimPrefix(q, p)
		if p == "/" {
			rel = q
			if q == "/" {
				rel = ""
			}
		}
		nodes[i] = &ExportNodeJSON{Path: rel, Type: nodeType(st), Data: d, Encoding: enc, ACL: aclJSON(acl)}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n != nil {
			ex.Nodes = append(ex.Nodes, *n)
		}
	}
	w := inv.Out
	if f := inv.Arg(1, "-"); f != "-" {
		file, err := os.Create(f)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer file.Close()
		w = file
		defer func() {
			fmt.Fprintf(inv.Err, "Exported %d znodes to %s\n", len(ex.Nodes), f)
		}()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ex); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func parsePerms(s string) (int32, error) {
	var p int32
	for _, r := range s {
		switch r {
		case 'c':
			p |= zk.PermCreate
		case 'd':
			p |= zk.PermDelete
		case 'r':
			p |= zk.PermRead
		case 'w':
			p |= zk.PermWrite
		case 'a':
			p |= zk.PermAdmin
		default:
			return 0, fmt.Errorf("unknown perm %q", r)
		}
	}
	return p, nil
}

// runImport creates the exported subtree under the target path in one
// multi: either every znode is created or none. Existing znodes make it
// fail. The root's parent must exist.
func runImport(inv *Invocation) error {
	file := inv.Args[0]
	p, err := inv.Path(1)
	if err != nil {
		return err
	}
	var r io.Reader
	if file == "-" {
		r = inv.Shell.cfg.In
	} else {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	var ex ExportJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&ex); err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	if ex.Format != exportFormat {
		return fmt.Errorf("import %s: unknown format %q (want %q)", file, ex.Format, exportFormat)
	}
	var ops []any
	for _, n := range ex.Nodes {
		target := p + n.Path
		if p == "/" {
			target = n.Path
			if target == "" {
				continue // the root exists
			}
		}
		if err := ValidatePath(target); err != nil {
			return fmt.Errorf("import %s: bad path %q: %w", file, n.Path, err)
		}
		var data []byte
		if n.Data != nil {
			if n.Encoding == "base64" {
				data, err = base64.StdEncoding.DecodeString(*n.Data)
				if err != nil {
					return fmt.Errorf("import %s: %s: %w", file, n.Path, err)
				}
			} else {
				data = []byte(*n.Data)
			}
		}
		acl := make([]zk.ACL, 0, len(n.ACL))
		for _, a := range n.ACL {
			perms, err := parsePerms(a.Perms)
			if err != nil {
				return fmt.Errorf("import %s: %s: %w", file, n.Path, err)
			}
			acl = append(acl, zk.ACL{Scheme: a.Scheme, ID: a.ID, Perms: perms})
		}
		if len(acl) == 0 {
			acl = zk.WorldACL(zk.PermAll)
		}
		var flags int32
		if n.Type == "ephemeral" {
			flags = zk.FlagEphemeral
		}
		ops = append(ops, inv.C.MultiCreate(target, data, flags, acl))
	}
	if len(ops) == 0 {
		return nil
	}
	res, err := inv.C.Multi(ops...)
	if err != nil {
		// Name the op that failed, as the multi result says.
		for i, r := range res {
			if r.Error != nil && i < len(ops) {
				if cr, ok := ops[i].(*zk.CreateRequest); ok && !errors.Is(r.Error, zk.ErrNothing) {
					return cliError(r.Error, inv.C.strip(cr.Path))
				}
			}
		}
		return cliError(err, p)
	}
	fmt.Fprintf(inv.Err, "Imported %d znodes under %s\n", len(ops), p)
	return nil
}
