package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/zkgo/zkgo/server/servertest"
)

// freeAddr returns "127.0.0.1:port" of a port nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	// Below the ephemeral range: a port the kernel handed out for :0 was
	// soon taken by another package's test server listening on :0 (a CI
	// run's shell connected to a bench test's server instead of being
	// refused).
	return "127.0.0.1:" + strconv.Itoa(servertest.FreePorts(t, 1)[0])
}

// TestOneShotServerDown: a one-shot command against servers that refuse
// the connection fails at once with one line and exit status 1, not after
// the session timeout (an hour here: a regression would show as the
// "no session within 5s" message instead).
func TestOneShotServerDown(t *testing.T) {
	a, b := freeAddr(t), freeAddr(t)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"one server", []string{"-server", a, "-timeout", "3600000", "get", "/"}, "zk: cannot connect to " + a + ": connection refused\n"},
		{"json", []string{"-server", a, "-timeout", "3600000", "ls", "/", "-o", "json"}, "zk: cannot connect to " + a + ": connection refused\n"},
		{"flags after", []string{"stat", "/x", "-server", a}, "zk: cannot connect to " + a + ": connection refused\n"},
		{"env", []string{"ls", "/"}, "zk: cannot connect to " + a + ": connection refused\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runZk(t, []string{"ZK_SERVER=" + a}, "", tc.args...)
			if r.code != 1 || r.stderr != tc.stderr || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, \"\", %q", r.code, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
	t.Run("every server of the list", func(t *testing.T) {
		r := runZk(t, nil, "", "-server", a+","+b+"/chroot", "-timeout", "3600000", "get", "/")
		// The addresses are listed sorted, whatever order they were tried in.
		first, second := a, b
		if second < first {
			first, second = second, first
		}
		want := "zk: cannot connect to " + first + "," + second + ": connection refused\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		r := runZk(t, nil, "", "-server", "no-such-host.invalid:2181", "get", "/")
		if r.code != 1 || !strings.HasPrefix(r.stderr, "zk: cannot connect to no-such-host.invalid:2181: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// proxy accepts on addr and forwards every connection to target, until
// the test ends.
func proxy(t *testing.T, addr, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s again: %v", addr, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// ptyRun is zk running in a pseudo-terminal (startPty).
type ptyRun struct {
	t      *testing.T
	ptmx   *os.File
	scr    *screen
	waited chan error
}

func startPty(t *testing.T, args ...string) *ptyRun {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zkBin(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TERM=xterm", "NO_COLOR=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ptyRun{t: t, ptmx: ptmx, scr: newScreen(ptmx), waited: make(chan error, 1)}
	go func() { p.waited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.waited
		}
	})
	return p
}

func (p *ptyRun) keys(s string) {
	p.t.Helper()
	if _, err := p.ptmx.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// enter types line, waits for it to be drawn, then presses Enter (go-prompt
// takes each read as one key).
func (p *ptyRun) enter(pos int, line string) int {
	p.t.Helper()
	p.keys(line)
	pos = p.scr.waitFor(p.t, pos, line)
	p.keys("\r")
	return pos
}

// quit presses Ctrl-D and waits for zk to exit 0.
func (p *ptyRun) quit() {
	p.t.Helper()
	p.keys("\x04")
	select {
	case err := <-p.waited:
		if err != nil {
			p.t.Fatalf("zk exited with %v; output:\n%q", err, p.scr.text())
		}
	case <-time.After(15 * time.Second):
		p.t.Fatalf("zk did not exit on Ctrl-D; output:\n%q", p.scr.text())
	}
}

// TestInteractiveServerDown: the shell started against a port nobody
// listens on stays up showing CONNECTING, a command fails with the
// one-line reason, and once a server answers on that port the session is
// made and commands work.
func TestInteractiveServerDown(t *testing.T) {
	addr := freeAddr(t)
	p := startPty(t, "-server", addr, "-timeout", "3600000")
	pos := p.scr.waitFor(t, 0, "(CONNECTING) 0] ")
	pos = p.enter(pos, "ls /")
	pos = p.scr.waitFor(t, pos, "cannot connect to "+addr+": connection refused")
	pos = p.scr.waitFor(t, pos, "(CONNECTING) 1] ")

	srv := servertest.Start(t)
	proxy(t, addr, srv.Addr())
	pos = p.scr.waitFor(t, pos, "WatchedEvent state:SyncConnected type:None path:null")
	pos = p.scr.waitFor(t, pos, "(CONNECTED) 1] ")
	pos = p.enter(pos, "ls /")
	pos = p.scr.waitFor(t, pos, "[zookeeper]")
	p.scr.waitFor(t, pos, "(CONNECTED) 2] ")
	p.quit()
}
