package crash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/servertest"
)

const (
	writers        = 4  // concurrent clients writing
	nodesPerWriter = 25 // each writer creates up to this many nodes, then only sets
	roundsFull     = 20
	roundsShort    = 5
	readyTimeout   = 30 * time.Second // server start, including recovery
	roundTimeout   = 30 * time.Second // writes of one round before the kill
	sessionTimeout = 4 * time.Second  // 2 × tickTime, Apache's minimum
)

// TestKill9LosesNoAcknowledgedWrite is the crash test of issue 3.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	track(t)
	rounds := roundsFull
	if testing.Short() {
		rounds = roundsShort
	}
	rounds = crashRounds(t, rounds)
	// 4 minutes for the default 20 rounds; go test's -timeout still applies.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute+time.Duration(max(rounds-20, 0))*12*time.Second)
	defer cancel()
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}

	bin := buildServer(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (rounds %d)", seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := newModel()

	for round := 1; round <= rounds; round++ {
		if ctx.Err() != nil {
			t.Fatalf("out of time after %d rounds", round-1)
		}
		forceSync := round%3 != 0 // forceSync=no must survive kill -9 too (page cache)
		srv := startServer(t, bin, work, dataDir, round, forceSync)

		if rng.IntN(6) == 0 {
			// Kill during start-up (recovery, snapshot loading) without
			// waiting: the next round must still find everything.
			delay := time.Duration(rng.IntN(150)) * time.Millisecond
			time.AfterFunc(delay, srv.kill)
			srv.waitKilled(t)
			t.Logf("round %d: killed during start-up after %v", round, delay)
			continue
		}

		if err := srv.waitReady(ctx); err != nil {
			srv.kill()
			srv.waitKilled(t)
			t.Fatalf("round %d: server not ready: %v\n%s", round, err, srv.logTail())
		}
		if err := m.verify(srv.addr); err != nil {
			srv.kill()
			srv.waitKilled(t)
			t.Fatalf("round %d: after restart: %v\n%s", round, err, srv.logTail())
		}
		for _, l := range srv.recoveryLines() {
			t.Logf("round %d: recovery: %s", round, l)
		}
		killAfter := 10 + rng.IntN(400) // acknowledged writes before the kill
		acked, err := m.load(ctx, srv, round, killAfter, rng.Uint64())
		srv.waitKilled(t)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, srv.logTail())
		}
		t.Logf("round %d: %d writes acknowledged, then SIGKILL (forceSync=%v); %d nodes tracked",
			round, acked, forceSync, len(m.nodes))
	}

	// Final restart: everything must be there, then a clean shutdown.
	srv := startServer(t, bin, work, dataDir, rounds+1, true)
	if err := srv.waitReady(ctx); err != nil {
		srv.kill()
		srv.waitKilled(t)
		t.Fatalf("final start: %v\n%s", err, srv.logTail())
	}
	if err := m.verify(srv.addr); err != nil {
		srv.kill()
		srv.waitKilled(t)
		t.Fatalf("final check: %v\n%s", err, srv.logTail())
	}
	if err := srv.stop(10 * time.Second); err != nil {
		if os.Getenv(serverEnv) != "" {
			t.Logf("shutdown of %s: %v", os.Getenv(serverEnv), err) // the JVM exits 143 on SIGTERM
		} else {
			t.Errorf("clean shutdown (SIGTERM): %v\n%s", err, srv.logTail())
		}
	}
	if m.total == 0 {
		t.Fatal("no write was ever acknowledged: the test proved nothing")
	}
	t.Logf("%d acknowledged writes over %d rounds, %d nodes verified after every restart", m.total, rounds, len(m.nodes))
}

// roundsEnv sets the number of kill rounds of the crash tests (make test
// runs a few; a long run sets e.g. ZKGO_CRASH_ROUNDS=200).
const roundsEnv = "ZKGO_CRASH_ROUNDS"

// crashRounds returns the rounds from roundsEnv, or def.
func crashRounds(t *testing.T, def int) int {
	if v := os.Getenv(roundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", roundsEnv, v)
		}
		return n
	}
	return def
}

// serverEnv names another server binary to run instead of building
// cmd/zkserver, called as `<binary> start-foreground zoo.cfg`: set it to
// /usr/share/zookeeper/bin/zkServer.sh to check the harness against Apache.
const serverEnv = "ZKGO_CRASH_SERVER"

// raceEnv, when set, builds zkserver with -race; every server log is
// checked for data race reports either way.
const raceEnv = "ZKGO_CRASH_RACE"

// buildServer builds cmd/zkserver into a temporary directory.
func buildServer(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(serverEnv); bin != "" {
		t.Logf("%s set: testing %s instead of cmd/zkserver", serverEnv, bin)
		return bin
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "zkserver")
	args := []string{"build", "-o", bin}
	if os.Getenv(raceEnv) != "" {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, "github.com/zkgo/zkgo/cmd/zkserver")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/zkserver: %v\n%s", err, out)
	}
	return bin
}

// server is one zkserver process.
type server struct {
	addr    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process is gone
	waitErr error
	killed  atomic.Bool
}

func startServer(t *testing.T, bin, work, dataDir string, round int, forceSync bool) *server {
	t.Helper()
	sync := "yes"
	if !forceSync {
		sync = "no"
	}
	// A small snapCount makes the server write snapshots during the test,
	// so recovery runs from snapshot + log, and kills land mid-snapshot.
	return startServerCfg(t, bin, work, dataDir, round, "snapCount=200\nforceSync="+sync+"\n")
}

// startServerCfg starts zkserver with a zoo.cfg of tickTime, dataDir, a
// free clientPort on 127.0.0.1, no AdminServer (its default 0.0.0.0:8080
// is shared by everything on the machine; a busy port stops the server, as
// in Apache), and the extra lines.
func startServerCfg(t *testing.T, bin, work, dataDir string, round int, extra string) *server {
	t.Helper()
	port := servertest.FreePorts(t, 1)[0]
	cfg := fmt.Sprintf(`tickTime=2000
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
`, dataDir, port) + extra
	cfgPath := filepath.Join(work, fmt.Sprintf("zoo-%d.cfg", round))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{
		addr:    fmt.Sprintf("127.0.0.1:%d", port),
		logPath: filepath.Join(work, fmt.Sprintf("server-%d.log", round)),
		exited:  make(chan struct{}),
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "start-foreground", cfgPath)
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start zkserver: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill()
		<-s.exited
		if b, err := os.ReadFile(s.logPath); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("zkserver reported a data race:\n%s", b)
		}
	})
	return s
}

func (s *server) kill() {
	s.killed.Store(true)
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
}

// waitKilled waits for the process to be gone and checks that it died of
// our SIGKILL, not on its own.
func (s *server) waitKilled(t *testing.T) {
	t.Helper()
	<-s.exited
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return
		}
	}
	t.Fatalf("zkserver exited by itself (%v) before the kill\n%s", s.waitErr, s.logTail())
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(timeout time.Duration) error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(timeout):
		s.kill()
		<-s.exited
		return fmt.Errorf("no exit within %v of SIGTERM", timeout)
	}
}

// waitReady polls the client port with the srvr four-letter word (enabled
// by default) until the server answers, it exits, or ctx/readyTimeout ends.
func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if resp, err := srvr(s.addr); err == nil && strings.Contains(resp, "Mode:") {
			return nil
		} else if err != nil {
			last = err
		} else {
			last = fmt.Errorf("unexpected srvr answer %q", resp)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %v: %v", s.addr, readyTimeout, last)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("zkserver exited during start-up: %v", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func srvr(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(c)
	return b.String(), err
}

// recoveryLines returns the lines of the server log about recovering the
// write-ahead log (zkserver's storage says "WAL"), to show that kills landed
// between a WAL write and its move into the main log file.
func (s *server) recoveryLines() []string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "WAL") {
			out = append(out, l)
		}
	}
	return out
}

func (s *server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "server log " + s.logPath + " (tail):\n" + strings.Join(lines, "\n")
}

// node is what the test knows about one znode.
type node struct {
	exists  bool   // an acknowledged create (or a verified one)
	data    string // last acknowledged (or verified) data
	pending *write // a write whose reply never came: it may or may not be there
}

type write struct {
	create bool
	data   string
	group  *group // the ops of one request (a multi): all applied or none
}

// group ties the writes of one request together.
type group struct{ size int }

// model is the acknowledged state of every znode the writers touched.
type model struct {
	mu    sync.Mutex
	nodes map[string]*node
	total int // acknowledged writes over the whole test
	next  int // global counter making every written value unique and increasing
	// pendingSeq is a writer's sequential create whose reply never came:
	// its name is unknown, so a node of that writer with its data may
	// appear after the restart.
	pendingSeq map[int]string
	stopped    map[int]string // writer -> the connection error that stopped it
}

func newModel() *model { return &model{nodes: map[string]*node{}, pendingSeq: map[int]string{}} }

// seqPrefix names the sequential nodes; ZooKeeper appends 10 digits.
const seqPrefix = "s-"

// maxSeqLocked is the highest sequence suffix among the writer's known
// nodes (-1 if none).
func (m *model) maxSeqLocked(dir string) int64 {
	highest := int64(-1)
	for p := range m.nodes {
		if n, ok := seqSuffix(dir, p); ok && n > highest {
			highest = n
		}
	}
	return highest
}

func seqSuffix(dir, path string) (int64, bool) {
	rest, ok := strings.CutPrefix(path, dir+"/"+seqPrefix)
	if !ok {
		return 0, false
	}
	var n int64
	if _, err := fmt.Sscanf(rest, "%d", &n); err != nil {
		return 0, false
	}
	return n, true
}

func writerDir(w int) string { return fmt.Sprintf("/crash/w%d", w) }

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connect opens a client and waits for its session.
func connect(addr string) (*zk.Conn, error) {
	c, ev, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	timeout := time.After(readyTimeout)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() { // keep draining so the client never blocks
					for range ev {
					}
				}()
				return c, nil
			}
		case <-timeout:
			c.Close()
			return nil, fmt.Errorf("no session with %s within %v", addr, readyTimeout)
		}
	}
}

// verify reads every node back: an acknowledged node must exist with its
// acknowledged data, or with the data of the write pending at the kill; a
// node only pending may be there (with its data) or not; no node may appear
// that nobody wrote. The model then takes what was read as the new truth.
func (m *model) verify(addr string) error {
	c, err := connect(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range []string{"/crash"} {
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	for w := range writers {
		dir := writerDir(w)
		if _, err := c.Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		kids, _, err := c.Children(dir)
		if err != nil {
			return fmt.Errorf("children of %s: %w", dir, err)
		}
		for _, k := range kids {
			p := dir + "/" + k
			if _, ok := m.nodes[p]; ok {
				continue
			}
			// The sequential create in flight at the kill may have made it.
			if want, ok := m.pendingSeq[w]; ok && strings.HasPrefix(k, seqPrefix) {
				data, _, err := c.Get(p)
				if err != nil {
					return fmt.Errorf("get %s: %w", p, err)
				}
				if string(data) == want {
					m.nodes[p] = &node{exists: true, data: want}
					delete(m.pendingSeq, w)
					continue
				}
			}
			return fmt.Errorf("%s exists but was never written", p)
		}
	}
	clear(m.pendingSeq)
	paths := make([]string, 0, len(m.nodes))
	for p := range m.nodes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	decided := map[*group]decision{}
	for _, p := range paths {
		n := m.nodes[p]
		data, _, err := c.Get(p)
		exists := err == nil
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("get %s: %w", p, err)
		}
		got := string(data)
		switch {
		case n.exists && !exists:
			return fmt.Errorf("LOST: %s was acknowledged (data %q) but is gone", p, n.data)
		case n.exists && got != n.data && (n.pending == nil || got != n.pending.data):
			return fmt.Errorf("LOST: %s has %q, acknowledged %q%s", p, got, n.data, pendingNote(n))
		case !n.exists && exists && (n.pending == nil || got != n.pending.data):
			return fmt.Errorf("%s has %q but its create was never acknowledged%s", p, got, pendingNote(n))
		}
		if n.pending != nil {
			applied := exists && got == n.pending.data
			if prev, seen := decided[n.pending.group]; seen && prev.applied != applied {
				return fmt.Errorf("multi torn by the crash: %s applied=%v but %s applied=%v", prev.path, prev.applied, p, applied)
			}
			decided[n.pending.group] = decision{p, applied}
		}
		n.exists, n.data, n.pending = exists, got, nil
	}
	return nil
}

type decision struct {
	path    string
	applied bool
}

func pendingNote(n *node) string {
	if n.pending == nil {
		return ""
	}
	return fmt.Sprintf(" (unacknowledged write in flight: %q)", n.pending.data)
}

// load runs the writers until killAfter writes are acknowledged, then kills
// the server with SIGKILL while they are still writing, and waits for them.
func (m *model) load(ctx context.Context, srv *server, round, killAfter int, seed uint64) (int, error) {
	return m.loadWith(ctx, srv, killAfter, seed, nil)
}

// loadWith is load with a second way to end the round: when arm is set it
// is called once the writers run, with a function that kills the server
// at once, and returns a function that disarms it.
func (m *model) loadWith(ctx context.Context, srv *server, killAfter int, seed uint64, arm func(kill func()) (disarm func())) (int, error) {
	var acked atomic.Int64
	var external atomic.Bool // arm's kill ended the round
	killNow := make(chan struct{})
	var killOnce sync.Once
	trigger := func() { killOnce.Do(func() { close(killNow) }) }
	stop := make(chan struct{})
	errc := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		c, err := connect(srv.addr)
		if err != nil {
			close(stop)
			wg.Wait()
			srv.kill()
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			errc <- m.writer(c, w, rand.New(rand.NewPCG(seed, uint64(w))), stop, func() {
				if int(acked.Add(1)) >= killAfter {
					trigger()
				}
			})
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	if arm != nil {
		disarm := arm(func() {
			external.Store(true)
			trigger() // before the kill: the writers stop only after it
			srv.kill()
		})
		defer disarm()
	}
	timeout := time.NewTimer(roundTimeout)
	defer timeout.Stop()
	var err error
	select {
	case <-killNow:
	case <-allDone:
		select {
		case <-killNow: // both were ready: the kill came first
		default:
			err = fmt.Errorf("every writer stopped before the kill: %s", m.lostConns())
		}
	case <-timeout.C:
		err = fmt.Errorf("only %d of %d writes acknowledged within %v", acked.Load(), killAfter, roundTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	srv.kill()
	<-srv.exited
	close(stop)
	<-allDone
	close(errc)
	for e := range errc {
		if e != nil && err == nil {
			err = e
		}
	}
	if err == nil && acked.Load() < int64(killAfter) && !external.Load() {
		err = fmt.Errorf("only %d writes acknowledged", acked.Load())
	}
	return int(acked.Load()), err
}

// writer creates nodes, sets increasing values on them and now and then
// runs a multi (two sets and a create, one txn) until an error (the kill)
// or stop. Every acknowledged write is recorded; the first failed one is
// recorded as pending (its outcome is unknown) and ends the writer.
func (m *model) writer(c *zk.Conn, w int, rng *rand.Rand, stop <-chan struct{}, ack func()) error {
	dir := writerDir(w)
	acl := zk.WorldACL(zk.PermAll)
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		m.mu.Lock()
		var mine []string
		for p, n := range m.nodes {
			if strings.HasPrefix(p, dir+"/") && n.exists {
				mine = append(mine, p)
			}
		}
		slices.Sort(mine)
		type op struct {
			path   string
			create bool
			val    string
		}
		var ops []op
		newNode := func() op {
			m.next++
			p := fmt.Sprintf("%s/n%d", dir, m.next)
			m.nodes[p] = &node{}
			return op{p, true, fmt.Sprintf("v%08d", m.next)}
		}
		setNode := func(p string) op {
			m.next++
			return op{p, false, fmt.Sprintf("v%08d", m.next)}
		}
		if len(mine) < nodesPerWriter && rng.IntN(8) == 0 {
			// A sequential create: its name comes from the parent's
			// cversion, which must survive the crash (no suffix reused).
			m.next++
			val := fmt.Sprintf("v%08d", m.next)
			m.pendingSeq[w] = val
			floor := m.maxSeqLocked(dir)
			m.mu.Unlock()
			name, err := c.Create(dir+"/"+seqPrefix, []byte(val), zk.FlagSequence, acl)
			if err != nil {
				if isConnErr(err) {
					m.lostConn(w, err)
					return nil
				}
				return fmt.Errorf("writer %d: sequential create: %w", w, err)
			}
			n, ok := seqSuffix(dir, name)
			if !ok || n <= floor {
				return fmt.Errorf("writer %d: sequential create got %s, but suffix %d was already used before", w, name, floor)
			}
			m.mu.Lock()
			m.nodes[name] = &node{exists: true, data: val}
			delete(m.pendingSeq, w)
			m.total++
			m.mu.Unlock()
			ack()
			continue
		}
		switch {
		case len(mine) == 0 || (len(mine) < nodesPerWriter && rng.IntN(3) == 0):
			ops = []op{newNode()}
		case len(mine) >= 2 && rng.IntN(5) == 0:
			a := rng.IntN(len(mine))
			b := (a + 1 + rng.IntN(len(mine)-1)) % len(mine)
			ops = []op{setNode(mine[a]), setNode(mine[b])}
			if len(mine) < nodesPerWriter {
				ops = append(ops, newNode())
			}
		default:
			ops = []op{setNode(mine[rng.IntN(len(mine))])}
		}
		g := &group{size: len(ops)}
		for _, o := range ops {
			m.nodes[o.path].pending = &write{create: o.create, data: o.val, group: g}
		}
		m.mu.Unlock()

		var err error
		what := "set"
		switch {
		case len(ops) > 1:
			what = "multi"
			var reqs []any
			for _, o := range ops {
				if o.create {
					reqs = append(reqs, &zk.CreateRequest{Path: o.path, Data: []byte(o.val), Acl: acl})
				} else {
					reqs = append(reqs, &zk.SetDataRequest{Path: o.path, Data: []byte(o.val), Version: -1})
				}
			}
			_, err = c.Multi(reqs...)
		case ops[0].create:
			what = "create"
			_, err = c.Create(ops[0].path, []byte(ops[0].val), 0, acl)
		default:
			_, err = c.Set(ops[0].path, []byte(ops[0].val), -1)
		}

		if err == nil {
			m.mu.Lock()
			for _, o := range ops {
				n := m.nodes[o.path]
				n.exists, n.data, n.pending = true, o.val, nil
			}
			m.total++
			m.mu.Unlock()
			ack()
			continue
		}
		// Connection errors are what a kill looks like; a ZooKeeper error
		// code on a healthy connection is a bug.
		if isConnErr(err) {
			m.lostConn(w, err)
			return nil
		}
		return fmt.Errorf("writer %d: %s %s: %w", w, what, ops[0].path, err)
	}
}

// lostConn records why writer w stopped (for the report when every writer
// stops before the kill).
func (m *model) lostConn(w int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped == nil {
		m.stopped = map[int]string{}
	}
	m.stopped[w] = fmt.Sprintf("%s at %s", err, time.Now().Format("15:04:05.000"))
}

func (m *model) lostConns() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprint(m.stopped)
}

func isConnErr(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrClosing) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrSessionMoved) ||
		errors.Is(err, zk.ErrNoServer)
}

// TestHarnessDetectsLostWrite checks the checker: a node removed or set
// back behind the model's back must be reported as lost.
func TestHarnessDetectsLostWrite(t *testing.T) {
	track(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := buildServer(t)
	work := t.TempDir()
	srv := startServer(t, bin, work, filepath.Join(work, "data"), 1, true)
	if err := srv.waitReady(ctx); err != nil {
		t.Fatalf("server not ready: %v\n%s", err, srv.logTail())
	}
	m := newModel()
	if err := m.verify(srv.addr); err != nil { // creates /crash/w*
		t.Fatal(err)
	}
	c, err := connect(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	n := 0
	if err := m.writer(c, 0, rand.New(rand.NewPCG(1, 2)), stop, func() {
		if n++; n == 60 {
			close(stop)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.verify(srv.addr); err != nil {
		t.Fatalf("untouched state fails verification: %v", err)
	}
	var paths []string
	for p := range m.nodes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	tests := []struct {
		name         string
		damage, undo func(p string) error
		want         string
	}{
		{"deleted", func(p string) error { return c.Delete(p, -1) },
			func(p string) error {
				_, err := c.Create(p, []byte(m.nodes[p].data), 0, zk.WorldACL(zk.PermAll))
				return err
			}, "LOST"},
		{"older value", func(p string) error { _, err := c.Set(p, []byte("v00000000"), -1); return err },
			func(p string) error { _, err := c.Set(p, []byte(m.nodes[p].data), -1); return err }, "LOST"},
		{"never written", func(string) error {
			_, err := c.Create(writerDir(1)+"/stray", nil, 0, zk.WorldACL(zk.PermAll))
			return err
		}, func(string) error { return c.Delete(writerDir(1)+"/stray", -1) }, "never written"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			track(t)
			p := paths[i]
			saved := *m.nodes[p]
			if err := tc.damage(p); err != nil {
				t.Fatal(err)
			}
			err := m.verify(srv.addr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify after the node was %s: %v, want %q", tc.name, err, tc.want)
			}
			*m.nodes[p] = saved
			if err := tc.undo(p); err != nil {
				t.Fatal(err)
			}
			if err := m.verify(srv.addr); err != nil {
				t.Fatalf("after undoing the damage: %v", err)
			}
		})
	}
	t.Run("torn multi", func(t *testing.T) {
		track(t)
		// Model a multi in flight at the kill over paths[3] and paths[4]:
		// the server shows it applied on the first node only.
		g := &group{size: 2}
		a, b := m.nodes[paths[3]], m.nodes[paths[4]]
		a.pending = &write{data: a.data, group: g}
		a.data = "v-older"
		b.pending = &write{data: "v-never-written", group: g}
		err := m.verify(srv.addr)
		if err == nil || !strings.Contains(err.Error(), "torn") {
			t.Fatalf("verify of a half-applied multi: %v, want it reported as torn", err)
		}
	})
	if err := srv.stop(10 * time.Second); err != nil && os.Getenv(serverEnv) == "" {
		t.Errorf("clean shutdown: %v", err)
	}
}
