package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const (
	testTimeout    = 4 * time.Minute  // the whole scenario
	stepTimeout    = 90 * time.Second // one zk command, one wait
	sessionTimeout = 10 * time.Second // the go-zookeeper sessions
)

// ensembleReport is the part of `zk ensemble status -o json` the test reads.
type ensembleReport struct {
	Dir     string `json:"dir"`
	Connect string `json:"connect"`
	Healthy bool   `json:"healthy"`
	Leader  int    `json:"leader"`
	Members []struct {
		ID     int    `json:"id"`
		Role   string `json:"role"`
		Client string `json:"client"`
		PID    int    `json:"pid"`
		Zxid   string `json:"zxid"`
		Log    string `json:"log"`
	} `json:"members"`
}

// statusReport is the part of `zk status -o json` the test reads.
type statusReport struct {
	Servers []struct {
		Server string `json:"server"`
		State  string `json:"state"`
		Mode   string `json:"mode"`
		Zxid   string `json:"zxid"`
	} `json:"servers"`
	Health string `json:"health"`
	Leader string `json:"leader"`
}

// TestEnsembleFailover is issue 5's end-to-end check: zk ensemble up,
// write through each member, kill the leader, writes resume through the
// others, the killed member comes back and catches up, and zk status
// tells the truth at each step.
func TestEnsembleFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	bin := buildBinaries(t, ctx)
	h := &harness{t: t, ctx: ctx, zk: filepath.Join(bin, "zk"), dir: filepath.Join(t.TempDir(), "ensemble")}
	base := freeBasePort(t, 3)
	t.Cleanup(h.cleanup)

	// 1. Up: three members, one leader, every member serving.
	out, errOut, code := h.zkCmd("ensemble", "up", "--dir", h.dir, "--base-port", strconv.Itoa(base), "-o", "json")
	if code != 0 {
		t.Fatalf("zk ensemble up: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var up ensembleReport
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("zk ensemble up -o json: %v\n%s", err, out)
	}
	if !up.Healthy || up.Leader == 0 || len(up.Members) != 3 {
		t.Fatalf("zk ensemble up: want 3 healthy members with a leader, got %+v", up)
	}
	addrs := map[int]string{}
	for i, m := range up.Members {
		want := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i))
		if m.ID != i+1 || m.Client != want || m.PID == 0 || m.Zxid == "" {
			t.Fatalf("zk ensemble up: member %d = %+v, want id %d on %s with a pid and a zxid", i, m, i+1, want)
		}
		addrs[m.ID] = m.Client
	}
	all := strings.Join([]string{addrs[1], addrs[2], addrs[3]}, ",")
	if up.Connect != all {
		t.Fatalf("zk ensemble up: connect %q, want %q", up.Connect, all)
	}

	// Up again reports the running ensemble and starts nothing.
	out, errOut, code = h.zkCmd("ensemble", "up", "--dir", h.dir)
	if code != 0 || !strings.Contains(errOut, "already running") {
		t.Fatalf("second zk ensemble up: exit %d, stderr %q; want 0 and 'already running'", code, errOut)
	}
	for _, m := range up.Members {
		if !strings.Contains(out, strconv.Itoa(m.PID)) {
			t.Fatalf("second zk ensemble up does not report pid %d of server %d:\n%s", m.PID, m.ID, out)
		}
	}

	// Another ensemble on the same client ports: a one-line error naming
	// the port, exit 1, nothing started.
	other := filepath.Join(filepath.Dir(h.dir), "other")
	_, errOut, code = h.zkCmd("ensemble", "up", "--dir", other, "--base-port", strconv.Itoa(base))
	wantErr := fmt.Sprintf("zk: ensemble up: port %d (client port of server 1) is in use on 127.0.0.1\n", base)
	if code != 1 || errOut != wantErr {
		t.Fatalf("zk ensemble up on taken ports: exit %d, stderr %q; want 1 and %q", code, errOut, wantErr)
	}

	// zk status: healthy, exit 0, the same leader.
	st := h.status(all, 0)
	if st.Health != "ok" || st.Leader != addrs[up.Leader] {
		t.Fatalf("zk status after up: health %q leader %q, want ok and %s", st.Health, st.Leader, addrs[up.Leader])
	}
	text, _, code := h.zkCmd("status", "-server", all)
	if code != 0 || !strings.Contains(text, "health: ok") {
		t.Fatalf("zk status (text) after up: exit %d\n%s", code, text)
	}

	// 2. Write through each member.
	want := map[string]string{}
	h.mustCreate(addrs[1], "/e2e", "")
	for id := 1; id <= 3; id++ {
		p := fmt.Sprintf("/e2e/before-%d", id)
		h.mustCreate(addrs[id], p, "written through server "+strconv.Itoa(id))
		want[p] = "written through server " + strconv.Itoa(id)
	}
	for id := 1; id <= 3; id++ {
		h.checkTree(addrs[id], want)
	}

	// A usage error is exit 2 and changes nothing.
	if _, errOut, code := h.zkCmd("ensemble", "kill", "--dir", h.dir); code != 2 || !strings.Contains(errOut, "want one server id") {
		t.Fatalf("zk ensemble kill without an id: exit %d, stderr %q; want 2", code, errOut)
	}

	// 3. Kill the leader: zk status says degraded (exit 1) at once, and
	// keeps saying so once the other two have elected a new leader.
	old := up.Leader
	out, errOut, code = h.zkCmd("ensemble", "kill", strconv.Itoa(old), "--dir", h.dir)
	if code != 0 || !strings.Contains(out, "killed server "+strconv.Itoa(old)) {
		t.Fatalf("zk ensemble kill %d: exit %d\nstdout: %s\nstderr: %s", old, code, out, errOut)
	}
	if alive(up.Members[old-1].PID) {
		t.Fatalf("zk ensemble kill %d returned but pid %d is alive", old, up.Members[old-1].PID)
	}
	st = h.status(all, 1)
	if st.Health != "degraded" || h.serverState(st, addrs[old]) != "down" {
		t.Fatalf("zk status right after killing the leader: %+v, want degraded with %s down", st, addrs[old])
	}
	var rep ensembleReport
	h.waitFor("a new leader among the other two", func() error {
		rep = h.ensembleStatus(1)
		if rep.Leader == 0 || rep.Leader == old {
			return fmt.Errorf("leader %d: %+v", rep.Leader, rep.Members)
		}
		for _, m := range rep.Members {
			if m.ID != old && m.Role != "leader" && m.Role != "follower" {
				return fmt.Errorf("server %d is %s", m.ID, m.Role)
			}
		}
		return nil
	})
	newLeader := rep.Leader
	if r := rep.Members[old-1].Role; r != "stopped" {
		t.Fatalf("zk ensemble status: killed server %d is %q, want stopped", old, r)
	}
	st = h.status(all, 1)
	if st.Health != "degraded" || st.Leader != addrs[newLeader] || h.serverState(st, addrs[old]) != "down" {
		t.Fatalf("zk status after the election: %+v, want degraded, leader %s, %s down", st, addrs[newLeader], addrs[old])
	}

	// 4. Writes resume through the other two.
	for id := 1; id <= 3; id++ {
		if id == old {
			continue
		}
		p := fmt.Sprintf("/e2e/after-%d", id)
		h.mustCreate(addrs[id], p, "after the crash, through server "+strconv.Itoa(id))
		want[p] = "after the crash, through server " + strconv.Itoa(id)
		if _, err := h.set(addrs[id], fmt.Sprintf("/e2e/before-%d", old), "updated through server "+strconv.Itoa(id)); err != nil {
			t.Fatalf("set through server %d after the crash: %v", id, err)
		}
		want[fmt.Sprintf("/e2e/before-%d", old)] = "updated through server " + strconv.Itoa(id)
	}
	for id := 1; id <= 3; id++ {
		if id != old {
			h.checkTree(addrs[id], want)
		}
	}

	// 5. The killed member comes back and catches up.
	out, errOut, code = h.zkCmd("ensemble", "start", strconv.Itoa(old), "--dir", h.dir)
	if code != 0 || !strings.Contains(out, "started server "+strconv.Itoa(old)) {
		t.Fatalf("zk ensemble start %d: exit %d\nstdout: %s\nstderr: %s", old, code, out, errOut)
	}
	h.checkTree(addrs[old], want)
	h.waitFor("every member on the same zxid", func() error {
		rep = h.ensembleStatus(-1)
		if !rep.Healthy {
			return fmt.Errorf("not healthy: %+v", rep.Members)
		}
		for _, m := range rep.Members {
			if m.Zxid != rep.Members[0].Zxid {
				return fmt.Errorf("zxids differ: %+v", rep.Members)
			}
		}
		return nil
	})
	if rep.Leader != newLeader {
		t.Fatalf("the returning server %d changed the leader: %d, want %d", old, rep.Leader, newLeader)
	}
	st = h.status(all, 0)
	if st.Health != "ok" || st.Leader != addrs[newLeader] {
		t.Fatalf("zk status after the restart: %+v, want ok with leader %s", st, addrs[newLeader])
	}
	for _, s := range st.Servers {
		if s.State != "up" || s.Zxid != rep.Members[0].Zxid {
			t.Fatalf("zk status after the restart: %+v, want every server up at %s", st.Servers, rep.Members[0].Zxid)
		}
	}

	// 6. Down: every process gone, zk status says nobody answers (exit 2).
	out, errOut, code = h.zkCmd("ensemble", "down", "--dir", h.dir)
	if code != 0 {
		t.Fatalf("zk ensemble down: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, m := range rep.Members {
		if alive(m.PID) {
			t.Fatalf("zk ensemble down returned but server %d (pid %d) is alive", m.ID, m.PID)
		}
	}
	st = h.status(all, 2)
	if st.Health != "down" {
		t.Fatalf("zk status after down: %+v, want down", st)
	}
	h.down = true
}

type harness struct {
	t    *testing.T
	ctx  context.Context
	zk   string
	dir  string
	down bool // zk ensemble down succeeded
}

// zkCmd runs the zk binary and returns its stdout, stderr and exit code.
func (h *harness) zkCmd(args ...string) (string, string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.zk, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	h.t.Fatalf("zk %s: %v (context: %v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, ctx.Err(), stdout.String(), stderr.String())
	return "", "", -1
}

// status runs `zk status -server list -o json` and checks its exit code.
func (h *harness) status(list string, wantCode int) statusReport {
	h.t.Helper()
	out, errOut, code := h.zkCmd("status", "-server", list, "-o", "json")
	if code != wantCode {
		h.t.Fatalf("zk status -server %s: exit %d, want %d\nstdout: %s\nstderr: %s", list, code, wantCode, out, errOut)
	}
	var r statusReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		h.t.Fatalf("zk status -o json: %v\n%s", err, out)
	}
	if len(r.Servers) != len(strings.Split(list, ",")) {
		h.t.Fatalf("zk status: %d servers, want one per address of %s", len(r.Servers), list)
	}
	return r
}

func (h *harness) serverState(r statusReport, addr string) string {
	for _, s := range r.Servers {
		if s.Server == addr {
			return s.State
		}
	}
	return ""
}

// ensembleStatus runs `zk ensemble status -o json`; wantCode -1 accepts 0
// and 1 (healthy or not), anything else must match.
func (h *harness) ensembleStatus(wantCode int) ensembleReport {
	h.t.Helper()
	// Options before the subcommand (--dir) and after it (-o) alike.
	out, errOut, code := h.zkCmd("ensemble", "--dir", h.dir, "status", "-o", "json")
	if (wantCode >= 0 && code != wantCode) || code > 1 {
		h.t.Fatalf("zk ensemble status: exit %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, out, errOut)
	}
	var r ensembleReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		h.t.Fatalf("zk ensemble status -o json: %v\n%s", err, out)
	}
	if r.Healthy != (code == 0) {
		h.t.Fatalf("zk ensemble status: healthy %v with exit %d", r.Healthy, code)
	}
	return r
}

// waitFor polls cond until it returns nil or stepTimeout passes.
func (h *harness) waitFor(what string, cond func() error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("waiting for %s: %v", what, err)
		case <-tick.C:
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// withConn runs fn with a session connected to addr only (so the request
// goes through that member), bounded by stepTimeout; a connection that
// is lost while the ensemble elects is retried with a new session.
func (h *harness) withConn(addr string, fn func(c *zk.Conn) error) error {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		c, _, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
		if err != nil {
			return fmt.Errorf("connect %s: %w", addr, err)
		}
		done := make(chan error, 1)
		go func() { done <- fn(c) }()
		select {
		case last = <-done:
		case <-ctx.Done():
			last = fmt.Errorf("%s: %w", addr, ctx.Err())
		}
		c.Close()
		if last == nil || !retryable(last) {
			return last
		}
		// Retry after a short pause, bounded by the deadline.
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return fmt.Errorf("through %s: %w (last error: %v)", addr, ctx.Err(), last)
}

func retryable(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrSessionExpired) ||
		errors.Is(err, zk.ErrSessionMoved) || errors.Is(err, zk.ErrClosing) || errors.Is(err, zk.ErrNoServer)
}

// mustCreate creates path through addr; NODEEXISTS after a retry counts
// as done when the data is ours (the first attempt's reply was lost).
func (h *harness) mustCreate(addr, path, data string) {
	h.t.Helper()
	err := h.withConn(addr, func(c *zk.Conn) error {
		_, err := c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			got, _, gerr := c.Get(path)
			if gerr == nil && string(got) == data {
				return nil
			}
		}
		return err
	})
	if err != nil {
		h.t.Fatalf("create %s through %s: %v", path, addr, err)
	}
}

func (h *harness) set(addr, path, data string) (*zk.Stat, error) {
	var st *zk.Stat
	err := h.withConn(addr, func(c *zk.Conn) error {
		var err error
		st, err = c.Set(path, []byte(data), -1)
		return err
	})
	return st, err
}

// checkTree syncs the member at addr with the leader and checks that
// /e2e holds exactly want there.
func (h *harness) checkTree(addr string, want map[string]string) {
	h.t.Helper()
	got := map[string]string{}
	err := h.withConn(addr, func(c *zk.Conn) error {
		clear(got)
		if _, err := c.Sync("/e2e"); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		kids, _, err := c.Children("/e2e")
		if err != nil {
			return fmt.Errorf("children: %w", err)
		}
		for _, k := range kids {
			d, _, err := c.Get("/e2e/" + k)
			if err != nil {
				return fmt.Errorf("get %s: %w", k, err)
			}
			got["/e2e/"+k] = string(d)
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("read /e2e through %s: %v", addr, err)
	}
	if !maps.Equal(got, want) {
		h.t.Fatalf("/e2e through %s after sync:\n got %v\nwant %v", addr, got, want)
	}
}

// cleanup stops the ensemble when the test did not get to `zk ensemble
// down`, and shows the servers' logs when the test failed.
func (h *harness) cleanup() {
	if h.t.Failed() {
		for id := 1; id <= 3; id++ {
			b, err := os.ReadFile(filepath.Join(h.dir, "server"+strconv.Itoa(id), "zkserver.log"))
			if err != nil {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			h.t.Logf("server %d log (last %d lines):\n%s", id, min(len(lines), 60), strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	}
	if h.down {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.zk, "ensemble", "down", "--dir", h.dir, "--grace", "5s").CombinedOutput()
	if err != nil {
		h.t.Errorf("cleanup: zk ensemble down: %v\n%s", err, out)
	}
}

// buildBinaries builds zk and zkserver into one temporary directory, so
// zk finds zkserver next to itself.
func buildBinaries(t *testing.T, ctx context.Context) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build zk and zkserver: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dir+string(filepath.Separator),
		"github.com/zkgo/zkgo/cmd/zk", "github.com/zkgo/zkgo/cmd/zkserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build zk zkserver: %v\n%s", err, out)
	}
	return dir
}

// freeBasePort finds n consecutive free ports on 127.0.0.1 below the
// kernel's ephemeral range (32768 and up on Linux), so that no outgoing
// connection of the servers themselves can take one of the ensemble's
// ports between the check and the bind.
func freeBasePort(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		// zk ensemble up puts the AdminServer ports 5899 above the client
		// ports: base+5899 stays below the ephemeral range (32768-60999),
		// where any outgoing connection may take a port meanwhile (a
		// parallel test's did, once: "admin server: cannot listen").
		base := 20000 + rand.IntN(6500)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", n)
	return 0
}

// alive reports whether pid is a live process (a zombie counts as dead).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}
