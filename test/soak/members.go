package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/fourletter"
)

// member is one zkserver process of the ensemble.
type member struct {
	id     int
	dir    string
	cfg    string
	client string // 127.0.0.1:port
	admin  string // 127.0.0.1:port of the AdminServer (pprof), "" when off
	bin    string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has been waited for
	started time.Time
	gen     int // incarnation, +1 per start
	// first is the first sample of the current incarnation taken after
	// warm-up (for the growth check).
	first *sample
}

// sample is one reading of a process's RSS and open descriptors.
type sample struct {
	at  time.Time
	gen int
	rss int64 // bytes
	fds int
}

// freePorts returns n distinct ports free on 127.0.0.1 now, below Linux's
// ephemeral range so that client connections do not take them meanwhile.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000*n {
			return nil, fmt.Errorf("no %d free ports in 20000-32767", n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+rand.IntN(12768)))
		if err != nil {
			continue
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeMembers writes zoo.cfg and myid for n members under dir; extra
// lines end every zoo.cfg.
func writeMembers(dir, bin string, n int, tick time.Duration, pprof bool, extra []string) ([]*member, error) {
	ports, err := freePorts(4 * n)
	if err != nil {
		return nil, err
	}
	var servers strings.Builder
	for i := range n {
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", i+1, ports[3*i+1], ports[3*i+2], ports[3*i])
	}
	var ms []*member
	for i := range n {
		m := &member{id: i + 1, bin: bin, client: "127.0.0.1:" + strconv.Itoa(ports[3*i])}
		admin := "admin.enableServer=false\n"
		if pprof {
			m.admin = "127.0.0.1:" + strconv.Itoa(ports[3*n+i])
			admin = fmt.Sprintf("admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\npprof.enabled=true\n", ports[3*n+i])
		}
		m.dir = filepath.Join(dir, "server"+strconv.Itoa(m.id))
		data := filepath.Join(m.dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, fmt.Errorf("member %d: %w", m.id, err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(m.id)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("member %d: %w", m.id, err)
		}
		cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"%s4lw.commands.whitelist=*\nforceSync=yes\nsnapCount=10000\n"+
			"autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n%s",
			tick.Milliseconds(), data, ports[3*i], admin, servers.String())
		for _, line := range extra {
			cfg += line + "\n"
		}
		m.cfg = filepath.Join(m.dir, "zoo.cfg")
		if err := os.WriteFile(m.cfg, []byte(cfg), 0o644); err != nil {
			return nil, fmt.Errorf("member %d: %w", m.id, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// start starts the member's process (its output appended to zkserver.log).
func (m *member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(m.dir, "zkserver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("member %d: %w", m.id, err)
	}
	cmd := exec.Command(m.bin, "start-foreground", m.cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start member %d: %w", m.id, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	m.cmd, m.done, m.started, m.first = cmd, done, time.Now(), nil
	m.gen++
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (m *member) kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// pid returns the running process's pid and incarnation, or 0.
func (m *member) pid() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0, m.gen
	}
	select {
	case <-m.done:
		return 0, m.gen
	default:
	}
	return m.cmd.Process.Pid, m.gen
}

// exited reports whether a started process ended without being killed.
func (m *member) exited() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// mode asks the member for srvr's Mode ("" when it does not serve).
func (m *member) mode(ctx context.Context) (string, int64) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := fourletter.Query(qctx, m.client, "srvr")
	if err != nil {
		return "", 0
	}
	st, err := fourletter.ParseSrvr(out)
	if err != nil {
		return "", 0
	}
	return st.Mode, st.Zxid
}

// measure reads the process's VmRSS and open descriptors from /proc.
func (m *member) measure() (sample, bool) {
	pid, gen := m.pid()
	if pid == 0 {
		return sample{}, false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return sample{}, false
	}
	s := sample{at: time.Now(), gen: gen}
	for line := range strings.SplitSeq(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				s.rss = kb << 10
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return sample{}, false
	}
	s.fds = len(fds)
	return s, true
}

// waitServing waits until every running member serves and one leads.
func waitServing(ctx context.Context, ms []*member, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		leaders, serving, running := 0, 0, 0
		var state []string
		for _, m := range ms {
			if m.exited() {
				return fmt.Errorf("member %d exited (see %s)", m.id, filepath.Join(m.dir, "zkserver.log"))
			}
			if pid, _ := m.pid(); pid == 0 {
				continue
			}
			running++
			mode, _ := m.mode(ctx)
			switch mode {
			case "leader":
				leaders++
				serving++
			case "follower", "observer":
				serving++
			}
			state = append(state, fmt.Sprintf("%d:%s", m.id, mode))
		}
		if leaders == 1 && serving == running {
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ensemble not serving after %v: %s", d, strings.Join(state, " "))
		case <-t.C:
		}
	}
}

var errStopped = errors.New("stopped")
