package nemesis

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-zookeeper/zk"
)

// node is one znode as a member serves it.
type node struct {
	Data string
	Stat zk.Stat
}

// dumpTree reads every znode (but /zookeeper, whose config node shows each
// member's own view of the proxies) from the member conn is connected to,
// after a sync.
func dumpTree(conn *zk.Conn) (map[string]node, error) {
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	out := make(map[string]node)
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil // deleted while we walk (a session expiring)
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		out[p] = node{Data: string(data), Stat: *st}
		kids, _, err := conn.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		slices.Sort(kids)
		for _, k := range kids {
			c := strings.TrimSuffix(p, "/") + "/" + k
			if c == "/zookeeper" {
				continue
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("/")
}

// diffTrees describes how b differs from a (at most a few lines).
func diffTrees(a, b map[string]node) string {
	var d []string
	for _, p := range slices.Sorted(maps.Keys(a)) {
		nb, ok := b[p]
		switch {
		case !ok:
			d = append(d, "missing "+p)
		case nb != a[p]:
			d = append(d, fmt.Sprintf("%s: %s vs %s", p, describe(nb), describe(a[p])))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[p]; !ok {
			d = append(d, "extra "+p)
		}
	}
	if len(d) > 8 {
		d = append(d[:8], fmt.Sprintf("… %d more", len(d)-8))
	}
	return strings.Join(d, "; ")
}

func describe(n node) string {
	s := n.Stat
	return fmt.Sprintf("%q czxid=0x%x mzxid=0x%x pzxid=0x%x v=%d cv=%d av=%d owner=0x%x kids=%d len=%d ctime=%d mtime=%d",
		n.Data, s.Czxid, s.Mzxid, s.Pzxid, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.NumChildren, s.DataLength, s.Ctime, s.Mtime)
}
