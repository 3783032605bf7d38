package nemesis

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/quota"
)

func init() { zk.DefaultLogger = log.New(io.Discard, "", 0) }

// settings reads the run's seed, duration and size from the environment.
func settings(t *testing.T) (seed uint64, d time.Duration, members int) {
	seed = rand.Uint64() >> 1
	if s := os.Getenv("ZKGO_NEMESIS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ZKGO_NEMESIS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	d = 4 * time.Second
	if s := os.Getenv("ZKGO_NEMESIS_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("ZKGO_NEMESIS_DURATION=%q: %v", s, err)
		}
		d = v
	}
	members = 3
	if s := os.Getenv("ZKGO_NEMESIS_MEMBERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("ZKGO_NEMESIS_MEMBERS=%q: want a positive number", s)
		}
		members = v
	}
	return seed, d, members
}

// TestNemesis: clients run a mixed workload on a zkserver ensemble while
// the nemesis partitions, crashes, restarts, drops, delays and slows it;
// then everything heals and the history must be linearizable, every
// member must hold the same tree (data and every Stat field) and last
// zxid, every acknowledged sequential node must be there and no
// ephemeral of a closed session may remain.
//
// ZKGO_NEMESIS_SEED=N replays a run's schedule, ZKGO_NEMESIS_DURATION=10m
// makes a long run, ZKGO_NEMESIS_MEMBERS=5 a bigger ensemble,
// ZKGO_NEMESIS_LOG=1 shows the servers' logs.
func TestNemesis(t *testing.T) { runNemesis(t, "") }

// TestNemesisProcesses is the same with members as zkserver processes
// (the binary built from this tree), crashed with SIGKILL; no slow disk.
func TestNemesisProcesses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIGKILL and /proc")
	}
	bin := filepath.Join(t.TempDir(), "zkserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/zkgo/zkgo/cmd/zkserver").CombinedOutput()
	if err != nil {
		t.Fatalf("go build zkserver: %v\n%s", err, out)
	}
	runNemesis(t, bin)
}

func runNemesis(t *testing.T, bin string) {
	seed, duration, members := settings(t)
	t.Logf("nemesis seed=%d duration=%s members=%d (replay: ZKGO_NEMESIS_SEED=%d)", seed, duration, members, seed)
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "nemesis seed=%d\n", seed)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("ZKGO_NEMESIS_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	const tick = 100 * time.Millisecond
	c := NewCluster(t, members, tick, seed, logger)
	c.Bin = bin
	for _, id := range c.IDs() {
		if err := c.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitServing(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stamp := func(format string, args ...any) {
		t.Logf("%7.3fs "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}
	admin := connect(t, c.Addrs(), 4*time.Second)
	for _, p := range []string{keysParent, seqParent, ephParent} {
		if _, err := admin.Create(p, nil, 0, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	// A quota on the registers: every member keeps its usage, also one
	// that caught up by replaying the log over a fuzzy snapshot.
	for _, q := range []struct{ path, data string }{
		{quota.Root + keysParent, ""}, {quota.LimitPath(keysParent), "count=1000000,bytes=-1"}, {quota.StatPath(keysParent), "count=0,bytes=0"},
	} {
		if _, err := admin.Create(q.path, []byte(q.data), 0, acl); err != nil {
			t.Fatalf("create %s: %v", q.path, err)
		}
	}

	h := newHistory()
	// Reads are checked as linearizable. ZKGO_NEMESIS_STALE_READS=1 lets a
	// read see a state as old as (syncLimit+1) ticks before its call (see
	// History.staleNs): ZooKeeper's own guarantee, which zabtest's nemesis
	// showed zkgo needs too; here it makes long histories too costly for
	// porcupine (inconclusive after 5 minutes), and in these runs strict
	// reads never failed.
	if os.Getenv("ZKGO_NEMESIS_STALE_READS") != "" {
		h.staleNs = int64(6 * tick)
	}
	const clients, keys = 5, 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var workers []*worker
	for i := range clients {
		addrs := c.Addrs()
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		r.Shuffle(len(addrs), func(a, b int) { addrs[a], addrs[b] = addrs[b], addrs[a] })
		w := &worker{id: i, conn: connect(t, addrs, 4*time.Second), rng: r, h: h, keys: keys, known: map[string]int32{}}
		workers = append(workers, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(stop)
		}()
	}

	nem := NewNemesis(c, seed, stamp)
	defer nem.Close()
	end := time.Now().Add(duration)
	var nemErr error
	for time.Now().Before(end) {
		if nemErr = nem.Step(nil); nemErr != nil {
			break
		}
	}
	if err := nem.Heal(); err != nil && nemErr == nil {
		nemErr = err
	}
	if nemErr != nil {
		close(stop)
		t.Fatalf("nemesis: %v", nemErr)
	}
	stamp("healed; waiting for the ensemble")
	if err := c.WaitServing(60 * time.Second); err != nil {
		close(stop)
		t.Fatal(err)
	}
	close(stop)
	waitDone(t, &wg, 60*time.Second, "the workers' last operations")
	stamp("workload stopped: %d operations", len(h.ops))

	// Final reads of every key ever used, through a fresh session, so that
	// a write lost at the very end is caught too.
	final := connect(t, c.Addrs(), 4*time.Second)
	used := map[string]bool{}
	for _, op := range h.ops {
		if in := op.Input.(input); in.op != opSeq {
			used[in.key] = true
		}
	}
	fw := &worker{id: clients, conn: final, h: h, known: map[string]int32{}}
	for _, k := range slices.Sorted(maps.Keys(used)) {
		n := len(h.ops)
		for try := 0; len(h.ops) == n && try < 50; try++ {
			fw.get(k)
		}
		if len(h.ops) == n {
			t.Fatalf("final read of %s failed 50 times", k)
		}
	}
	final.Close()
	for _, w := range workers {
		w.conn.Close()
	}
	admin.Close()
	for _, a := range slices.Sorted(maps.Keys(nem.Actions)) {
		stamp("action %-8s × %d", a, nem.Actions[a])
	}
	report := func(title string, m map[string]int) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			stamp("%s %-60s %d", title, k, m[k])
		}
	}
	report("acknowledged", h.acked)
	report("unknown     ", h.unknown)
	report("refused     ", h.failed)

	trees := converge(t, c, 60*time.Second)
	stamp("members converged: %d znodes each", len(trees[0]))
	// No member found its tree digest differing from a snapshot's or the
	// leader's (counted since its last start).
	for _, id := range c.IDs() {
		if n, ok := c.DigestMismatches(id); !ok || n != 0 {
			t.Errorf("member %d: digest_mismatches_count %d (answered: %v)", id, n, ok)
		}
	}

	// Every member's quota usage is what the registers' subtree holds.
	var count, size int
	for p, n := range trees[0] {
		if p == keysParent || strings.HasPrefix(p, keysParent+"/") {
			count++
			size += len(n.Data)
		}
	}
	want := fmt.Sprintf("count=%d,bytes=%d", count, size)
	for i, a := range c.Addrs() {
		cn := connect(t, []string{a}, 4*time.Second)
		if _, err := cn.Sync(keysParent); err != nil {
			t.Fatalf("member %d: sync: %v", i+1, err)
		}
		data, _, err := cn.Get(quota.StatPath(keysParent))
		cn.Close()
		if err != nil || string(data) != want {
			t.Errorf("member %d: quota usage of %s = %q (%v), its subtree holds %s", i+1, keysParent, data, err, want)
		}
	}
	stamp("quota usage of %s on every member: %s", keysParent, want)

	// Every acknowledged sequential node is there.
	for _, p := range h.seqs {
		if _, ok := trees[0][p]; !ok {
			t.Errorf("acknowledged sequential node %s is missing", p)
		}
	}
	// Every ephemeral went with its session.
	for p, n := range trees[0] {
		if n.Stat.EphemeralOwner != 0 {
			t.Errorf("ephemeral %s of closed session 0x%x remains", p, n.Stat.EphemeralOwner)
		}
	}

	res, info := porcupine.CheckOperationsVerbose(model, h.ops, 5*time.Minute)
	switch res {
	case porcupine.Illegal:
		path := filepath.Join(t.TempDir(), "history.html")
		if dir := os.Getenv("ZKGO_NEMESIS_OUT"); dir != "" {
			path = filepath.Join(dir, fmt.Sprintf("nemesis-%d.html", seed))
		}
		if err := porcupine.VisualizePath(model, info, path); err == nil {
			t.Logf("history: %s", path)
		}
		t.Errorf("history of %d operations is not linearizable (seed %d)", len(h.ops), seed)
	case porcupine.Unknown:
		t.Logf("linearizability check of %d operations timed out (inconclusive)", len(h.ops))
	default:
		stamp("history of %d operations is linearizable", len(h.ops))
	}
	if t.Failed() {
		t.Logf("replay: ZKGO_NEMESIS_SEED=%d ZKGO_NEMESIS_DURATION=%s ZKGO_NEMESIS_MEMBERS=%d go test -run '%s$' ./test/nemesis/", seed, duration, members, t.Name())
	}
}

func connect(t *testing.T, addrs []string, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(addrs, timeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitDone(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// converge waits until every member serves the same tree (every path,
// data and Stat field) and the same last zxid, and returns the trees.
func converge(t *testing.T, c *Cluster, d time.Duration) []map[string]node {
	t.Helper()
	conns := make([]*zk.Conn, c.N)
	for i, a := range c.Addrs() {
		conns[i] = connect(t, []string{a}, 4*time.Second)
	}
	deadline := time.Now().Add(d)
	var why string
	for {
		trees, err := dumpAll(conns)
		why = ""
		switch {
		case err != nil:
			why = err.Error()
		default:
			for i := 1; i < len(trees) && why == ""; i++ {
				if diff := diffTrees(trees[0], trees[i]); diff != "" {
					why = fmt.Sprintf("member %d vs 1: %s", i+1, diff)
				}
			}
			if why == "" {
				why = sameZxid(c)
			}
			if why == "" {
				for p, n := range trees[0] {
					if n.Stat.EphemeralOwner != 0 {
						why = "ephemeral " + p + " still there"
					}
				}
			}
		}
		if why == "" {
			for _, cn := range conns {
				cn.Close()
			}
			return trees
		}
		if time.Now().After(deadline) {
			t.Fatalf("members did not converge in %s: %s", d, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dumpAll(conns []*zk.Conn) ([]map[string]node, error) {
	var out []map[string]node
	for i, cn := range conns {
		tr, err := dumpTree(cn)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", i+1, err)
		}
		out = append(out, tr)
	}
	return out, nil
}

func sameZxid(c *Cluster) string {
	var zs []string
	seen := map[int64]bool{}
	for _, id := range c.IDs() {
		st, ok := c.Srvr(id)
		if !ok {
			return fmt.Sprintf("member %d does not answer srvr", id)
		}
		seen[st.Zxid] = true
		zs = append(zs, fmt.Sprintf("%d:0x%x", id, st.Zxid))
	}
	if len(seen) != 1 {
		return "last zxids differ: " + strings.Join(zs, " ")
	}
	return ""
}
