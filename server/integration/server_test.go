package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// testServer is the server a test talks to: zkgo's in-process server, or,
// with ZKGO_IT_APACHE=1, a real Apache ZooKeeper 3.8 started through
// Debian's zkServer.sh with the same settings. Running the suite against
// Apache checks that the expectations are Apache's, not ours.
type testServer interface {
	Addr() string
	Restart()
	Stop()
}

// apacheMode reports whether the suite runs against Apache ZooKeeper.
func apacheMode() bool { return os.Getenv("ZKGO_IT_APACHE") != "" }

// newServer starts a server configured as servertest does (tickTime 200 ms,
// so sessions of 0.4–4 s) adjusted by opts.
func newServer(t testing.TB, opts ...servertest.Option) testServer {
	t.Helper()
	if !apacheMode() {
		return servertest.Start(t, opts...)
	}
	return startApache(t, opts...)
}

// zkgoOnly skips a test that needs zkgo internals when running against Apache.
func zkgoOnly(t testing.TB) {
	t.Helper()
	if apacheMode() {
		t.Skip("zkgo-specific")
	}
}

type apacheServer struct {
	t     testing.TB
	dir   string
	addr  string
	flags string
	cmd   *exec.Cmd
	done  chan struct{}
}

func startApache(t testing.TB, opts ...servertest.Option) *apacheServer {
	t.Helper()
	sh := "/usr/share/zookeeper/bin/zkServer.sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("Apache ZooKeeper not installed (scripts/install-apache-zk.sh)")
	}
	cfg := config.Default()
	cfg.TickTime = 200 * time.Millisecond
	cfg.MinSessionTimeout = 2 * cfg.TickTime
	cfg.MaxSessionTimeout = 20 * cfg.TickTime
	cfg.ContainerCheckInterval = time.Minute
	for _, o := range opts {
		o(cfg)
	}
	dir := t.TempDir()
	lines := []string{
		fmt.Sprintf("tickTime=%d", cfg.TickTime.Milliseconds()),
		"dataDir=" + filepath.Join(dir, "data"),
		"clientPortAddress=127.0.0.1",
		fmt.Sprintf("maxClientCnxns=%d", cfg.MaxClientCnxns),
		fmt.Sprintf("minSessionTimeout=%d", cfg.MinSessionTimeout.Milliseconds()),
		fmt.Sprintf("maxSessionTimeout=%d", cfg.MaxSessionTimeout.Milliseconds()),
		"forceSync=no",
		fmt.Sprintf("snapCount=%d", cfg.SnapCount),
		"admin.enableServer=false",
		"4lw.commands.whitelist=*",
		fmt.Sprintf("extendedTypesEnabled=%v", cfg.ExtendedTypesEnabled),
	}
	if cfg.EnsembleAuth {
		lines = append(lines, "authProvider.ensemble=org.apache.zookeeper.server.auth.EnsembleAuthenticationProvider")
	}
	if cfg.EnsembleAuthNames != nil {
		lines = append(lines, "ensembleAuthName="+strings.Join(cfg.EnsembleAuthNames, ","))
	}
	if cfg.DataLogDir != cfg.DataDir {
		lines = append(lines, "dataLogDir="+filepath.Join(dir, "datalog"))
	}
	if cfg.SuperDigest != "" {
		lines = append(lines, "DigestAuthenticationProvider.superDigest="+cfg.SuperDigest)
	}
	if cfg.GlobalOutstandingLimit != config.Default().GlobalOutstandingLimit {
		// An unknown zoo.cfg key becomes a "zookeeper." system property.
		lines = append(lines, fmt.Sprintf("globalOutstandingLimit=%d", cfg.GlobalOutstandingLimit))
	}
	if cfg.MaxCnxns > 0 {
		lines = append(lines, fmt.Sprintf("maxCnxns=%d", cfg.MaxCnxns))
	}
	if cfg.SkipACL {
		lines = append(lines, "skipACL=yes")
	}
	// The SASL keys: every one but the JAAS file's is a "zookeeper."
	// system property, which zoo.cfg sets.
	if cfg.SASL.Provider {
		lines = append(lines, "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
	}
	for _, u := range cfg.SASL.SuperUsers {
		lines = append(lines, "superUser="+u)
	}
	if cfg.SASL.AllowFailedClients {
		lines = append(lines, "allowSaslFailedClients=true")
	}
	if cfg.SessionRequireClientSASLAuth {
		lines = append(lines, "sessionRequireClientSASLAuth=true")
	} else if cfg.EnforceAuth {
		lines = append(lines, "enforce.auth.enabled=true", "enforce.auth.schemes="+strings.Join(cfg.EnforceAuthSchemes, ","))
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	maxBuf := cfg.JuteMaxBuffer
	if maxBuf <= 0 {
		maxBuf = 0xfffff
	}
	a := &apacheServer{t: t, dir: dir}
	a.flags = fmt.Sprintf("-Dznode.container.checkIntervalMs=%d -Djute.maxbuffer=%d -Dzookeeper.extendedTypesEnabled=%v -Dzookeeper.enforceQuota=%v",
		cfg.ContainerCheckInterval.Milliseconds(), maxBuf, cfg.ExtendedTypesEnabled, cfg.EnforceQuota)
	if cfg.SASL.JAASFile != "" {
		a.flags += " -Djava.security.auth.login.config=" + cfg.SASL.JAASFile
	}
	if cfg.DigestAlg.Name != "" {
		a.flags += " -Dzookeeper.DigestAuthenticationProvider.digestAlg=" + cfg.DigestAlg.Name
	}
	if cfg.DigestAuthDisabled {
		a.flags += " -Dzookeeper.DigestAuthenticationProvider.enabled=false"
	}
	t.Cleanup(a.Stop)
	// The port is free when chosen (below the ephemeral range, where no
	// client connection takes it), but another test process may bind it
	// before the JVM does; Apache then exits without a word (its logger
	// is Debian's no-op one). Try again on another port.
	for attempt := 1; ; attempt++ {
		port := servertest.FreePorts(t, 1)[0]
		a.addr = fmt.Sprintf("127.0.0.1:%d", port)
		cfgText := strings.Join(append(lines, fmt.Sprintf("clientPort=%d", port)), "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfgText), 0o644); err != nil {
			t.Fatal(err)
		}
		err := a.run()
		if err == nil {
			return a
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v", attempt, err)
		a.Stop()
	}
}

func (a *apacheServer) start() {
	a.t.Helper()
	if err := a.run(); err != nil {
		a.t.Fatal(err)
	}
}

// run starts the JVM and waits until it serves.
func (a *apacheServer) run() error {
	cmd := exec.Command("/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", filepath.Join(a.dir, "zoo.cfg"))
	cmd.Env = append(os.Environ(), "SERVER_JVMFLAGS="+a.flags)
	log, err := os.Create(filepath.Join(a.dir, "server.log"))
	if err != nil {
		a.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.cmd = cmd
	a.done = make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(a.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if serving(a.addr) {
			return nil
		}
		select {
		case <-a.done:
			a.cmd = nil
			out, _ := os.ReadFile(filepath.Join(a.dir, "server.log"))
			return fmt.Errorf("apache exited before serving on %s:\n%s", a.addr, out)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("apache not serving on %s", a.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serving reports whether srvr answers with a Mode line: ruok answers
// imok before the server accepts sessions.
func serving(addr string) bool {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte("srvr")); err != nil {
		return false
	}
	sc := bufio.NewScanner(nc)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Mode: ") {
			return true
		}
	}
	return false
}

func (a *apacheServer) Addr() string { return a.addr }

func (a *apacheServer) Stop() {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
	a.cmd = nil
}

func (a *apacheServer) Restart() {
	a.t.Helper()
	a.Stop()
	a.start()
}
