package shell

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// ls -R and deleteall on a subtree with two wide nodes: /st/flat's 300
// children are leaves (getAllChildrenNumber says so, and none is listed),
// /st/mix's 300 children include one with a child of its own (so each is
// listed). Both listing orders must hold every node once, in order, and
// deleteall must leave nothing.
func TestSubtreeWide(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/st")
	mustCreate(t, conn, "/st", nil, 0)
	mustCreate(t, conn, "/st/flat", nil, 0)
	mustCreate(t, conn, "/st/mix", nil, 0)
	var flat, mix []string
	for i := range leafCheckMin + 44 {
		flat = append(flat, fmt.Sprintf("/st/flat/f%03d", i))
		mix = append(mix, fmt.Sprintf("/st/mix/m%03d", i))
	}
	for _, p := range slices.Concat(flat, mix) {
		mustCreate(t, conn, p, nil, 0)
	}
	mustCreate(t, conn, "/st/mix/m005/k", nil, 0)

	// visitSubTreeDFS: a node's children, then each child's subtree.
	wantDFS := slices.Concat([]string{"/st", "/st/flat", "/st/mix"}, flat, mix, []string{"/st/mix/m005/k"})
	r := run(t, addr, "", "ls", "-R", "/st")
	if r.runErr != nil {
		t.Fatal(r.runErr)
	}
	if got := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"); !slices.Equal(got, wantDFS) {
		t.Fatalf("ls -R /st: %d lines, want %d in visitSubTreeDFS order", len(got), len(wantDFS))
	}

	cs, err := ParseConnectString(addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(testCtx(t), cs, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for q, want := range map[string]bool{"/st/flat": true, "/st/mix": false} {
		kids, leaves, err := listChildren(c, q)
		if err != nil || len(kids) != leafCheckMin+44 || leaves != want {
			t.Fatalf("listChildren(%s): %d children, leaves %v, %v; want %d, leaves %v", q, len(kids), leaves, err, leafCheckMin+44, want)
		}
	}
	bfs, err := listSubtreeBFS(c, "/st")
	if err != nil {
		t.Fatal(err)
	}
	// Breadth first here equals the DFS order: one node sits below depth 2.
	if !slices.Equal(bfs, wantDFS) {
		t.Fatalf("listSubtreeBFS(/st): %d paths, want %d in order", len(bfs), len(wantDFS))
	}

	if r := run(t, addr, "", "deleteall", "/st/mix"); r.runErr != nil {
		t.Fatalf("deleteall /st/mix: %v %s", r.runErr, r.err)
	}
	if ok, _, err := conn.Exists("/st/mix"); err != nil || ok {
		t.Fatalf("/st/mix after deleteall: exists %v, %v", ok, err)
	}
}

// setAcl -R goes on past a znode it cannot change, as zkCli.sh does, and
// fails at the end: /sa/a's ACL version is 1, so -v 0 fails there only.
func TestSetAclRecursiveGoesOn(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/sa")
	for _, p := range []string{"/sa", "/sa/a", "/sa/b", "/sa/a/x"} {
		mustCreate(t, conn, p, nil, 0)
	}
	if _, err := conn.SetACL("/sa/a", zk.WorldACL(zk.PermAll), 0); err != nil {
		t.Fatal(err)
	}
	r := run(t, addr, "", "setAcl", "-R", "-v", "0", "/sa", "world:anyone:cdrwa")
	if r.runErr == nil || !strings.Contains(r.runErr.Error(), "/sa/a") {
		t.Fatalf("setAcl -R: %v (stderr %q); want the failure at /sa/a", r.runErr, r.err)
	}
	for p, want := range map[string]int32{"/sa": 1, "/sa/b": 1, "/sa/a/x": 1, "/sa/a": 1} {
		_, st, err := conn.GetACL(p)
		if err != nil || st.Aversion != want {
			t.Errorf("%s: aversion %d, %v; want %d", p, st.Aversion, err, want)
		}
	}
}
