package ensemble

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake zkserver (see fakeServer) when
// started with $ENSEMBLE_FAKE_ZKSERVER set, so the process management
// (spawn, pids, signals, waiting, state file) is tested without the real
// server; test/e2e runs the real one.
const fakeEnv = "ENSEMBLE_FAKE_ZKSERVER"

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(fakeEnv); ok {
		os.Exit(fakeServer(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeServer is `zkserver start-foreground zoo.cfg` reduced to srvr: the
// highest voting id says Mode: leader, other voters follower, observers
// observer. mode "exit" fails at once as zkserver does when its port is
// taken; mode "ignore-term" ignores SIGTERM; mode "not-serving" answers
// srvr as a member without a quorum does.
func fakeServer(mode string, args []string) int {
	if len(args) != 2 || args[0] != "start-foreground" {
		fmt.Fprintln(os.Stderr, "fake zkserver: want start-foreground zoo.cfg")
		return 2
	}
	cfg, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake zkserver:", err)
		return 1
	}
	kv := map[string]string{}
	voters := 0
	for _, line := range strings.Split(string(cfg), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(line, "#") {
			kv[k] = v
			if strings.HasPrefix(k, "server.") && !strings.Contains(v, ":observer") {
				voters++
			}
		}
	}
	addr := net.JoinHostPort(kv["clientPortAddress"], kv["clientPort"])
	if mode == "exit" {
		fmt.Fprintf(os.Stderr, "zkserver: client port %s: address already in use\n", addr)
		return 1
	}
	myid, _ := os.ReadFile(filepath.Join(kv["dataDir"], "myid"))
	id := strings.TrimSpace(string(myid))
	role := "follower"
	switch {
	case kv["peerType"] == "observer":
		role = "observer"
	case id == strconv.Itoa(voters):
		role = "leader"
	}
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkserver:", err)
		return 1
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	fmt.Fprintf(os.Stderr, "fake zkserver %s serving on %s as %s\n", id, addr, role)
	for {
		c, err := ln.Accept()
		if err != nil {
			return 0
		}
		go func() {
			defer c.Close()
			w := make([]byte, 4)
			if _, err := io.ReadFull(bufio.NewReader(c), w); err != nil || string(w) != "srvr" {
				return
			}
			if mode == "not-serving" {
				fmt.Fprintln(c, "This ZooKeeper instance is not currently serving requests")
				return
			}
			fmt.Fprintf(c, "Zookeeper version: 3.8.0-fake\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x100000002\nMode: %s\nNode count: 5\n", role)
		}()
	}
}

// fakeOptions starts the test binary itself as zkserver in mode.
func fakeOptions(t *testing.T, mode string) Options {
	t.Helper()
	t.Setenv(fakeEnv, mode)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Dir: filepath.Join(t.TempDir(), "ens"), ServerBin: exe, Grace: 5 * time.Second}
}

// lowBase returns a base port with n free client ports below the
// ephemeral range, so no outgoing connection can take one meanwhile.
func lowBase(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		// The AdminServer ports sit adminOffset (5899) above the client
		// ports: keep them below 32768 too.
		base := 20000 + rand.IntN(6500)
		if (&Spec{Host: DefaultHost}).CheckPorts([]Member{{ID: 1, ClientPort: base, QuorumPort: base + 1, ElectionPort: base + 2, AdminPort: base + n}}, ListenCheck) == nil {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// downAtEnd stops whatever the test left running.
func downAtEnd(t *testing.T, o Options) {
	t.Cleanup(func() {
		e, err := Open(o)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := e.Down(ctx, false); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func TestLifecycle(t *testing.T) {
	ctx := testCtx(t)
	o := fakeOptions(t, "serve")
	downAtEnd(t, o)
	base := lowBase(t, 3)

	e, res, err := Up(ctx, Shape{BasePort: base}, o)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if res.AlreadyRunning || res.Resumed || !r.Healthy || r.Leader != 3 || len(r.Members) != 3 {
		t.Fatalf("Up: %+v %+v", res, r)
	}
	pids := map[int]int{}
	for _, m := range r.Members {
		if m.PID == 0 || !alive(m.PID, e.Dir(), m.ID) || m.Zxid != "0x100000002" || m.Client != net.JoinHostPort(DefaultHost, strconv.Itoa(base+m.ID-1)) {
			t.Fatalf("member %+v", m)
		}
		pids[m.ID] = m.PID
	}

	// A second Up reports the running ensemble, starts nothing.
	_, res, err = Up(ctx, Shape{}, o)
	if err != nil || !res.AlreadyRunning {
		t.Fatalf("second Up: %v %+v", err, res)
	}
	for _, m := range res.Report.Members {
		if m.PID != pids[m.ID] {
			t.Fatalf("second Up: server %d pid %d, was %d", m.ID, m.PID, pids[m.ID])
		}
	}
	// Asking for another shape in the same directory is a conflict.
	var ce *ConflictError
	if _, _, err := Up(ctx, Shape{Voters: 5}, o); !errors.As(err, &ce) {
		t.Fatalf("Up -n 5 over a 3-member ensemble: %v, want a ConflictError", err)
	}

	// Kill: the process is gone at once, status says stopped.
	e2, err := Open(Options{Dir: o.Dir, ServerBin: o.ServerBin})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := e2.Kill(ctx, 3)
	if err != nil || pid != pids[3] {
		t.Fatalf("Kill(3): pid %d, %v; want %d", pid, err, pids[3])
	}
	if alive(pid, e2.Dir(), 3) {
		t.Fatal("killed server 3 is alive")
	}
	r = e2.Status(ctx)
	if m, _ := r.Member(3); m.Role != RoleStopped || m.PID != 0 || r.Healthy {
		t.Fatalf("after Kill(3): %+v healthy %v", m, r.Healthy)
	}
	if _, err := e2.Kill(ctx, 3); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Kill of a stopped member: %v, want ErrNotRunning", err)
	}
	if _, err := e2.Kill(ctx, 7); err == nil || !strings.Contains(err.Error(), "no server 7") {
		t.Fatalf("Kill(7): %v", err)
	}

	// Start brings it back with a new pid; starting it again does nothing.
	ms, running, err := e2.Start(ctx, 3)
	if err != nil || running || ms.Role != "leader" || ms.PID == 0 || ms.PID == pids[3] {
		t.Fatalf("Start(3): %+v running %v, %v", ms, running, err)
	}
	ms2, running, err := e2.Start(ctx, 3)
	if err != nil || !running || ms2.PID != ms.PID {
		t.Fatalf("second Start(3): %+v running %v, %v", ms2, running, err)
	}

	// Stop is graceful; stopping a stopped member is not an error.
	if pid, err := e2.Stop(ctx, 2); err != nil || pid != pids[2] {
		t.Fatalf("Stop(2): %d %v", pid, err)
	}
	if pid, err := e2.Stop(ctx, 2); err != nil || pid != 0 {
		t.Fatalf("second Stop(2): %d %v", pid, err)
	}
	ms, err = e2.Restart(ctx, 1)
	if err != nil || ms.PID == pids[1] || ms.Role != "follower" {
		t.Fatalf("Restart(1): %+v %v", ms, err)
	}

	// Down stops the rest; Up starts the stopped ensemble again.
	stopped, err := e2.Down(ctx, false)
	if err != nil || len(stopped) != 2 || stopped[0] != 1 || stopped[1] != 3 {
		t.Fatalf("Down: stopped %v, %v; want [1 3]", stopped, err)
	}
	if r := e2.Status(ctx); r.Members[0].Role != RoleStopped || r.Members[1].Role != RoleStopped || r.Members[2].Role != RoleStopped {
		t.Fatalf("after Down: %+v", r.Members)
	}
	_, res, err = Up(ctx, Shape{}, o)
	if err != nil || !res.Resumed || !res.Report.Healthy {
		t.Fatalf("Up of a stopped ensemble: %v %+v", err, res)
	}
	if _, err := e2.Down(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Down with purge left %s: %v", o.Dir, err)
	}
}

// TestStartWithoutQuorum: starting one member of a stopped 3-member
// ensemble cannot make it serve; Start says so (and which members to
// start) after noQuorumFor instead of waiting out its whole deadline. With
// a quorum running, a member that does not serve is waited for.
func TestStartWithoutQuorum(t *testing.T) {
	ctx := testCtx(t)
	o := fakeOptions(t, "")
	downAtEnd(t, o)
	e, _, err := Up(ctx, Shape{BasePort: lowBase(t, 3)}, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Down(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeEnv, "not-serving")

	_, _, err = e.Start(ctx, 1)
	want := "server 1 runs but cannot serve: 1 of 3 voting members run, a quorum needs 2; start another (stopped: 2, 3), e.g. zk ensemble start 2"
	if err == nil || err.Error() != want {
		t.Fatalf("Start(1) alone: %v\nwant %s", err, want)
	}
	if r := e.Status(ctx); r.Members[0].Role != RoleNotServing {
		t.Fatalf("Start(1) did not leave server 1 running: %+v", r.Members[0])
	}

	short, cancel := context.WithTimeout(ctx, noQuorumFor+time.Second)
	defer cancel()
	_, _, err = e.Start(short, 2)
	if err == nil || !strings.HasPrefix(err.Error(), "timed out waiting for server 2 to serve") {
		t.Fatalf("Start(2) with 2 of 3 running: %v; want it to wait until its deadline", err)
	}
}

func TestUpReportsAServerThatExits(t *testing.T) {
	ctx := testCtx(t)
	o := fakeOptions(t, "exit")
	downAtEnd(t, o)
	base := lowBase(t, 3)
	_, _, err := Up(ctx, Shape{BasePort: base}, o)
	if err == nil {
		t.Fatal("Up succeeded with servers that exit")
	}
	msg := err.Error()
	if !strings.Contains(msg, "address already in use") || !strings.Contains(msg, "zkserver.log") || !strings.Contains(msg, "exit status 1") {
		t.Fatalf("Up: %q, want the server's last log line, its exit status and its log path", msg)
	}
	e, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range e.Spec().Members {
		if m.PID != 0 {
			t.Fatalf("after a failed Up, server %d is recorded with pid %d", m.ID, m.PID)
		}
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	ctx := testCtx(t)
	o := fakeOptions(t, "ignore-term")
	o.Grace = 300 * time.Millisecond
	downAtEnd(t, o)
	e, res, err := Up(ctx, Shape{Voters: 1, BasePort: lowBase(t, 1)}, o)
	if err != nil {
		t.Fatal(err)
	}
	pid := res.Report.Members[0].PID
	if got, err := e.Stop(ctx, 1); err != nil || got != pid {
		t.Fatalf("Stop: %d %v", got, err)
	}
	if alive(pid, e.Dir(), 1) {
		t.Fatal("a server that ignores SIGTERM survived Stop")
	}
}

func TestUpPortInUse(t *testing.T) {
	ctx := testCtx(t)
	o := fakeOptions(t, "serve")
	downAtEnd(t, o)
	base := lowBase(t, 3)
	ln, err := net.Listen("tcp", net.JoinHostPort(DefaultHost, strconv.Itoa(base+1)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, _, err = Up(ctx, Shape{BasePort: base}, o)
	var pe *PortInUseError
	if !errors.As(err, &pe) || pe.Port != base+1 {
		t.Fatalf("Up with port %d taken: %v", base+1, err)
	}
	want := fmt.Sprintf("port %d (client port of server 2) is in use on 127.0.0.1", base+1)
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if _, err := os.Stat(o.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed Up left the directory it created: %v", err)
	}
}

func TestAliveIgnoresOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	if alive(os.Getpid(), dir, 1) {
		t.Fatal("this test process is taken for server 1 of " + dir)
	}
	if alive(0, dir, 1) || alive(-1, dir, 1) {
		t.Fatal("pid 0 or -1 is alive")
	}
}
