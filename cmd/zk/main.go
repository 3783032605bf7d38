// Command zk is the ZooKeeper shell and scripting CLI: with no command it
// opens the interactive shell, with a command it runs it once and exits 0
// on success, 1 with one line "zk: <error>" on stderr when the command
// failed, and 2 for usage errors.
//
// Adding a command from another file of this package: append a
// *cli.Command to extraCommands in an init() function. Such commands parse
// their own flags; to honour the global connection options given before
// the command (`zk -server a:1,b:2 status`) call serverList(c) and
// sessionTimeout(c), and outputFormat(c) for -o. Return cli.Exit(msg, 2)
// for a usage error; any other error is printed as "zk: <error>" with exit
// status 1.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/zkgo/zkgo/completions"
	"github.com/zkgo/zkgo/shell"
)

// extraCommands are appended to by the other files of this package
// (bench.go, status.go, ensemble.go) from init().
var extraCommands []*cli.Command

// defaultServer is used when neither -server nor $ZK_SERVER is set.
const defaultServer = "127.0.0.1:2181"

// serverList returns the connect string: -server (from any level of the
// command line before the command), else $ZK_SERVER, else 127.0.0.1:2181.
func serverList(c *cli.Context) string {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("server") {
			return ctx.String("server")
		}
	}
	if s := os.Getenv("ZK_SERVER"); s != "" {
		return s
	}
	return defaultServer
}

// sessionTimeout returns -timeout (ms) as a duration, default 30 s.
func sessionTimeout(c *cli.Context) time.Duration {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("timeout") {
			return time.Duration(ctx.Int("timeout")) * time.Millisecond
		}
	}
	return 30 * time.Second
}

// sessionTimeoutMs is -timeout as given (ms).
func sessionTimeoutMs(c *cli.Context) int {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("timeout") {
			return ctx.Int("timeout")
		}
	}
	return 30000
}

// outputFormat returns -o (text, json or yaml), default text.
func outputFormat(c *cli.Context) string {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("o") {
			return ctx.String("o")
		}
	}
	return shell.FormatText
}

func readOnly(c *cli.Context) bool {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("r") {
			return ctx.Bool("r")
		}
	}
	return false
}

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// usageError marks errors of the command line itself (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// A bug must not show users a Go stack trace: one line and status 1.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "zk: internal error: %v\n", r)
			code = 1
		}
	}()
	app := newApp(stdin, stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	code = 1
	var ue *usageError
	var ec cli.ExitCoder
	switch {
	case shell.IsUsage(err), errors.As(err, &ue):
		code = 2
	case errors.As(err, &ec):
		code = ec.ExitCode()
		if code == 0 {
			return 0
		}
	}
	msg := strings.TrimRight(err.Error(), "\n")
	if msg != "" {
		// One line for the error; a usage line may follow.
		first, rest, _ := strings.Cut(msg, "\n")
		fmt.Fprintln(stderr, "zk: "+first)
		if rest != "" {
			fmt.Fprintln(stderr, rest)
		}
	}
	return code
}

// flagStringerOnce: newApp wraps cli.FlagStringer once per process.
var flagStringerOnce sync.Once

// appDescription is shown by `zk --help`.
const appDescription = `With no COMMAND, opens the interactive shell (zkCli.sh's commands, Tab
completion, history). With a COMMAND, runs it once: exit status 0 on
success, 1 when it failed (one line "zk: <reason>" on stderr), 2 for a
usage error. Options may also follow the command's arguments
(zk get /p -s -o json). zk help lists the commands with their options;
zk COMMAND --help describes one. Full manual: docs/zk.md.`

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	// zk's global options are shown with one dash, as zkCli.sh spells
	// them (-server); two work too. Other commands' flags are left alone.
	flagStringerOnce.Do(func() {
		orig := cli.FlagStringer
		cli.FlagStringer = func(f cli.Flag) string {
			s := orig(f)
			for _, n := range []string{"server", "timeout", "tls", "tls-ca", "tls-cert", "tls-key", "tls-insecure", "sasl", "jaas"} {
				if strings.HasPrefix(s, "--"+n+" ") || strings.HasPrefix(s, "--"+n+"\t") {
					return s[1:]
				}
			}
			return s
		}
	})
	app := &cli.App{
		Description:          appDescription,
		Name:                 "zk",
		Usage:                "ZooKeeper shell and scripting CLI",
		UsageText:            "zk [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-tls [-tls-ca FILE] [-tls-cert FILE [-tls-key FILE]] [-tls-insecure]] [-sasl USER:PASSWORD | -jaas FILE] [-o text|json|yaml] [COMMAND ARGS...]",
		Version:              shell.Version,
		HideVersion:          true,
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: false,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Usage: "servers `host:port[,host:port...][/chroot]` (default $ZK_SERVER, then " + defaultServer + ")"},
			&cli.IntFlag{Name: "timeout", Value: 30000, Usage: "session timeout in `ms`"},
			&cli.BoolFlag{Name: "r", Usage: "allow read-only servers"},
			&cli.StringFlag{Name: "o", Value: shell.FormatText, Usage: "output `format`: text, json or yaml"},
			&cli.BoolFlag{Name: "tls", Usage: "connect over TLS (the servers' secureClientPort)"},
			&cli.StringFlag{Name: "tls-ca", Usage: "PEM `FILE` of CA certificates to verify the server with, or a .jks/.p12 trust store (implies -tls; default: the system's)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM `FILE` with the client certificate, and its key unless -tls-key, or a .jks/.p12 key store (implies -tls; stores opened with $ZK_TLS_PASSWORD)"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM `FILE` with the client certificate's private key"},
			&cli.BoolFlag{Name: "tls-insecure", Usage: "do not verify the server's certificate (implies -tls)"},
			&cli.StringFlag{Name: "sasl", Usage: "log in with SASL DIGEST-MD5 as `USER:PASSWORD` (or USER, the password in $ZK_SASL_PASSWORD)"},
			&cli.StringFlag{Name: "jaas", Usage: "log in with SASL DIGEST-MD5 as the username and password of the Client section of a JAAS `FILE` (zkCli.sh's java.security.auth.login.config)"},
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			if errors.Is(err, flag.ErrHelp) {
				return cli.ShowAppHelp(c)
			}
			return &usageError{msg: err.Error()}
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		ExitErrHandler:  func(c *cli.Context, err error) {},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &usageError{msg: "Command not found: " + c.Args().First()}
			}
			return interactive(c, stdin, stdout, stderr)
		},
	}
	var cmds []*cli.Command
	sh, _ := shell.New(shell.Config{Server: defaultServer})
	for _, sc := range sh.Commands() {
		cmds = append(cmds, &cli.Command{
			Name:            sc.Name,
			Aliases:         sc.Aliases,
			Usage:           sc.Help,
			UsageText:       "zk " + sc.Usage,
			SkipFlagParsing: true,
			HideHelp:        true,
			Action: func(c *cli.Context) error {
				return oneShot(c, stdin, stdout, stderr)
			},
		})
	}
	cmds = append(cmds, completionCommand(stdout), completeCommand(stdout))
	app.Commands = append(cmds, extraCommands...)
	return app
}

// globalFlags are the connection options a shell command line may carry
// after the command too (`zk get /p -server a:1`).
var globalFlags = []shell.Flag{
	{Name: "server", Arg: "host:port"},
	{Name: "timeout", Arg: "ms"},
	{Name: "r"},
	{Name: "tls"},
	{Name: "tls-ca", Arg: "FILE"},
	{Name: "tls-cert", Arg: "FILE"},
	{Name: "tls-key", Arg: "FILE"},
	{Name: "tls-insecure"},
	{Name: "sasl", Arg: "USER:PASSWORD"},
	{Name: "jaas", Arg: "FILE"},
}

// splitGlobals takes -server, -timeout, -r and the -tls options out of a shell command's
// arguments (up to "--"), leaving the rest in order.
func splitGlobals(args []string) (map[string]string, []string, error) {
	g := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			rest = append(rest, a)
			continue
		}
		known := false
		for _, f := range globalFlags {
			if f.Name != name {
				continue
			}
			known = true
			switch {
			case f.Arg == "":
				g[name] = "true"
			case hasVal:
				g[name] = val
			case i+1 < len(args):
				i++
				g[name] = args[i]
			default:
				return nil, nil, &usageError{msg: "option -" + name + " needs a value (" + f.Arg + ")"}
			}
		}
		if !known {
			rest = append(rest, a)
		}
	}
	return g, rest, nil
}

func shellConfig(c *cli.Context, g map[string]string, stdin io.Reader, stdout, stderr io.Writer) (shell.Config, error) {
	// The session timeout travels as an int32 of ms.
	if ms := sessionTimeoutMs(c); ms <= 0 || ms > math.MaxInt32 {
		return shell.Config{}, &usageError{msg: "-timeout: not a positive number of ms: " + strconv.Itoa(ms)}
	}
	cfg := shell.Config{
		Server:   serverList(c),
		Timeout:  sessionTimeout(c),
		ReadOnly: readOnly(c),
		Format:   outputFormat(c),
		Out:      stdout,
		Err:      stderr,
		In:       stdin,
	}
	if v, ok := g["server"]; ok {
		cfg.Server = v
	}
	if v, ok := g["timeout"]; ok {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 || ms > math.MaxInt32 {
			return cfg, &usageError{msg: "-timeout: not a positive number of ms: " + v}
		}
		cfg.Timeout = time.Duration(ms) * time.Millisecond
	}

	if _, ok := g["r"]; ok {
		cfg.ReadOnly = true
	}
	tc, err := tlsConfig(c, g)
	if err != nil {
		return cfg, err
	}
	cfg.TLS = tc
	if cfg.SASL, err = saslLogin(c, g); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// globalString is a global option's value from g (the options after a
// shell command's arguments) or any level of the command line.
func globalString(c *cli.Context, g map[string]string, name string) string {
	if v, ok := g[name]; ok {
		return v
	}
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) {
			return ctx.String(name)
		}
	}
	return ""
}

// saslLogin builds -sasl or -jaas's login; nil without either.
func saslLogin(c *cli.Context, g map[string]string) (*shell.SASLLogin, error) {
	user, jaas := globalString(c, g, "sasl"), globalString(c, g, "jaas")
	switch {
	case user != "" && jaas != "":
		return nil, &usageError{msg: "-sasl and -jaas: choose one"}
	case user != "":
		l, err := shell.ParseSASL(user)
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		return l, nil
	case jaas != "":
		return shell.SASLFromJAAS(jaas)
	}
	return nil, nil
}

// tlsConfig builds the -tls options (from any level of the command line,
// or g, the options after a shell command's arguments); nil without TLS.
// -tls-ca, -tls-cert and -tls-insecure imply -tls.
func tlsConfig(c *cli.Context, g map[string]string) (*tls.Config, error) {
	str := func(name string) string { return globalString(c, g, name) }
	flag := func(name string) bool {
		if _, ok := g[name]; ok {
			return true
		}
		for _, ctx := range c.Lineage() {
			if ctx.IsSet(name) {
				return ctx.Bool(name)
			}
		}
		return false
	}
	o := shell.TLSOptions{CAFile: str("tls-ca"), CertFile: str("tls-cert"), KeyFile: str("tls-key"), Insecure: flag("tls-insecure")}
	if !flag("tls") && o == (shell.TLSOptions{}) {
		return nil, nil
	}
	if o.KeyFile != "" && o.CertFile == "" {
		return nil, &usageError{msg: "-tls-key needs -tls-cert"}
	}
	return shell.TLSConfig(o)
}

func oneShot(c *cli.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	g, args, err := splitGlobals(c.Args().Slice())
	if err != nil {
		return err
	}
	// Help needs no server and no valid options (`zk get --help -o xml`).
	helpSh, _ := shell.New(shell.Config{Server: defaultServer})
	if cmd := helpSh.Lookup(c.Command.Name); cmd != nil && shell.WantsHelp(cmd, args) {
		shell.WriteCommandHelp(stdout, cmd)
		return nil
	}
	if c.Command.Name == "help" && len(args) > 0 {
		if cmd := helpSh.Lookup(args[0]); cmd != nil {
			shell.WriteCommandHelp(stdout, cmd)
			return nil
		}
		if cmd := c.App.Command(args[0]); cmd != nil && !cmd.Hidden {
			// bench, status, ensemble, completion: their own help.
			return cli.ShowCommandHelp(c, args[0])
		}
		return &usageError{msg: "Command not found: " + args[0]}
	}
	if c.Command.Name == "help" {
		helpSh.WriteUsage(stdout)
		writeZkOnlyCommands(c, stdout, helpSh)
		return nil
	}
	cfg, err := shellConfig(c, g, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	sh, err := shell.New(cfg)
	if err != nil {
		return err
	}
	defer sh.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return sh.Run(ctx, append([]string{c.Command.Name}, args...))
}

// writeZkOnlyCommands ends `zk help` with the commands that exist only on
// zk's command line (not in the shell): bench, status, ensemble, completion.
func writeZkOnlyCommands(c *cli.Context, w io.Writer, sh *shell.Shell) {
	fmt.Fprintln(w, "zk only (not in the shell; zk COMMAND --help for more):")
	for _, cmd := range c.App.Commands {
		if cmd.Hidden || sh.Lookup(cmd.Name) != nil {
			continue
		}
		usage, _, _ := strings.Cut(cmd.UsageText, "\n")
		usage = strings.TrimPrefix(strings.TrimSpace(usage), "zk ")
		if usage == "" {
			usage = cmd.Name
		}
		fmt.Fprintf(w, "\t%s\n", usage)
	}
	fmt.Fprintln(w, "Run zk COMMAND --help (or help COMMAND) for a command's options.")
}

func completionCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		UsageText: "zk completion bash|zsh|fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &usageError{msg: "usage: zk completion bash|zsh|fish"}
			}
			script, err := completions.Script(c.Args().First())
			if err != nil {
				return &usageError{msg: err.Error()}
			}
			_, err = io.WriteString(stdout, script)
			return err
		},
	}
}

// completeCommand is the hidden helper of the completion scripts:
// `zk __complete WORD... CURRENT` prints the candidates for CURRENT, one a
// line. Znode paths are fetched from the server (-server, $ZK_SERVER) with
// a short timeout; without a server only commands and flags complete.
func completeCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			g, words, err := splitGlobals(c.Args().Slice())
			if err != nil {
				return nil
			}
			cfg, err := shellConfig(c, g, nil, io.Discard, io.Discard)
			if err != nil {
				return nil
			}
			cfg.Timeout = 2 * time.Second
			sh, err := shell.New(cfg)
			if err != nil {
				return nil
			}
			defer sh.Close()
			line := strings.Join(words, " ")
			if len(words) == 0 || words[len(words)-1] == "" {
				line += " "
			}
			line = strings.TrimLeft(line, " ")
			cur := ""
			if len(words) > 0 {
				cur = words[len(words)-1]
			}
			if len(words) > 1 && strings.HasPrefix(cur, "/") {
				ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
				defer cancel()
				if _, err := sh.Client(ctx); err != nil {
					return nil
				}
			}
			// Top level: zk's own global flags and extra commands too.
			if len(words) <= 1 {
				for _, cmd := range c.App.Commands {
					if !cmd.Hidden && strings.HasPrefix(cmd.Name, cur) {
						fmt.Fprintln(stdout, cmd.Name)
					}
				}
				return nil
			}
			for _, sg := range sh.Complete(line) {
				fmt.Fprintln(stdout, sg.Text)
			}
			return nil
		},
	}
}
