package compare

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind names the server implementation under test.
type Kind string

// The two implementations compared.
const (
	KindZkgo   Kind = "zkgo"
	KindApache Kind = "apache"
)

// Binaries locates the programs the comparison runs.
type Binaries struct {
	// ZKServer is zkgo's server binary (bin/zkserver).
	ZKServer string
	// ZK is zkgo's CLI (bin/zk), for the one-shot get.
	ZK string
	// ApacheHome holds bin/zkServer.sh and bin/zkCli.sh of the Debian
	// package (/usr/share/zookeeper).
	ApacheHome string
}

// Member is one server of an ensemble configuration.
type Member struct {
	ID                                   int
	ClientPort, QuorumPort, ElectionPort int
}

// Addr is the member's client address.
func (m Member) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.ClientPort) }

// FreePorts returns n TCP ports free on 127.0.0.1 at this moment.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WriteConfig writes dir/zoo.cfg with the settings both servers get:
// tickTime 2000, forceSync on, dataDir dir/data, client port on
// 127.0.0.1, every four-letter word, no AdminServer. With members it is
// an ensemble configuration (server.N lines, initLimit 10, syncLimit 5)
// and dir/data/myid holds myid.
func WriteConfig(dir string, clientPort int, members []Member, myid int) (string, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	lines := []string{
		"tickTime=2000",
		"dataDir=" + data,
		"clientPort=" + strconv.Itoa(clientPort),
		"clientPortAddress=127.0.0.1",
		"forceSync=yes",
		"maxClientCnxns=0",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
	}
	if len(members) > 0 {
		lines = append(lines, "initLimit=10", "syncLimit=5")
		for _, m := range members {
			lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d", m.ID, m.QuorumPort, m.ElectionPort, m.ClientPort))
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(myid)+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("config: %w", err)
		}
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Proc is a server process started by StartProc.
type Proc struct {
	Kind    Kind
	Dir     string
	Addr    string
	Started time.Time
	cmd     *exec.Cmd
	done    chan struct{}
	log     *os.File
}

// StartProc starts a server on cfg in the foreground of a child process:
// zkgo as `zkserver start-foreground cfg`, Apache through Debian's
// `zkServer.sh start-foreground cfg` (so with that script's JVM settings;
// it execs java, so the child's pid is the JVM's). Output goes to
// dir/server.log. The child gets SIGKILL if this process dies.
func StartProc(kind Kind, bins Binaries, dir, cfg, addr string) (*Proc, error) {
	var cmd *exec.Cmd
	switch kind {
	case KindZkgo:
		cmd = exec.Command(bins.ZKServer, "start-foreground", cfg)
	case KindApache:
		cmd = exec.Command(filepath.Join(bins.ApacheHome, "bin", "zkServer.sh"), "start-foreground", cfg)
	default:
		return nil, fmt.Errorf("start: unknown server kind %q", kind)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = serverProcAttr()
	p := &Proc{Kind: kind, Dir: dir, Addr: addr, cmd: cmd, done: make(chan struct{}), log: logf}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the server's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits up to 15 s, then SIGKILL.
func (p *Proc) Stop() error {
	if !p.Alive() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return p.Kill()
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() error {
	if !p.Alive() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %d: %w", p.Pid(), err)
	}
	<-p.done
	return nil
}

// LogTail returns the last n lines of the server's output.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(p.Dir, "server.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
