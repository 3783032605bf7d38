//go:build linux

package diskfull

import (
	"bytes"
	"errors"
	"fmt"
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

	"github.com/zkgo/zkgo/server/servertest"
)

const tmpfsSize = "8m"

// mountTmpfs mounts a tmpfs of tmpfsSize on a new directory and unmounts it
// when the test ends; it skips the test when that is not possible.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	const covered = "the full-disk behaviour is covered by the fault-injection tests " +
		"(server: TestLogWriteFailureRefusesWrites; server/storage: TestInjectedWriteFault, TestFullDisk)"
	if os.Geteuid() != 0 {
		t.Skipf("not root: cannot mount a tmpfs to fill; %s", covered)
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+tmpfsSize, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs failed (%v: %s); %s", err, bytes.TrimSpace(out), covered)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// A process still holding a file: detach it anyway.
			if out2, err2 := exec.Command("umount", "-l", dir).CombinedOutput(); err2 != nil {
				t.Errorf("umount %s: %v: %s / %s", dir, err, out, out2)
			}
		}
	})
	return dir
}

func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zkserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/zkgo/zkgo/cmd/zkserver").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/zkserver: %v\n%s", err, out)
	}
	return bin
}

type server struct {
	addr    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

func start(t *testing.T, bin, work, dataDir string, n int) *server {
	t.Helper()
	s, err := tryStart(t, bin, work, dataDir, n, 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.log())
	}
	return s
}

// tryStart starts zkserver on port (0: a free one) and waits until it
// serves; the error says why it did not.
func tryStart(t *testing.T, bin, work, dataDir string, n, port int) (*server, error) {
	t.Helper()
	if port == 0 {
		port = servertest.FreePorts(t, 1)[0]
	}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=*\nsnapCount=100\n", dataDir, port)
	cfgPath := filepath.Join(work, fmt.Sprintf("zoo-%d.cfg", n))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), logPath: filepath.Join(work, fmt.Sprintf("server-%d.log", n)),
		exited: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "start-foreground", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := fourLetter(s.addr, "srvr"); err == nil && strings.Contains(resp, "Mode:") {
			return s, nil
		}
		select {
		case <-s.exited:
			return s, fmt.Errorf("zkserver exited during start-up: %v", s.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return s, errors.New("zkserver not serving within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) log() string {
	b, _ := os.ReadFile(s.logPath)
	return "server log:\n" + string(b)
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

func fourLetter(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(c)
	return b.String(), err
}

// connect opens a session on the zkserver process at addr.
func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	return connectAny(t, []string{addr}, 10*time.Second)
}

// notReadOnly reports a NOTREADONLY (-119) reply; go-zookeeper has no name
// for the code.
func notReadOnly(err error) bool { return err != nil && strings.Contains(err.Error(), "-119") }

// fill writes a ballast file until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("create ballast: %v", err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xba}, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatalf("write ballast: %v", err)
		}
	}
}

// TestFullDiskRefusesWritesAndRecovers: zkserver on an 8 MB tmpfs; a
// ballast file fills it. Writes then get NOTREADONLY (-119), reads still
// answer with every acknowledged value, srvr says read-only and mntr
// zk_zkgo_writes_refused 1; the log says so in one line. With the ballast
// gone, writes succeed again by themselves (one line says so), and after a
// SIGKILL and a restart every acknowledged write is there.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	track(t)
	mnt := mountTmpfs(t)
	bin := buildServer(t)
	work := t.TempDir()
	dataDir := filepath.Join(mnt, "data")
	srv := start(t, bin, work, dataDir, 1)
	c := connect(t, srv.addr)

	acked := map[string]string{} // path -> last acknowledged data
	value := func(i int) []byte { return []byte(fmt.Sprintf("%04d-%s", i, strings.Repeat("x", 200))) }
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/full", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	i := 0
	write := func() error {
		i++
		p := fmt.Sprintf("/full/n%d", i%50)
		var err error
		if _, ok := acked[p]; ok {
			_, err = c.Set(p, value(i), -1)
		} else {
			_, err = c.Create(p, value(i), 0, acl)
		}
		if err == nil {
			acked[p] = string(value(i))
		}
		return err
	}
	for range 200 {
		if err := write(); err != nil {
			t.Fatalf("write before the disk is full: %v\n%s", err, srv.log())
		}
	}

	ballast := filepath.Join(mnt, "ballast")
	fill(t, ballast)
	refusedAt := 0
	for n := 0; n < 20000; n++ {
		err := write()
		if notReadOnly(err) {
			refusedAt = n
			break
		}
		if err != nil {
			t.Fatalf("write on a full disk: %v, want NOTREADONLY (-119)\n%s", err, srv.log())
		}
	}
	if refusedAt == 0 && len(acked) == 0 {
		t.Fatalf("writes never refused on a full disk\n%s", srv.log())
	}
	t.Logf("disk full: write refused after %d more writes were acknowledged", refusedAt)
	for range 5 {
		if err := write(); !notReadOnly(err) {
			t.Fatalf("write while full: %v, want NOTREADONLY (-119)", err)
		}
	}
	if resp, _ := fourLetter(srv.addr, "srvr"); !strings.Contains(resp, "Mode: read-only") {
		t.Errorf("srvr while the disk is full:\n%s", resp)
	}
	if resp, _ := fourLetter(srv.addr, "mntr"); !strings.Contains(resp, "zk_zkgo_writes_refused\t1") {
		t.Errorf("mntr while the disk is full lacks zk_zkgo_writes_refused 1:\n%s", resp)
	}
	for p, want := range acked {
		got, _, err := c.Get(p)
		if err != nil {
			t.Fatalf("read %s while the disk is full: %v", p, err)
		}
		if string(got) != want {
			t.Fatalf("read %s = %.10q, acknowledged %.10q", p, got, want)
		}
	}

	// Idle for three probe intervals (500 ms): the probes without a write
	// must find the disk still full.
	time.Sleep(1500 * time.Millisecond)
	if resp, _ := fourLetter(srv.addr, "srvr"); !strings.Contains(resp, "Mode: read-only") {
		t.Fatalf("srvr after idling on a full disk:\n%s\n%s", resp, srv.log())
	}
	if err := write(); !notReadOnly(err) {
		t.Fatalf("write after idling on a full disk: %v, want NOTREADONLY (-119)", err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	// Without a write, the server finds out by itself that the log has
	// room again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, _ := fourLetter(srv.addr, "srvr")
		if strings.Contains(resp, "Mode: standalone") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not standalone 30s after space returned:\n%s\n%s", resp, srv.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		err := write()
		if err == nil {
			break
		}
		if !notReadOnly(err) {
			t.Fatalf("write after space returned: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes still refused 30s after space returned\n%s", srv.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 100 {
		if err := write(); err != nil {
			t.Fatalf("write after space returned: %v\n%s", err, srv.log())
		}
	}
	if resp, _ := fourLetter(srv.addr, "srvr"); !strings.Contains(resp, "Mode: standalone") {
		t.Errorf("srvr after space returned:\n%s", resp)
	}
	log := srv.log()
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "writable again") {
			t.Logf("server: %.300s", l)
		}
	}
	for _, want := range []string{"refusing writes", "writable again"} {
		if n := strings.Count(log, want); n != 1 {
			t.Errorf("server log has %d lines with %q, want 1\n%s", n, want, log)
		}
	}

	srv.kill(t)
	srv = start(t, bin, work, dataDir, 2)
	c = connect(t, srv.addr)
	for p, want := range acked {
		got, _, err := c.Get(p)
		if err != nil {
			t.Fatalf("after restart, %s: %v\n%s", p, err, srv.log())
		}
		if string(got) != want {
			t.Fatalf("LOST: after restart %s = %.10q, acknowledged %.10q", p, got, want)
		}
	}
	t.Logf("%d nodes, all acknowledged values there after SIGKILL and restart", len(acked))

	// SIGKILL while the disk is full, and a start on the full disk (on the
	// same port): the WAL's entries cannot move into log.bolt, yet it
	// serves; the client's session comes back and reads every
	// acknowledged value, its writes are refused.
	fill(t, ballast)
	for n := 0; ; n++ {
		err := write()
		if notReadOnly(err) {
			break
		}
		if err != nil || n == 20000 {
			t.Fatalf("write on a full disk: %v (%d writes)\n%s", err, n, srv.log())
		}
	}
	srv.kill(t)
	port, _ := strconv.Atoi(srv.addr[strings.LastIndex(srv.addr, ":")+1:])
	srv3, err := tryStart(t, bin, work, dataDir, 3, port)
	out := srv3.log()
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		t.Fatalf("stack trace starting on a full disk:\n%s", out)
	}
	if err != nil {
		t.Fatalf("start on a full disk: %v\n%s", err, out)
	}
	deadline = time.Now().Add(30 * time.Second)
	for p, want := range acked {
		for {
			got, _, err := c.Get(p) // the old session, reconnected
			if err == nil {
				if string(got) != want {
					t.Fatalf("LOST: started on a full disk, %s = %.10q, acknowledged %.10q", p, got, want)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("read %s after a start on a full disk: %v\n%s", p, err, srv3.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := write(); !notReadOnly(err) {
		t.Fatalf("write after a start on a full disk: %v, want NOTREADONLY (-119)", err)
	}
	if resp, _ := fourLetter(srv3.addr, "srvr"); !strings.Contains(resp, "Mode: read-only") {
		t.Errorf("srvr after a start on a full disk:\n%s", resp)
	}
	t.Logf("started on a full disk: the old session reads every acknowledged value, writes are refused")
	srv3.kill(t)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	srv = start(t, bin, work, dataDir, 4)
	c = connect(t, srv.addr)
	for p, want := range acked {
		got, _, err := c.Get(p)
		if err != nil || string(got) != want {
			t.Fatalf("LOST: after a kill on a full disk, %s = %.10q (%v), acknowledged %.10q\n%s", p, got, err, want, srv.log())
		}
	}
	if err := write(); err != nil {
		t.Fatalf("write once space is back: %v", err)
	}
}
