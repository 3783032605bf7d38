// Command zkserver is the zkgo ZooKeeper server.
//
//	zkserver start-foreground [zoo.cfg]   run in the foreground, log to stderr
//	zkserver status [zoo.cfg]             print Mode: as zkServer.sh status does
//	zkserver version                      print the version
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/memtrim"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/config"
)

const usage = `usage: zkserver <command> [zoo.cfg]

commands:
  start-foreground [zoo.cfg]  run the server in the foreground, logging to stderr
  status [zoo.cfg]            ask the server for its mode (exit 1 when it does not answer)
  version                     print the version
  convert [--to-apache] [zoo.cfg]
                              take over the dataDir of Apache ZooKeeper 3.8
                              (stopped): its newest snapshot and the txns
                              after it become zkgo's; its files are moved
                              to dataDir/apache-zookeeper-data. With
                              --to-apache the other way: zkgo's data becomes
                              one Apache snapshot, zkgo's files move to
                              dataDir/zkgo-data
  digest [-alg NAME] USER:PASSWORD...
                              print each digest id, as Apache's
                              DigestAuthenticationProvider does (for ACLs
                              and DigestAuthenticationProvider.superDigest);
                              NAME as digestAlg, SHA1 by default

Without zoo.cfg the embedded default is used: 127.0.0.1:2181, dataDir ` + "%s" + `.
`

// defaultGCPercent is the Go GC's target when GOGC is not set: the heap may
// grow to three times the live data between collections instead of two.
// A server's live data is mostly its tree, which every collection marks,
// so collections are what a write load pays for a large tree: with 32
// clients creating znodes, 200 gave ~9% less CPU per create and a ~15%
// lower p99 than the default 100, and the same RSS after a restart with
// 100k znodes (49.5 MB). Apache's JVM keeps a far larger heap.
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, usage, config.DefaultDataDir())
		return 2
	}
	cmd, rest := args[0], args[1:]
	if cmd == "digest" {
		return digest(rest, stdout, stderr)
	}
	if cmd == "convert" {
		return convertCmd(rest, stdout, stderr)
	}
	if len(rest) > 1 {
		fmt.Fprintf(stderr, "zkserver: %s: too many arguments: %s\n", cmd, strings.Join(rest, " "))
		return 2
	}
	switch cmd {
	case "start-foreground", "start":
		return startForeground(rest, stderr)
	case "status":
		return status(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "zkgo zkserver %s (Apache ZooKeeper 3.8 protocol)\n", server.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, usage, config.DefaultDataDir())
		return 0
	}
	fmt.Fprintf(stderr, "zkserver: unknown command %q\n", cmd)
	fmt.Fprintf(stderr, usage, config.DefaultDataDir())
	return 2
}

// digest prints "USER:PASSWORD->USER:DIGEST" for each argument, as
// Apache's DigestAuthenticationProvider main does.
func digest(args []string, stdout, stderr io.Writer) int {
	alg := acl.DigestAlgorithm{}
	var creds []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-alg" || a == "--alg":
			if i+1 == len(args) {
				fmt.Fprintln(stderr, "zkserver: digest: -alg needs an algorithm name")
				return 2
			}
			i++
			var err error
			if alg, err = acl.ParseDigestAlgorithm(args[i]); err != nil {
				fmt.Fprintf(stderr, "zkserver: digest: %v\n", err)
				return 2
			}
		default:
			creds = append(creds, a)
		}
	}
	if len(creds) == 0 {
		fmt.Fprintln(stderr, "usage: zkserver digest [-alg NAME] USER:PASSWORD...")
		return 2
	}
	for _, c := range creds {
		fmt.Fprintf(stdout, "%s->%s\n", c, alg.Digest(c))
	}
	return 0
}

// convertCmd is zkserver convert [--to-apache] [zoo.cfg], the option
// before or after the file.
func convertCmd(args []string, stdout, stderr io.Writer) int {
	var files []string
	toApache := false
	for _, a := range args {
		switch a {
		case "--to-apache", "-to-apache":
			toApache = true
		default:
			files = append(files, a)
		}
	}
	if len(files) > 1 {
		fmt.Fprintf(stderr, "zkserver: convert: too many arguments: %s\n", strings.Join(files, " "))
		return 2
	}
	if toApache {
		return convertToApache(files, stdout, stderr)
	}
	return convert(files, stdout, stderr)
}

// convert takes over an Apache data directory (server.ConvertApache).
func convert(args []string, stdout, stderr io.Writer) int {
	cfg, code := convertConfig(args, "Apache ZooKeeper", stderr)
	if cfg == nil {
		return code
	}
	rep, err := server.ConvertApache(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "zkserver: convert: %s\n", oneLine(err))
		return 1
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(stdout, "skipped %s\n", s)
	}
	fmt.Fprintf(stdout, "read %s: %d znodes, %d sessions at zxid 0x%x\n", rep.Snapshot, rep.Znodes, rep.Sessions, rep.SnapshotZxid)
	for _, l := range rep.Logs {
		fmt.Fprintf(stdout, "read %s\n", l)
	}
	torn := ""
	if rep.Torn {
		torn = " (a log ended in a record cut short, as a crash leaves it; Apache reads no further in it either)"
	}
	fmt.Fprintf(stdout, "%d txns after the snapshot, the last 0x%x%s\n", rep.Txns, rep.LastZxid, torn)
	fmt.Fprintf(stdout, "Apache's files moved to %s\n", strings.Join(rep.Backup, " and "))
	fmt.Fprintln(stdout, "done: zkserver start-foreground serves this data now")
	return 0
}

// convertToApache writes zkgo's data as Apache's (server.ConvertToApache).
func convertToApache(args []string, stdout, stderr io.Writer) int {
	cfg, code := convertConfig(args, "zkserver", stderr)
	if cfg == nil {
		return code
	}
	rep, err := server.ConvertToApache(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "zkserver: convert: %s\n", oneLine(err))
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: %d znodes, %d sessions at zxid 0x%x\n", rep.Snapshot, rep.Znodes, rep.Sessions, rep.Zxid)
	fmt.Fprintf(stdout, "zkgo's files moved to %s\n", strings.Join(rep.Backup, " and "))
	fmt.Fprintln(stdout, "done: Apache ZooKeeper 3.8 serves this data now (zkServer.sh start with this zoo.cfg)")
	return 0
}

// clientAddr is where zkServer.sh status looks for the server of cfg: the
// client port of its server line or clientPort, else (secure) the
// secureClientPort; a wildcard address is asked on localhost.
func clientAddr(cfg *config.Config) (host string, port int, secure bool) {
	host, port = cfg.ClientPortAddress, cfg.ClientPort
	if self, ok := cfg.Self(); ok && self.ClientPort != 0 {
		port = self.ClientPort
		if self.ClientAddress != "" {
			host = self.ClientAddress
		}
	}
	if port == 0 && cfg.SecureClientPort != 0 {
		secure, port, host = true, cfg.SecureClientPort, cfg.SecureClientPortAddress
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return host, port, secure
}

// convertConfig loads the configuration of zkserver convert and refuses
// (exit code) while a server listens on its client port, who being the
// one to stop: Apache locks nothing in its dataDir, and a server that
// still runs writes there.
func convertConfig(args []string, who string, stderr io.Writer) (*config.Config, int) {
	cfg, err := loadConfig(args)
	if err != nil {
		fmt.Fprintf(stderr, "zkserver: %s\n", oneLine(err))
		return nil, 2
	}
	host, port, _ := clientAddr(cfg)
	if port == 0 {
		return cfg, 0
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return cfg, 0
	}
	c.Close()
	fmt.Fprintf(stderr, "zkserver: convert: a server listens on %s: stop %s first\n", addr, who)
	return nil, 1
}

func loadConfig(args []string) (*config.Config, error) {
	if len(args) == 0 {
		return config.Default(), nil
	}
	if strings.HasPrefix(args[0], "-") {
		return nil, fmt.Errorf("unknown flag %s", args[0])
	}
	return config.Parse(args[0])
}

func newLogger(cfg *config.Config, stderr io.Writer) (*slog.Logger, func(), error) {
	w := stderr
	closeFn := func() {}
	if cfg.LogDir != "" {
		if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("log dir: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(cfg.LogDir, "zookeeper.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		w = f
		closeFn = func() { f.Close() }
	}
	level := slog.LevelInfo
	if os.Getenv("ZK_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closeFn, nil
}

func startForeground(args []string, stderr io.Writer) int {
	cfg, err := loadConfig(args)
	if err != nil {
		fmt.Fprintf(stderr, "zkserver: %s\n", oneLine(err))
		return 1
	}
	logger, closeLog, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "zkserver: %s\n", oneLine(err))
		return 1
	}
	defer closeLog()
	for k := range cfg.Extra {
		logger.Warn("unknown configuration key ignored", "key", k)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		fmt.Fprintf(stderr, "zkserver: %s\n", oneLine(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	var ln net.Listener
	var err error
	if cfg.SecureClientPort != 0 {
		// Refuse bad key or trust stores before anything starts.
		if _, err := server.ServerTLSConfig(cfg); err != nil {
			return err
		}
	}
	if cfg.ClientPort == 0 && cfg.SecureClientPort != 0 {
		// TLS clients only: the secure port is the server's listener.
		ln, err = server.ListenSecure(cfg, logger)
		if err != nil {
			return err
		}
	} else {
		ln, err = net.Listen("tcp", cfg.ClientAddr())
		if err != nil {
			return fmt.Errorf("client port %s: %w", cfg.ClientAddr(), unwrapSys(err))
		}
	}
	srv, err := server.New(cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	stopExtras, err := startExtras(cfg, srv, logger)
	if err != nil {
		ln.Close()
		srv.Close()
		return err
	}
	defer stopExtras()
	trimCtx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go memtrim.Run(trimCtx, memtrim.DefaultInterval, memtrim.DefaultPolicy, func(before, after uint64, took time.Duration) {
		logger.Debug("returned spare heap to the OS", "retained_before_mb", before>>20, "retained_after_mb", after>>20,
			"took", took.Round(time.Millisecond))
	})
	logger.Info("serving", "client_addr", ln.Addr().String(), "data_dir", cfg.DataDir, "version", server.Version)
	err = srv.Serve(ctx, ln)
	if errors.Is(err, server.ErrServerClosed) {
		logger.Info("server stopped")
		return nil
	}
	return err
}

// unwrapSys turns "listen tcp 127.0.0.1:2181: bind: address already in use"
// into its last, most telling part.
func unwrapSys(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		if errors.Is(se.Err, syscall.EADDRINUSE) {
			return errors.New("address already in use (is another server running?)")
		}
		return se.Err
	}
	return err
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

func status(args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args)
	if err != nil {
		fmt.Fprintf(stderr, "zkserver: %s\n", oneLine(err))
		return 1
	}
	if len(args) > 0 {
		fmt.Fprintf(stdout, "Using config: %s\n", args[0])
	}
	host, port, secure := clientAddr(cfg)
	if secure {
		fmt.Fprintln(stdout, "Client port not found. Looking for secureClientPort in the static config.")
	}
	fmt.Fprintf(stdout, "Client port found: %d. Client address: %s. Client SSL: %v.\n", port, host, secure)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out string
	if secure {
		out, err = secureSrvr(ctx, cfg, net.JoinHostPort(host, strconv.Itoa(port)))
	} else {
		out, err = fourletter.Query(ctx, net.JoinHostPort(host, strconv.Itoa(port)), "srvr")
	}
	if err == nil {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "Mode: ") {
				fmt.Fprintln(stdout, line)
				return 0
			}
		}
	}
	fmt.Fprintln(stderr, "Error contacting service. It is probably not running.")
	return 1
}

// secureSrvr asks the server's own secure port for srvr, presenting the
// server's key store certificate (a server that needs client certificates
// gets one) and not verifying the server: it is a local health probe.
func secureSrvr(ctx context.Context, cfg *config.Config, addr string) (string, error) {
	tc, err := server.ServerTLSConfig(cfg)
	if err != nil {
		return "", err
	}
	d := tls.Dialer{Config: &tls.Config{Certificates: tc.Certificates, InsecureSkipVerify: true, MinVersion: tc.MinVersion, MaxVersion: tc.MaxVersion}}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := nc.Write([]byte("srvr")); err != nil {
		return "", err
	}
	b, err := io.ReadAll(nc)
	return string(b), err
}
