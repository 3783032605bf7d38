//go:build linux || darwin || freebsd || netbsd || openbsd

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/go-zookeeper/zk"
	"github.com/zkgo/zkgo/server/servertest"
	"golang.org/x/sys/unix"
)

// screen collects what the program writes to the terminal.
type screen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
	done chan struct{}
}

func newScreen(r io.Reader) *screen {
	s := &screen{more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			if n > 0 {
				s.mu.Lock()
				s.buf.Write(b[:n])
				s.mu.Unlock()
				select {
				case s.more <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// ansi matches the escape sequences go-prompt draws with (CSI, OSC, and
// the ESC D / ESC M line moves).
var ansi = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]|\x1b\\][^\x07]*\x07|\x1b[DM]")

// text is the output so far without escape sequences.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(s.buf.String(), "")
}

// waitFor waits until the output after offset from contains want and
// returns the offset just past it.
func (s *screen) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		out := s.text()
		if from > len(out) {
			from = len(out)
		}
		if i := strings.Index(out[from:], want); i >= 0 {
			return from + i + len(want)
		}
		select {
		case <-s.more:
		case <-s.done:
			if !strings.Contains(s.text()[from:], want) {
				t.Fatalf("terminal closed before %q; output:\n%q", want, s.text())
			}
		case <-deadline:
			s.mu.Lock()
			raw := s.buf.String()
			s.mu.Unlock()
			t.Fatalf("no %q on the terminal; output:\n%q\nraw:\n%q", want, s.text(), raw)
		}
	}
}

// TestInteractivePty drives the shell in a pseudo-terminal: Tab completes
// a live znode path, `ls -w` then a change from another client prints the
// WATCHER lines, Ctrl-D leaves with the terminal restored.
func TestInteractivePty(t *testing.T) {
	var srv *servertest.Server
	addr := os.Getenv("ZK_TEST_SERVER")
	if addr == "" {
		srv = servertest.Start(t)
		addr = srv.Addr()
	}
	conn := oracle(t, addr)
	deleteTree(t, conn, "/ptytest")
	t.Cleanup(func() { deleteTree(t, conn, "/ptytest") })
	for _, p := range []string{"/ptytest", "/ptytest/alpha-node", "/ptytest/alpha-node/kid"} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(zkBin(t), "-server", addr)
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm", "NO_COLOR=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-waited
		}
	}()
	scr := newScreen(ptmx)
	typeKeys := func(s string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	// go-prompt takes each read as one key, so Enter goes on its own once
	// the line is drawn.
	enter := func(pos int, line string) int {
		t.Helper()
		typeKeys(line)
		pos = scr.waitFor(t, pos, line)
		typeKeys("\r")
		return pos
	}

	pos := scr.waitFor(t, 0, "(CONNECTED) 0] ")

	// Tab completion of live paths, one level at a time.
	// go-prompt draws the line, then the menu, then (after Tab) the
	// selected candidate over the word; the next key accepts it, so the
	// line then reads with the completed path.
	typeKeys("ls /ptyt")
	pos = scr.waitFor(t, pos, "ls /ptyt")
	pos = scr.waitFor(t, pos, " /ptytest ") // the menu
	typeKeys("\t")
	pos = scr.waitFor(t, pos, "/ptytest")
	typeKeys("/al")
	pos = scr.waitFor(t, pos, "ls /ptytest/al")
	pos = scr.waitFor(t, pos, " /ptytest/alpha-node ")
	typeKeys("\t")
	pos = scr.waitFor(t, pos, "/ptytest/alpha-node")
	typeKeys("\r")
	pos = scr.waitFor(t, pos, "[kid]")
	pos = scr.waitFor(t, pos, "(CONNECTED) 1] ")

	// A child watch, then a change by another client while the prompt
	// waits for input.
	pos = enter(pos, "ls -w /ptytest")
	pos = scr.waitFor(t, pos, "[alpha-node]")
	pos = scr.waitFor(t, pos, "(CONNECTED) 2] ")
	typeKeys("get")
	pos = scr.waitFor(t, pos, "get")
	if _, err := conn.Create("/ptytest/beta", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	pos = scr.waitFor(t, pos, "WATCHER::")
	pos = scr.waitFor(t, pos, "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/ptytest")
	// The line being typed is redrawn after the event and still works.
	pos = scr.waitFor(t, pos, "(CONNECTED) 2] ")
	pos = enter(pos, " /ptytest/beta")
	pos = scr.waitFor(t, pos, "null")

	// Connection loss and reconnection are shown, and the prompt follows.
	if srv != nil {
		srv.Stop()
		pos = scr.waitFor(t, pos, "WatchedEvent state:Disconnected type:None path:null")
		pos = scr.waitFor(t, pos, "(CONNECTING) 3] ")
		srv.Restart()
		pos = scr.waitFor(t, pos, "WatchedEvent state:SyncConnected type:None path:null")
		pos = scr.waitFor(t, pos, "(CONNECTED) 3] ")
	}

	// Ctrl-C stops a running command (watch) and the shell goes on.
	pos = enter(pos, "watch /ptytest")
	waitCreate := func(p string) {
		t.Helper()
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// The watch is set once the command runs; keep changing the node until
	// an event line shows up.
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		if _, err := conn.Set("/ptytest", []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(scr.text()[pos:], "type:NodeDataChanged path:/ptytest") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch printed nothing; output:\n%q", scr.text())
		}
		select {
		case <-scr.more:
		case <-time.After(100 * time.Millisecond):
		}
	}
	waitCreate("/ptytest/gamma")
	pos = scr.waitFor(t, pos, "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/ptytest")
	typeKeys("\x03")
	pos = scr.waitFor(t, pos, "(CONNECTED) 4] ")

	// Ctrl-C clears the line, Ctrl-D on an empty line leaves.
	typeKeys("delete /ptytest")
	pos = scr.waitFor(t, pos, "delete /ptytest")
	typeKeys("\x03")
	pos = scr.waitFor(t, pos, "(CONNECTED) 4] ")
	typeKeys("\x04")
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("zk exited with %v; output:\n%q", err, scr.text())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("zk did not exit on Ctrl-D; output:\n%q", scr.text())
	}
	if ok, _, _ := conn.Exists("/ptytest"); !ok {
		t.Error("Ctrl-C did not clear the line: /ptytest was deleted")
	}

	after, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	const sane = unix.ECHO | unix.ICANON | unix.ISIG
	if after.Lflag&sane != before.Lflag&sane || after.Lflag&sane != sane {
		t.Errorf("terminal not restored: lflag %#x, before %#x", after.Lflag, before.Lflag)
	}
	if after.Iflag&unix.ICRNL != before.Iflag&unix.ICRNL {
		t.Errorf("terminal not restored: iflag %#x, before %#x", after.Iflag, before.Iflag)
	}
	hist, err := os.ReadFile(filepath.Join(home, ".zk_history"))
	if err != nil || !strings.Contains(string(hist), "ls -w /ptytest\n") {
		t.Errorf("history %q, %v", hist, err)
	}
}
