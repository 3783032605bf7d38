package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// Cluster is an ensemble of in-process zkserver members (server.Server,
// the whole server: tree, sessions, pipeline, zab, storage) whose quorum
// and election traffic goes through Net. Members keep their data
// directory across Crash/Start.
type Cluster struct {
	t       testing.TB
	Net     *Net
	N       int
	tick    time.Duration
	log     *slog.Logger
	members []*Member // index id-1
	// Bin, when set, runs members as zkserver processes (crash = SIGKILL)
	// instead of in-process servers.
	Bin string
}

// Member is one server of the Cluster.
type Member struct {
	ID      int
	Client  string // 127.0.0.1:port, no faults
	DataDir string
	LogDir  string // the store's log directory (<dataDir>/version-2)
	cfg     *config.Config

	mu   sync.Mutex
	held []int // sockets bound (not listening) to its ports while it is down
	srv  *server.Server
	proc *exec.Cmd // process mode
	done chan error
}

// NewCluster prepares n members (not started) with tickTime tick.
func NewCluster(t testing.TB, n int, tick time.Duration, seed uint64, log *slog.Logger) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Net: NewNet(seed), N: n, tick: tick, log: log}
	t.Cleanup(func() {
		c.StopAll()
		c.Net.Close()
		for _, m := range c.members {
			m.mu.Lock()
			m.release()
			m.mu.Unlock()
		}
	})
	ports := servertest.FreePorts(t, 3*n) // client, quorum, election of each
	base := t.TempDir()
	for i := range n {
		id := i + 1
		var servers []config.Server
		for j := range n {
			s := config.Server{
				ID: int64(j + 1), Host: "127.0.0.1",
				QuorumPort: ports[3*j+1], ElectionPort: ports[3*j+2],
				ClientAddress: "127.0.0.1", ClientPort: ports[3*j],
			}
			if j != i {
				// Member id reaches member j+1 through its own proxies.
				var err error
				if s.QuorumPort, err = c.Net.Link(id, j+1, "127.0.0.1:"+strconv.Itoa(ports[3*j+1])); err != nil {
					t.Fatal(err)
				}
				if s.ElectionPort, err = c.Net.Link(id, j+1, "127.0.0.1:"+strconv.Itoa(ports[3*j+2])); err != nil {
					t.Fatal(err)
				}
			}
			servers = append(servers, s)
		}
		cfg := config.Default()
		cfg.DataDir = filepath.Join(base, "server"+strconv.Itoa(id))
		cfg.DataLogDir = cfg.DataDir
		cfg.TickTime = tick
		cfg.InitLimit, cfg.SyncLimit = 10, 5
		cfg.MinSessionTimeout, cfg.MaxSessionTimeout = 2*tick, 60*tick
		cfg.ForceSync = false
		cfg.AdminEnableServer = false
		cfg.MetricsEnabled = false
		cfg.SnapCount = 500 // snapshots and purges happen during a run
		// Every second, keep the newest 3 snapshots and the logs they
		// need: a 5-member run of 8 minutes left 1,500 snapshots (46 GB)
		// without it and filled the disk.
		cfg.AutopurgePurgeIntervalMs = time.Second
		cfg.AutopurgeSnapRetainCount = 3
		cfg.MyID = int64(id)
		cfg.Servers = servers
		cfg.ClientPort = ports[3*i]
		cfg.ClientPortAddress = "127.0.0.1"
		c.members = append(c.members, &Member{
			ID: id, Client: "127.0.0.1:" + strconv.Itoa(ports[3*i]), DataDir: cfg.DataDir,
			LogDir: filepath.Join(cfg.DataDir, "version-2"), cfg: cfg,
		})
	}
	return c
}

// IDs lists the member ids.
func (c *Cluster) IDs() []int {
	var ids []int
	for _, m := range c.members {
		ids = append(ids, m.ID)
	}
	return ids
}

// Member returns member id.
func (c *Cluster) Member(id int) *Member { return c.members[id-1] }

// Addrs lists every member's client address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.Client)
	}
	return out
}

// Start starts member id (on its data directory) if it is not running.
func (c *Cluster) Start(id int) error {
	m := c.Member(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil || m.proc != nil {
		return nil
	}
	m.release()
	if c.Bin != "" {
		return c.startProcess(m)
	}
	var ln net.Listener
	var err error
	for try := 0; ; try++ {
		ln, err = net.Listen("tcp", m.Client)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond) // the last incarnation's socket is closing
	}
	if err != nil {
		return fmt.Errorf("member %d: listen: %w", id, err)
	}
	srv, err := server.New(m.cfg, c.log.With("member", id))
	if err != nil {
		ln.Close()
		return fmt.Errorf("member %d: %w", id, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	m.srv, m.done = srv, done
	return nil
}

// Crash stops member id at once (connections closed, goroutines stopped,
// disk kept) and reports the error Serve ended with if it was not the
// expected ErrServerClosed.
func (c *Cluster) Crash(id int) error {
	m := c.Member(id)
	m.mu.Lock()
	srv, proc, done := m.srv, m.proc, m.done
	m.srv, m.proc = nil, nil
	m.mu.Unlock()
	if proc != nil {
		_ = proc.Process.Signal(syscall.SIGKILL)
		<-done
		m.hold()
		return nil
	}
	if srv == nil {
		return nil
	}
	srv.Close()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, server.ErrServerClosed) {
			return fmt.Errorf("member %d: Serve: %w", id, err)
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("member %d did not stop within 30s", id)
	}
	m.hold()
	return nil
}

// hold keeps the ports of a member that is down from other tests: a
// member restarts on the same ports, and a test package running beside
// this one took a crashed member's client port once (FreePorts found it
// free). A socket bound without SO_REUSEADDR and not listening reserves
// the port (Go's listeners set SO_REUSEADDR, and binding beside such a
// socket fails) while connections to it are still refused, as to a
// crashed server. Best effort: a port that cannot be held is left free.
func (m *Member) hold() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.held) > 0 {
		return
	}
	ports := []int{m.cfg.ClientPort}
	for _, s := range m.cfg.Servers {
		if s.ID == m.cfg.MyID {
			ports = append(ports, s.QuorumPort, s.ElectionPort)
		}
	}
	for _, port := range ports {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			continue
		}
		syscall.CloseOnExec(fd)
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			syscall.Close(fd)
			continue
		}
		m.held = append(m.held, fd)
	}
}

// release gives the held ports back, just before the member binds them;
// m.mu is held.
func (m *Member) release() {
	for _, fd := range m.held {
		syscall.Close(fd)
	}
	m.held = nil
}

// Running reports whether member id runs.
func (c *Cluster) Running(id int) bool {
	m := c.Member(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.srv != nil || m.proc != nil
}

// Failed returns the error of a member whose Serve ended by itself.
func (c *Cluster) Failed() error {
	for _, m := range c.members {
		m.mu.Lock()
		done := m.done
		running := m.srv != nil || m.proc != nil
		m.mu.Unlock()
		if !running {
			continue
		}
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("member %d stopped by itself: %v", m.ID, err)
		default:
		}
	}
	return nil
}

// StopAll crashes every running member.
func (c *Cluster) StopAll() {
	for _, m := range c.members {
		if err := c.Crash(m.ID); err != nil {
			c.t.Errorf("%v", err)
		}
	}
}

// Srvr asks member id for srvr (ok false when it does not serve).
func (c *Cluster) Srvr(id int) (fourletter.Srvr, bool) {
	if !c.Running(id) {
		return fourletter.Srvr{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := fourletter.Query(ctx, c.Member(id).Client, "srvr")
	if err != nil {
		return fourletter.Srvr{}, false
	}
	st, err := fourletter.ParseSrvr(out)
	if err != nil {
		return fourletter.Srvr{}, false
	}
	return st, true
}

// DigestMismatches is member id's mntr zk_digest_mismatches_count.
func (c *Cluster) DigestMismatches(id int) (int64, bool) {
	if !c.Running(id) {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := fourletter.Query(ctx, c.Member(id).Client, "mntr")
	if err != nil {
		return 0, false
	}
	m, err := fourletter.ParseMntr(out)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m["zk_digest_mismatches_count"], 10, 64)
	return n, err == nil
}

// Leader returns the member that says it leads, or 0.
func (c *Cluster) Leader() int {
	for _, id := range c.IDs() {
		if st, ok := c.Srvr(id); ok && st.Mode == "leader" {
			return id
		}
	}
	return 0
}

// WaitServing waits until every member runs and serves under one leader.
func (c *Cluster) WaitServing(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		leaders, serving := 0, 0
		var state string
		for _, id := range c.IDs() {
			st, ok := c.Srvr(id)
			switch {
			case !ok:
			case st.Mode == "leader":
				leaders++
				serving++
			case st.Mode == "follower" || st.Mode == "observer":
				serving++
			}
			state += fmt.Sprintf("%d:%s ", id, st.Mode)
		}
		if leaders == 1 && serving == c.N {
			return nil
		}
		if err := c.Failed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ensemble not serving after %s: %s", d, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startProcess writes the member's zoo.cfg and myid (its server lines name
// its own proxies) and starts zkserver on them, output in zkserver.log.
func (c *Cluster) startProcess(m *Member) error {
	cfg := m.cfg
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=%d\nsyncLimit=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n",
		cfg.TickTime.Milliseconds(), cfg.InitLimit, cfg.SyncLimit, cfg.DataDir, cfg.ClientPort)
	fmt.Fprintf(&b, "minSessionTimeout=%d\nmaxSessionTimeout=%d\nforceSync=no\nsnapCount=%d\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
		cfg.MinSessionTimeout.Milliseconds(), cfg.MaxSessionTimeout.Milliseconds(), cfg.SnapCount)
	fmt.Fprintf(&b, "autopurge.purgeIntervalMs=%d\nautopurge.snapRetainCount=%d\n",
		cfg.AutopurgePurgeIntervalMs.Milliseconds(), cfg.AutopurgeSnapRetainCount)
	for _, s := range cfg.Servers {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", s.ID, s.QuorumPort, s.ElectionPort, s.ClientPort)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("member %d: %w", m.ID, err)
	}
	path := filepath.Join(cfg.DataDir, "zoo.cfg")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("member %d: %w", m.ID, err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "myid"), []byte(strconv.Itoa(m.ID)+"\n"), 0o644); err != nil {
		return fmt.Errorf("member %d: %w", m.ID, err)
	}
	logf, err := os.OpenFile(filepath.Join(cfg.DataDir, "zkserver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("member %d: %w", m.ID, err)
	}
	cmd := exec.Command(c.Bin, "start-foreground", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("member %d: start zkserver: %w", m.ID, err)
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		logf.Close()
		if err == nil {
			err = errors.New("exited")
		}
		done <- err
	}()
	m.proc, m.done = cmd, done
	return nil
}
