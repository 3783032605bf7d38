package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/zkgo/zkgo/ensemble"
	"github.com/zkgo/zkgo/shell"
)

func init() {
	extraCommands = append(extraCommands, ensembleCommand())
}

const ensembleUsage = `zk ensemble up [-n 3] [--observers 0] [--base-port 2181] [--dir DIR] [--wait 60s] [--set KEY=VALUE]... [-o text|json|yaml]
       zk ensemble status [--dir DIR] [-o text|json|yaml]
       zk ensemble down [--dir DIR] [--purge] [--grace 10s]
       zk ensemble kill|stop ID [--dir DIR] [--grace 10s]
       zk ensemble start|restart ID [--dir DIR] [--wait 60s] [--grace 10s]
       zk ensemble connect-string [--dir DIR]`

const ensembleHelp = `Runs a local pseudo-cluster of zkserver processes on 127.0.0.1.

  up              write zoo.cfg and myid for each member under DIR, start the
                  zkserver processes in the background (logs in DIR/serverN/),
                  wait until every member serves and one leads, print the members.
                  -n voting members and --observers extra non-voting members;
                  client ports are base-port, base-port+1, ...; quorum, election
                  and AdminServer ports are the first free ones from 2888, 3888
                  and 8080 (shifted with --base-port). If the ensemble in DIR is
                  running, up only reports it; if it is stopped, up restarts it.
  status          ask every member for srvr: id, role, client address, pid, zxid
                  (exit 0 when every member serves and one leads, else 1)
  down            stop every member (SIGTERM, SIGKILL after --grace); --purge
                  then deletes the configs, data and logs
  kill ID         SIGKILL one member, as a crash
  stop ID         stop one member (SIGTERM, SIGKILL after --grace)
  start ID        start a stopped member and wait until it serves
  restart ID      stop, then start
  connect-string  print the client addresses, for zk -server

DIR defaults to ` + "%s" + `.
The zkserver binary is looked for next to zk, then in $PATH (--zkserver PATH to choose).`

func ensembleCommand() *cli.Command {
	return &cli.Command{
		Name:            "ensemble",
		Usage:           "run a local ensemble of zkserver processes (up, status, down, kill, stop, start, restart)",
		UsageText:       ensembleUsage,
		SkipFlagParsing: true,
		HideHelp:        true,
		Action:          ensembleAction,
	}
}

// ensembleFlags are the options of every subcommand (one set, so they can
// come anywhere on the line); allowed says which subcommand takes which.
type ensembleFlags struct {
	fs        *flag.FlagSet
	n         int
	observers int
	basePort  int
	dir       string
	wait      time.Duration
	grace     time.Duration
	purge     bool
	format    string
	bin       string
	set       setFlag
}

// setFlag collects --set KEY=VALUE, once per key.
type setFlag []string

func (s *setFlag) String() string     { return strings.Join(*s, " ") }
func (s *setFlag) Set(v string) error { *s = append(*s, v); return nil }

var ensembleAllowed = map[string][]string{
	"up":             {"n", "observers", "base-port", "dir", "wait", "o", "zkserver", "set"},
	"status":         {"dir", "o"},
	"down":           {"dir", "purge", "grace"},
	"kill":           {"dir", "o"},
	"stop":           {"dir", "grace", "o"},
	"start":          {"dir", "wait", "o", "zkserver"},
	"restart":        {"dir", "wait", "grace", "o", "zkserver"},
	"connect-string": {"dir"},
}

func newEnsembleFlags() *ensembleFlags {
	f := &ensembleFlags{fs: flag.NewFlagSet("ensemble", flag.ContinueOnError)}
	f.fs.IntVar(&f.n, "n", 0, "number of voting members (default 3)")
	f.fs.IntVar(&f.observers, "observers", 0, "number of observers, in addition to -n")
	f.fs.IntVar(&f.basePort, "base-port", 0, "first client port (default 2181)")
	f.fs.StringVar(&f.dir, "dir", "", "ensemble directory (default "+ensemble.DefaultDir()+")")
	f.fs.DurationVar(&f.wait, "wait", 60*time.Second, "how long up, start and restart wait for the members to serve")
	f.fs.DurationVar(&f.grace, "grace", 10*time.Second, "how long stop and down wait after SIGTERM before SIGKILL")
	f.fs.BoolVar(&f.purge, "purge", false, "down: delete the ensemble's files after stopping it")
	f.fs.StringVar(&f.format, "o", "", "output format: text, json or yaml")
	f.fs.StringVar(&f.bin, "zkserver", "", "zkserver binary (default: next to zk, then $PATH)")
	f.fs.Var(&f.set, "set", "up: a `KEY=VALUE` line for every member's zoo.cfg (repeatable), e.g. --set audit.enable=true")
	return f
}

func ensembleAction(c *cli.Context) error {
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	f := newEnsembleFlags()
	help, args, err := parseAnywhere(f.fs, c.Args().Slice())
	if help || (len(args) > 0 && args[0] == "help") {
		fmt.Fprintf(stdout, "usage: %s\n\n"+ensembleHelp+"\n\noptions:\n", ensembleUsage, ensemble.DefaultDir())
		f.fs.SetOutput(stdout)
		f.fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return &usageError{msg: "ensemble: " + err.Error()}
	}
	if len(args) == 0 {
		return &usageError{msg: "ensemble: which subcommand?\nusage: " + ensembleUsage}
	}
	sub := args[0]
	allowed, ok := ensembleAllowed[sub]
	if !ok {
		return &usageError{msg: "ensemble: unknown subcommand " + sub + "\nusage: " + ensembleUsage}
	}
	var bad []string
	f.fs.Visit(func(fl *flag.Flag) {
		for _, a := range allowed {
			if a == fl.Name {
				return
			}
		}
		bad = append(bad, "-"+fl.Name)
	})
	if len(bad) > 0 {
		return &usageError{msg: fmt.Sprintf("ensemble %s: option %s does not apply", sub, strings.Join(bad, ", "))}
	}
	out := outputFormat(c)
	if f.format != "" {
		out = f.format
	}
	if !shell.ValidFormat(out) {
		return &usageError{msg: "ensemble: -o: unknown format " + out + " (want text, json or yaml)"}
	}
	if f.wait <= 0 || f.grace <= 0 {
		return &usageError{msg: "ensemble: --wait and --grace must be positive"}
	}

	id := 0
	switch sub {
	case "kill", "stop", "start", "restart":
		if len(args) != 2 {
			return &usageError{msg: fmt.Sprintf("ensemble %s: want one server id\nusage: zk ensemble %s ID [--dir DIR]", sub, sub)}
		}
		if id, err = strconv.Atoi(args[1]); err != nil || id < 1 {
			return &usageError{msg: fmt.Sprintf("ensemble %s: %q is not a server id", sub, args[1])}
		}
	default:
		if len(args) > 1 {
			return &usageError{msg: fmt.Sprintf("ensemble %s: unexpected argument %s", sub, args[1])}
		}
	}

	opts := ensemble.Options{Dir: f.dir, Grace: f.grace, Logger: ensembleLogger(stderr)}
	switch sub {
	case "up", "start", "restart":
		if opts.ServerBin, err = findServerBin(f.bin); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if sub == "up" {
		ctx, cancel := context.WithTimeout(ctx, f.wait)
		defer cancel()
		sh := ensemble.Shape{Voters: f.n, Observers: f.observers, BasePort: f.basePort, Extra: f.set}
		if err := ensemble.CheckExtra(f.set); err != nil {
			return &usageError{msg: "ensemble up: " + err.Error()}
		}
		switch {
		case isSet(f.fs, "n") && f.n < 1:
			return &usageError{msg: "ensemble up: -n must be at least 1"}
		case f.observers < 0:
			return &usageError{msg: "ensemble up: --observers must not be negative"}
		case isSet(f.fs, "base-port") && (f.basePort < 1 || f.basePort > 65535):
			return &usageError{msg: "ensemble up: --base-port must be a port number"}
		}
		e, res, err := ensemble.Up(ctx, sh, opts)
		if err != nil {
			return fmt.Errorf("ensemble up: %w", err)
		}
		switch {
		case res.AlreadyRunning:
			fmt.Fprintf(stderr, "zk: an ensemble is already running in %s; not starting another\n", e.Dir())
		case res.Resumed:
			fmt.Fprintf(stderr, "zk: started the stopped ensemble in %s again\n", e.Dir())
		}
		if err := writeResult(stdout, out, res.Report, res.Report.WriteTable); err != nil {
			return err
		}
		if out == shell.FormatText && !res.AlreadyRunning {
			stopCmd := "zk ensemble down"
			if f.dir != "" {
				stopCmd += " --dir " + e.Dir()
			}
			fmt.Fprintf(stderr, "zk: the servers run in the background; stop them with: %s\n", stopCmd)
		}
		return nil
	}

	e, err := ensemble.Open(opts)
	if errors.Is(err, ensemble.ErrNoEnsemble) {
		if sub == "down" {
			fmt.Fprintf(stderr, "zk: nothing to stop: %s\n", err)
			return nil // down is idempotent
		}
		return fmt.Errorf("ensemble %s: %w (start one with zk ensemble up)", sub, err)
	}
	if err != nil {
		return fmt.Errorf("ensemble %s: %w", sub, err)
	}

	switch sub {
	case "status":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r := e.Status(ctx)
		if err := writeResult(stdout, out, r, r.WriteTable); err != nil {
			return err
		}
		if !r.Healthy {
			return cli.Exit("", 1)
		}
		return nil
	case "connect-string":
		spec := e.Spec()
		fmt.Fprintln(stdout, spec.ConnectString())
		return nil
	case "down":
		ctx, cancel := context.WithTimeout(ctx, f.grace+30*time.Second)
		defer cancel()
		stopped, err := e.Down(ctx, f.purge)
		for _, id := range stopped {
			fmt.Fprintf(stdout, "stopped server %d\n", id)
		}
		if err != nil {
			return fmt.Errorf("ensemble down: %w", err)
		}
		if f.purge {
			fmt.Fprintf(stdout, "removed the ensemble in %s\n", e.Dir())
		}
		return nil
	case "kill", "stop":
		ctx, cancel := context.WithTimeout(ctx, f.grace+30*time.Second)
		defer cancel()
		var pid int
		if sub == "kill" {
			pid, err = e.Kill(ctx, id)
		} else {
			pid, err = e.Stop(ctx, id)
		}
		if err != nil {
			return fmt.Errorf("ensemble %s: %w", sub, err)
		}
		past := map[string]string{"kill": "killed", "stop": "stopped"}[sub]
		res := struct {
			ID     int    `json:"id" yaml:"id"`
			PID    int    `json:"pid" yaml:"pid"`
			Action string `json:"action" yaml:"action"`
		}{id, pid, past}
		if pid == 0 {
			res.Action = "not-running"
		}
		return writeResult(stdout, out, res, func(w io.Writer) error {
			if pid == 0 {
				_, err := fmt.Fprintf(w, "server %d was not running\n", id)
				return err
			}
			_, err := fmt.Fprintf(w, "%s server %d (pid %d)\n", past, id, pid)
			return err
		})
	default: // start, restart
		ctx, cancel := context.WithTimeout(ctx, f.wait+f.grace)
		defer cancel()
		var ms ensemble.MemberStatus
		running := false
		if sub == "start" {
			ms, running, err = e.Start(ctx, id)
		} else {
			ms, err = e.Restart(ctx, id)
		}
		if err != nil {
			return fmt.Errorf("ensemble %s: %w", sub, err)
		}
		return writeResult(stdout, out, ms, func(w io.Writer) error {
			what := map[string]string{"start": "started", "restart": "restarted"}[sub]
			if running {
				what = "already running:"
			}
			_, err := fmt.Fprintf(w, "%s server %d (pid %d): %s, zxid %s, client %s\n", what, id, ms.PID, ms.Role, ms.Zxid, ms.Client)
			return err
		})
	}
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// ensembleLogger shows the package's state changes on stderr with
// ZK_DEBUG set, and nothing otherwise.
func ensembleLogger(stderr io.Writer) *slog.Logger {
	if os.Getenv("ZK_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
}

// findServerBin returns the zkserver to start: bin when given, else the
// one next to this zk executable, else the one in $PATH.
func findServerBin(bin string) (string, error) {
	if bin != "" {
		if err := isExecutable(bin); err != nil {
			return "", fmt.Errorf("--zkserver %s: %w", bin, err)
		}
		return filepath.Abs(bin)
	}
	var next string
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		next = filepath.Join(filepath.Dir(exe), "zkserver")
		if isExecutable(next) == nil {
			return next, nil
		}
	}
	if p, err := exec.LookPath("zkserver"); err == nil {
		return filepath.Abs(p)
	}
	where := "in $PATH"
	if next != "" {
		where = "at " + next + " or in $PATH"
	}
	return "", fmt.Errorf("ensemble: no zkserver binary %s (build it with make build, or give --zkserver PATH)", where)
}

func isExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
