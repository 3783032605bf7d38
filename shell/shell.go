package shell

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"
)

// Version is printed by the version command.
var Version = "zkgo-dev"

// Config configures a Shell.
type Config struct {
	Server   string        // connect string host:port[,...][/chroot]
	Timeout  time.Duration // session timeout; also how long to wait for a session
	ReadOnly bool          // -r: accept read-only servers (accepted, see docs)
	TLS      *tls.Config   // -tls: connect over TLS (see TLSConfig)
	SASL     *SASLLogin    // -sasl, -jaas: log in with DIGEST-MD5
	Format   string        // default -o format
	Out, Err io.Writer
	In       io.Reader // stdin for data given as "-"
	Logger   *slog.Logger
}

// Shell runs zk commands against one session. Commands are run by one
// goroutine at a time.
type Shell struct {
	cfg    Config
	cs     ConnectString
	client *Client
	logger *slog.Logger

	printWatches bool
	history      []string // interactive history, for history/redo
	cmds         map[string]*Command
	quit         bool
	interactive  bool // Interactive runs: waits for a session are announced
}

// New returns a Shell; it connects lazily, on the first command that needs
// a session (or with Connect).
func New(cfg Config) (*Shell, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Format == "" {
		cfg.Format = FormatText
	}
	if !ValidFormat(cfg.Format) {
		return nil, &UsageError{Msg: "unknown output format " + cfg.Format + " (want text, json or yaml)"}
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Err == nil {
		cfg.Err = os.Stderr
	}
	if cfg.In == nil {
		cfg.In = os.Stdin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cs, err := ParseConnectString(cfg.Server)
	if err != nil {
		return nil, &UsageError{Msg: "-server: " + err.Error()}
	}
	cs.TLS = cfg.TLS
	cs.SASL = cfg.SASL
	s := &Shell{cfg: cfg, cs: cs, logger: cfg.Logger, printWatches: true}
	s.cmds = map[string]*Command{}
	for _, c := range commandTable() {
		s.cmds[c.Name] = c
		for _, a := range c.Aliases {
			s.cmds[a] = c
		}
	}
	return s, nil
}

// Commands lists the commands sorted by name (aliases excluded).
func (s *Shell) Commands() []*Command {
	seen := map[*Command]bool{}
	var out []*Command
	for _, c := range s.cmds {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	// Java string order, as zkCli.sh lists them (addWatch before addauth).
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a command by name or alias.
func (s *Shell) Lookup(name string) *Command { return s.cmds[name] }

// ConnectString is the parsed server list.
func (s *Shell) ConnectString() ConnectString { return s.cs }

// Client returns the session, connecting first if needed. It never waits
// forever: it fails with a *ConnectError as soon as every server of the
// list refuses the connection, after ConnectWait(timeout) when no session
// was ever established, and after the session timeout when one was lost.
func (s *Shell) Client(ctx context.Context) (*Client, error) {
	if s.client == nil {
		c, err := Dial(ctx, s.cs, s.cfg.Timeout, s.logger)
		if err != nil {
			return nil, err
		}
		s.client = c
		return c, nil
	}
	// Before the first session (the interactive shell connects in the
	// background) a command waits as a one-shot Dial does; a session that
	// was lost may come back until the session timeout. Either way the
	// wait ends when every server has refused the connection meanwhile.
	wait := s.cfg.Timeout
	s.client.mu.Lock()
	if !s.client.hadSession {
		wait = ConnectWait(wait)
	}
	s.client.mu.Unlock()
	if err := s.waitConnected(ctx, wait); err != nil {
		var ce *ConnectError
		if errors.As(err, &ce) {
			return nil, &CommandError{Msg: ce.Error(), Err: err}
		}
		return nil, &CommandError{Msg: "KeeperErrorCode = ConnectionLoss: " + err.Error(), Err: err}
	}
	return s.client, nil
}

// waitHintAfter is how long an interactive command waits for a session
// before the shell says that it is waiting.
const waitHintAfter = time.Second

// waitConnected is the client's WaitConnected. In the interactive shell a
// wait longer than waitHintAfter is announced on Err: a lost quorum
// otherwise looks like a hung shell for up to the session timeout.
func (s *Shell) waitConnected(ctx context.Context, wait time.Duration) error {
	if !s.interactive {
		return s.client.WaitConnected(ctx, wait)
	}
	hinted := make(chan struct{})
	hint := time.AfterFunc(waitHintAfter, func() {
		defer close(hinted)
		fmt.Fprintf(s.cfg.Err, "Waiting up to %v for a session (Ctrl-C gives up)\n", wait)
	})
	err := s.client.WaitConnected(ctx, wait)
	if !hint.Stop() {
		<-hinted // the hint is printed before what the command prints
	}
	return err
}

// Connected returns the session if there is one, without connecting.
func (s *Shell) Connected() *Client { return s.client }

// Close closes the session, if any.
func (s *Shell) Close() {
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}

// Quit reports whether the quit command ran.
func (s *Shell) Quit() bool { return s.quit }

// Run runs one command line already split into words (args[0] is the
// command). Errors are *UsageError (exit 2) or command failures (exit 1).
func (s *Shell) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return nil
	}
	cmd := s.cmds[args[0]]
	if cmd == nil {
		return &UsageError{Msg: "Command not found: " + args[0]}
	}
	if WantsHelp(cmd, args[1:]) {
		WriteCommandHelp(s.cfg.Out, cmd)
		return nil
	}
	flags := append([]Flag{}, cmd.Flags...)
	if cmd.Output {
		flags = append(flags, outputFlags...)
	}
	opts, pos, err := ParseArgs(flags, args[1:])
	if err != nil {
		var u *UsageError
		if errors.As(err, &u) {
			u.Usage = cmd.Usage
		}
		return err
	}
	if len(pos) < cmd.MinArgs || (cmd.MaxArgs >= 0 && len(pos) > cmd.MaxArgs) {
		return &UsageError{Usage: cmd.Usage}
	}
	format := s.cfg.Format
	if cmd.Output {
		format = opts.Get("o", opts.Get("output", format))
		if !ValidFormat(format) {
			return &UsageError{Msg: "unknown output format " + format + " (want text, json or yaml)", Usage: cmd.Usage}
		}
	}
	inv := &Invocation{Shell: s, Cmd: cmd, Opts: opts, Args: pos, Format: format, Out: s.cfg.Out, Err: s.cfg.Err, Ctx: ctx}
	if cmd.NeedsConn {
		c, err := s.Client(ctx)
		if err != nil {
			return err
		}
		inv.C = c
	}
	return cmd.Run(inv)
}

// WantsHelp reports whether a command's arguments ask for its help: -h,
// -help or --help before any "--" (no command has such an option).
func WantsHelp(cmd *Command, args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// Invocation is one parsed command being run.
type Invocation struct {
	Shell  *Shell
	Cmd    *Command
	C      *Client
	Opts   Options
	Args   []string
	Format string
	Out    io.Writer
	Err    io.Writer
	Ctx    context.Context
}

// JSON reports whether machine-readable output was asked for.
func (inv *Invocation) JSON() bool { return inv.Format != FormatText }

// Value prints v in the requested machine format.
func (inv *Invocation) Value(v any) error { return writeValue(inv.Out, inv.Format, v) }

// Arg returns positional argument i or def.
func (inv *Invocation) Arg(i int, def string) string {
	if i < len(inv.Args) {
		return inv.Args[i]
	}
	return def
}

// Path returns positional argument i validated as a znode path.
func (inv *Invocation) Path(i int) (string, error) {
	p := inv.Arg(i, "")
	if err := ValidatePath(p); err != nil {
		return "", &CommandError{Msg: err.Error(), Err: err}
	}
	return p, nil
}

var outputFlags = []Flag{
	{Name: "o", Arg: "format", Help: "output format: text, json or yaml"},
	{Name: "output", Arg: "format", Long: true, Help: "output format: text, json or yaml"},
}
