package shell

import (
	"errors"
	"slices"
	"sort"
	"sync"

	"github.com/go-zookeeper/zk"
)

// subtree is a znode and its descendants as listed: the sorted children
// (full paths) of every node that has some.
type subtree struct {
	root string
	kids map[string][]string
	size int // nodes, the root included
}

const (
	// listWorkers is how many requests a listing (or a command working
	// through a subtree) has in flight at once.
	// go-zookeeper pipelines them on the one session, so a level of many
	// nodes costs a fraction of a round trip each instead of one.
	listWorkers = 16
	// leafCheckMin is the number of children from which a listing asks
	// getAllChildrenNumber whether they are all leaves (then none is
	// listed): one request instead of one per child, which for a million
	// children is the difference between a second and a minute and a half.
	// (Apache's server counts by scanning every znode, so the question is
	// only worth asking for many children.)
	leafCheckMin = 256
)

// listSubtree lists p and its descendants one level at a time, fetching
// the children of a level's nodes concurrently. A node deleted meanwhile
// is skipped, as ZKUtil.listSubTreeBFS does; any other error ends the
// listing.
func listSubtree(c *Client, p string) (*subtree, error) {
	if st, err := c.Exists(p, false); err != nil {
		return nil, cliError(err, p)
	} else if st == nil {
		return nil, cliError(zk.ErrNoNode, p)
	}
	t := &subtree{root: p, kids: map[string][]string{}, size: 1}
	level := []string{p}
	for len(level) > 0 {
		lists := make([][]string, len(level))
		leaves := make([]bool, len(level))
		err := eachConcurrent(len(level), func(i int) error {
			q := level[i]
			var err error
			lists[i], leaves[i], err = listChildren(c, q)
			if err != nil {
				return cliError(err, q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var next []string
		for i, q := range level {
			if len(lists[i]) == 0 {
				continue
			}
			t.kids[q] = lists[i]
			t.size += len(lists[i])
			if !leaves[i] {
				next = append(next, lists[i]...)
			}
		}
		level = next
	}
	return t, nil
}

// eachConcurrent calls fn(i) for i in [0, n), listWorkers at a time
// (go-zookeeper pipelines their requests on the session), and returns the
// error of the lowest i whose call failed.
func eachConcurrent(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, listWorkers)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// listChildren returns q's children as sorted full paths, and whether they
// are known to be leaves. A node gone meanwhile has none.
func listChildren(c *Client, q string) (kids []string, leaves bool, err error) {
	names, _, err := c.Children(q, false)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	sort.Strings(names)
	kids = make([]string, len(names))
	for i, n := range names {
		kids[i] = JoinPath(q, n)
	}
	if len(names) >= leafCheckMin {
		// An error (a server before 3.6) only means asking each child.
		if n, err := c.GetAllChildrenNumber(q); err == nil && int(n) == len(names) {
			leaves = true
		}
	}
	return kids, leaves, nil
}

// bfs returns the nodes breadth first, each node's children in order: the
// order of ZKUtil.listSubTreeBFS.
func (t *subtree) bfs() []string { return slices.Concat(t.levels()...) }

// levels returns the nodes by depth below the root (levels[0] is the
// root alone), each level in breadth-first order.
func (t *subtree) levels() [][]string {
	levels := [][]string{{t.root}}
	for {
		var next []string
		for _, q := range levels[len(levels)-1] {
			next = append(next, t.kids[q]...)
		}
		if len(next) == 0 {
			return levels
		}
		levels = append(levels, next)
	}
}

// dfs returns the nodes in the order of ZKUtil.visitSubTreeDFS, which
// zkCli.sh's ls -R prints: the root, then for each node all its children
// before the subtree of the first of them.
func (t *subtree) dfs() []string {
	out := make([]string, 0, t.size)
	out = append(out, t.root)
	var visit func(string)
	visit = func(q string) {
		kids := t.kids[q]
		out = append(out, kids...)
		for _, k := range kids {
			visit(k)
		}
	}
	visit(t.root)
	return out
}
