package shell

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/quota"
)

// The quota commands do what zkCli.sh 3.8's do, with its words (its
// SetQuotaCommand, ListQuotaCommand and DelQuotaCommand): the server keeps
// the usage (package quota), the client writes the limits.

func quotaCommandTable() []*Command {
	limitFlags := []Flag{{Name: "n", Arg: "count", Help: "soft limit on the number of znodes"}, {Name: "b", Arg: "bytes", Help: "soft limit on the data bytes"},
		{Name: "N", Arg: "count", Help: "hard limit on the number of znodes (refused past it with enforceQuota)"},
		{Name: "B", Arg: "bytes", Help: "hard limit on the data bytes (refused past it with enforceQuota)"}}
	return []*Command{
		{Name: "setquota", Usage: "setquota -n|-b|-N|-B val path", Help: "set a quota on a subtree (limits can be combined)",
			Flags: limitFlags, MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, NeedsConn: true, Run: runSetQuota},
		{Name: "listquota", Usage: "listquota path", Help: "print a quota's limits and the subtree's usage",
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, Output: true, NeedsConn: true, Run: runListQuota},
		{Name: "delquota", Usage: "delquota [-n|-b|-N|-B] path", Help: "delete a quota, or one of its limits",
			Flags:   []Flag{{Name: "n", Help: "the soft count"}, {Name: "b", Help: "the soft bytes"}, {Name: "N", Help: "the hard count"}, {Name: "B", Help: "the hard bytes"}},
			MinArgs: 1, MaxArgs: 1, Args: []ArgKind{ArgPath}, NeedsConn: true, Run: runDelQuota},
	}
}

// quotaFlags maps the commands' flags to the StatsTrack keys they set.
var quotaFlags = []struct{ flag, key string }{
	{"n", quota.Count}, {"b", quota.Bytes}, {"N", quota.CountHardLimit}, {"B", quota.ByteHardLimit},
}

func runSetQuota(inv *Invocation) error {
	p := inv.Arg(0, "")
	if strings.HasPrefix(p, quota.Root) {
		fmt.Fprintln(inv.Err, "cannot set a quota under the path: "+quota.Root)
		return nil
	}
	limits := quota.StatsTrack{quota.Count: -1, quota.Bytes: -1, quota.CountHardLimit: -1, quota.ByteHardLimit: -1}
	set := false
	for _, f := range quotaFlags {
		v, ok := inv.Opts[f.flag]
		if !ok {
			continue
		}
		set = true
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || (f.flag == "n" || f.flag == "N") && n != int64(int32(n)) {
			fmt.Fprintln(inv.Err, "NumberFormatException happens when parsing the option value")
			return nil
		}
		switch {
		case (f.flag == "n" || f.flag == "N") && n <= 0:
			fmt.Fprintln(inv.Err, "the num quota must be greater than zero")
			return nil
		case n < 0:
			fmt.Fprintln(inv.Err, "the bytes quota must be greater than or equal to zero")
			return nil
		}
		limits[f.key] = n
	}
	if !set {
		return &UsageError{Msg: "setquota needs one of -n, -b, -N or -B", Usage: inv.Cmd.Usage}
	}
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	st, err := inv.C.Exists(p, false)
	if err != nil {
		return cliError(err, p)
	}
	if st == nil {
		return &CommandError{Msg: p + " does not exist."}
	}
	if err := checkChildQuota(inv, p); err != nil {
		return err
	}
	if err := checkParentQuota(inv, p); err != nil {
		return err
	}
	// The chain /zookeeper/quota/<path>, then the limits and the stats.
	chain := quota.Root
	for _, part := range strings.Split(p, "/")[1:] {
		chain += "/" + part
		if _, err := inv.C.Create(chain, nil, CreateMode{}, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return cliError(err, chain)
		}
	}
	limitPath, statPath := quota.LimitPath(p), quota.StatPath(p)
	old, _, err := inv.C.Get(limitPath, false)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		if _, err := inv.C.Create(limitPath, []byte(limits.String()), CreateMode{}, zk.WorldACL(zk.PermAll)); err != nil {
			return cliError(err, limitPath)
		}
		usage := quota.StatsTrack{quota.Count: 0, quota.Bytes: 0}
		if _, err := inv.C.Create(statPath, []byte(usage.String()), CreateMode{}, zk.WorldACL(zk.PermAll)); err != nil {
			return cliError(err, statPath)
		}
		return warnOverQuota(inv, limits, statPath)
	case err != nil:
		return cliError(err, limitPath)
	}
	merged := quota.Parse(old)
	for k, v := range limits {
		if v > -1 {
			merged[k] = v
		}
	}
	if err := warnOverQuota(inv, merged, statPath); err != nil {
		return err
	}
	if _, err := inv.C.Set(limitPath, []byte(merged.String()), -1); err != nil {
		return cliError(err, limitPath)
	}
	return nil
}

// warnOverQuota prints zkCli.sh's warnings when the subtree already holds
// more than a limit being set allows.
func warnOverQuota(inv *Invocation, limits quota.StatsTrack, statPath string) error {
	data, _, err := inv.C.Get(statPath, false)
	if err != nil {
		return cliError(err, statPath)
	}
	usage := quota.Parse(data)
	over := func(soft, hard, key string) bool {
		return limits.Get(soft) > -1 && limits.Get(soft) < usage.Get(key) || limits.Get(hard) > -1 && limits.Get(hard) < usage.Get(key)
	}
	if over(quota.Count, quota.CountHardLimit, quota.Count) {
		fmt.Fprintf(inv.Out, "[Warning]: the count quota you create is less than the existing count:%d\n", usage.Get(quota.Count))
	}
	if over(quota.Bytes, quota.ByteHardLimit, quota.Bytes) {
		fmt.Fprintf(inv.Out, "[Warning]: the bytes quota you create is less than the existing bytes:%d\n", usage.Get(quota.Bytes))
	}
	return nil
}

// checkChildQuota refuses a quota on p when a path under it has one,
// naming the first found in zkCli.sh's order (ZKUtil.visitSubTreeDFS over
// /zookeeper/quota/<p>: a node's children, then the subtree of each).
func checkChildQuota(inv *Invocation, p string) error {
	top := quota.Root + p
	t, err := listSubtree(inv.C, top)
	if errors.Is(err, zk.ErrNoNode) {
		return nil // no quota at or under p
	}
	if err != nil {
		return err
	}
	for _, q := range t.dfs() {
		if q != top && slices.Contains(t.kids[q], q+"/"+quota.LimitNode) {
			return &CommandError{Msg: p + " has a child " + strings.TrimPrefix(q, quota.Root) + " which has a quota"}
		}
	}
	return nil
}

// checkParentQuota refuses a quota on p when a path above it has one.
func checkParentQuota(inv *Invocation, p string) error {
	parts := strings.Split(p, "/")
	q := quota.Root
	for _, part := range parts[1 : len(parts)-1] {
		q += "/" + part
		children, _, err := inv.C.Children(q, false)
		if errors.Is(err, zk.ErrNoNode) || err == nil && len(children) == 0 {
			return nil
		}
		if err != nil {
			return cliError(err, q)
		}
		for _, c := range children {
			if c == quota.LimitNode {
				return &CommandError{Msg: p + " has a parent " + strings.TrimPrefix(q, quota.Root) + " which has a quota"}
			}
		}
	}
	return nil
}

// QuotaJSON is listquota's answer with -o json|yaml: the limits and the
// usage, -1 for a limit that is not set. A path without a quota has both
// null.
type QuotaJSON struct {
	Path   string       `json:"path" yaml:"path"`
	Limits *QuotaLimits `json:"limits" yaml:"limits"`
	Usage  *QuotaUsage  `json:"usage" yaml:"usage"`
}

// QuotaLimits are a quota's soft and hard limits.
type QuotaLimits struct {
	Count          int64 `json:"count" yaml:"count"`
	Bytes          int64 `json:"bytes" yaml:"bytes"`
	CountHardLimit int64 `json:"countHardLimit" yaml:"countHardLimit"`
	ByteHardLimit  int64 `json:"byteHardLimit" yaml:"byteHardLimit"`
}

// QuotaUsage is what the subtree holds.
type QuotaUsage struct {
	Count int64 `json:"count" yaml:"count"`
	Bytes int64 `json:"bytes" yaml:"bytes"`
}

func runListQuota(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	if !inv.JSON() {
		fmt.Fprintln(inv.Err, "absolute path is "+quota.LimitPath(p))
	}
	limits, _, err := inv.C.Get(quota.LimitPath(p), false)
	var usage []byte
	if err == nil {
		usage, _, err = inv.C.Get(quota.StatPath(p), false)
	}
	switch {
	case errors.Is(err, zk.ErrNoNode):
		if inv.JSON() {
			return inv.Value(QuotaJSON{Path: p})
		}
		fmt.Fprintln(inv.Err, "quota for "+p+" does not exist.")
		return nil
	case err != nil:
		return cliError(err, p)
	}
	l, u := quota.Parse(limits), quota.Parse(usage)
	if inv.JSON() {
		return inv.Value(QuotaJSON{Path: p,
			Limits: &QuotaLimits{Count: l.Get(quota.Count), Bytes: l.Get(quota.Bytes),
				CountHardLimit: l.Get(quota.CountHardLimit), ByteHardLimit: l.Get(quota.ByteHardLimit)},
			Usage: &QuotaUsage{Count: u.Get(quota.Count), Bytes: u.Get(quota.Bytes)}})
	}
	fmt.Fprintln(inv.Out, "Output quota for "+p+" "+l.String())
	fmt.Fprintln(inv.Out, "Output stat for "+p+" "+u.String())
	return nil
}

func runDelQuota(inv *Invocation) error {
	p, err := inv.Path(0)
	if err != nil {
		return err
	}
	limitPath := quota.LimitPath(p)
	data, _, err := inv.C.Get(limitPath, false)
	if errors.Is(err, zk.ErrNoNode) {
		fmt.Fprintln(inv.Out, "Quota does not exist for "+p)
		return nil
	}
	if err != nil {
		return cliError(err, limitPath)
	}
	var drop []string
	for _, f := range quotaFlags {
		if inv.Opts.Has(f.flag) {
			drop = append(drop, f.key)
		}
	}
	if len(drop) > 0 {
		limits := quota.Parse(data)
		for _, k := range drop {
			limits[k] = -1
		}
		if _, err := inv.C.Set(limitPath, []byte(limits.String()), -1); err != nil {
			return cliError(err, limitPath)
		}
		return nil
	}
	// The whole quota: its znodes, then the chain above them as far as it
	// is empty.
	dir := quota.Root + p
	children, _, err := inv.C.Children(dir, false)
	if err != nil {
		return cliError(err, dir)
	}
	for _, c := range children {
		if err := inv.C.Delete(dir+"/"+c, -1); err != nil {
			return cliError(err, dir+"/"+c)
		}
	}
	for q := dir; q != quota.Root; q = q[:strings.LastIndexByte(q, '/')] {
		children, _, err := inv.C.Children(q, false)
		if err != nil {
			return cliError(err, q)
		}
		if len(children) > 0 {
			break
		}
		if err := inv.C.Delete(q, -1); err != nil {
			return cliError(err, q)
		}
	}
	return nil
}
