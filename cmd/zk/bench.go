package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"github.com/zkgo/zkgo/bench"
	"github.com/zkgo/zkgo/shell"
	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/term"
)

func init() {
	extraCommands = append(extraCommands, benchCommand())
}

const benchUsage = `zk bench [-server host:port,...] [-clients N] [-op get|set|create|delete|mixed|watch]
         [-duration 10s] [-warmup 2s] [-size 100] [-keys 1000] [-read-pct 90] [-rate N]
         [-tls ...] [-sasl USER[:PASSWORD] | -jaas FILE] [-o text|json|yaml]`

const benchHelp = `Closed-loop load generator: each client is its own session with one request
in flight; client i talks to server i mod n of the list. Prints ops/s,
latency percentiles (HDR histogram) and errors by kind, and deletes every
znode it created. With -rate N the load is paced instead: N requests per
second in all, each client sending at fixed intervals; a request held back
by a slow answer counts that delay in its latency, so servers compare at
the same load. zk's connection options work here too, before or after
the command: -tls and its -tls-* options for a secureClientPort, -sasl or
-jaas for a SASL login on every session. Operations:
  get     getData of a random key (the key set is created first)
  set     setData of a random key with -size bytes
  create  create a new znode of -size bytes
  delete  delete a znode (each delete follows an unmeasured create)
  mixed   -read-pct% get, the rest set
  watch   set a znode with a data watch on it; latency = set to notification`

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:            "bench",
		Usage:           "closed-loop (or paced) benchmark against one or more servers",
		UsageText:       benchUsage,
		Description:     benchHelp,
		SkipFlagParsing: true,
		HideHelp:        true,
		Action:          benchAction,
	}
}

func benchAction(c *cli.Context) error {
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	server := fs.String("server", "", "servers host:port[,host:port...]")
	format := fs.String("o", "", "output format: text, json or yaml")
	timeout := fs.Int("timeout", 0, "session timeout in ms")
	op := fs.String("op", string(cfg.Op), "operation")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "number of clients (sessions)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured duration")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up before measuring")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "value size in bytes")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "number of keys for get/set/mixed")
	fs.IntVar(&cfg.ReadPct, "read-pct", cfg.ReadPct, "percentage of reads in mixed")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second in all, paced (0: closed loop)")
	fs.StringVar(&cfg.Root, "root", "", "znode to create everything under (default /zkbench-<random>)")
	// zk's connection options, accepted after the command too.
	conn := map[string]*string{}
	for _, name := range []string{"tls-ca", "tls-cert", "tls-key", "sasl", "jaas"} {
		conn[name] = fs.String(name, "", "as zk -"+name)
	}
	tlsOn := fs.Bool("tls", false, "connect over TLS (as zk -tls)")
	tlsInsecure := fs.Bool("tls-insecure", false, "as zk -tls-insecure")
	help, args, err := parseAnywhere(fs, c.Args().Slice())
	if help {
		fmt.Fprintf(stdout, "usage: %s\n\n%s\n\noptions:\n", benchUsage, benchHelp)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return &usageError{msg: "bench: " + err.Error()}
	}
	if len(args) > 0 {
		return &usageError{msg: "bench: unexpected argument " + args[0] + "\nusage: " + benchUsage}
	}
	if cfg.Op, err = bench.ParseOp(*op); err != nil {
		return &usageError{msg: "bench: -op: " + err.Error()}
	}
	connect := serverList(c)
	if *server != "" {
		connect = *server
	}
	if i := strings.IndexByte(connect, '/'); i >= 0 {
		return &usageError{msg: "bench: a chroot (" + connect[i:] + ") is not supported; give host:port[,host:port...]"}
	}
	cfg.Servers = strings.Split(connect, ",")
	cfg.SessionTimeout = sessionTimeout(c)
	if *timeout > 0 {
		cfg.SessionTimeout = time.Duration(*timeout) * time.Millisecond
	}
	out := outputFormat(c)
	if *format != "" {
		out = *format
	}
	if !shell.ValidFormat(out) {
		return &usageError{msg: "bench: -o: unknown format " + out + " (want text, json or yaml)"}
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{msg: "bench: " + strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	g := map[string]string{}
	for name, v := range conn {
		if *v != "" {
			g[name] = *v
		}
	}
	if *tlsOn {
		g["tls"] = ""
	}
	if *tlsInsecure {
		g["tls-insecure"] = ""
	}
	tc, err := tlsConfig(c, g)
	if err != nil {
		return err
	}
	login, err := saslLogin(c, g)
	if err != nil {
		return err
	}
	if tc != nil || login != nil {
		cfg.Dial = shell.Dialer(tc, login)
	}

	var bar *progressbar.ProgressBar
	if out == shell.FormatText && isTerminal(stderr) {
		bar = progressbar.NewOptions64(int64((cfg.Warmup+cfg.Duration)/time.Millisecond),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(string(cfg.Op)),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
		)
		cfg.Progress = func(el, total time.Duration, ops int64) {
			phase := "warm-up"
			if el >= cfg.Warmup {
				phase = fmt.Sprintf("%d ops", ops)
			}
			bar.Describe(fmt.Sprintf("%s %s", cfg.Op, phase))
			_ = bar.Set64(int64(el / time.Millisecond))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if bar != nil {
		// The bar writes on stderr; wipe its line before the result.
		_ = bar.Clear()
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := writeResult(stdout, out, res, res.WriteText); err != nil {
		return err
	}
	if res.Interrupted {
		return cli.Exit("bench: interrupted", 130)
	}
	if res.CleanupError != "" {
		return errors.New("bench: cleanup: " + res.CleanupError)
	}
	return nil
}

// writeResult renders v as text (with the given writer), json (one object
// on one line) or yaml.
func writeResult(w io.Writer, format string, v any, text func(io.Writer) error) error {
	switch format {
	case shell.FormatJSON:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case shell.FormatYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	return text(w)
}

// parseAnywhere parses options before, between and after the positional
// arguments (Go's flag package stops at the first non-option). It reports
// -h/-help/--help separately and stops at "--".
func parseAnywhere(fs *flag.FlagSet, args []string) (help bool, positional []string, err error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return true, nil, nil
			}
			return false, nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse consumed a "--" itself when rest is shorter than what
		// follows it; everything after "--" is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return false, positional, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
