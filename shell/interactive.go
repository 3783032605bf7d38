package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	prompt "github.com/c-bata/go-prompt"
	"github.com/fatih/color"
	"golang.org/x/term"
)

// historyFile is where the shell keeps its history across sessions.
const historyFile = ".zk_history"

// historyKeep is how many lines of ~/.zk_history are kept.
const historyKeep = 1000

// eventKey is what our input parser hands go-prompt when watch events are
// waiting: a sequence no terminal sends, bound to a function that prints
// the events between two renders of the prompt.
var eventKey = []byte("\x1b]zkgo-event\x07")

// Prompt is the zkCli.sh prompt: "[zk: 127.0.0.1:2181(CONNECTED) 3] ".
func (s *Shell) Prompt() string {
	state := "CLOSED"
	if s.client != nil {
		state = StateName(s.client.State())
	}
	return fmt.Sprintf("[zk: %s(%s) %d] ", s.cs.String(), state, len(s.history))
}

// runLine runs one line typed in the shell, reporting errors as zkCli.sh
// does (the sentence on stderr), under a context that Ctrl-C cancels.
func (s *Shell) runLine(ctx context.Context, line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	s.history = append(s.history, line)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	err := s.Run(ctx, SplitLine(line))
	if err == nil {
		return
	}
	var u *UsageError
	if errors.As(err, &u) && strings.HasPrefix(u.Msg, "Command not found") {
		// As zkCli.sh: the command list, then the complaint.
		s.WriteUsage(s.cfg.Err)
	}
	// Red on a terminal; fatih/color turns itself off when stdout is not
	// a terminal or NO_COLOR is set.
	_, _ = errColor.Fprintln(s.cfg.Err, err.Error())
}

var errColor = color.New(color.FgRed)

// startSession opens the session without waiting for it, as zkCli.sh does
// in interactive mode (the prompt shows CONNECTING until it is up).
func (s *Shell) startSession() {
	if s.client != nil {
		return
	}
	c, err := DialAsync(s.cs, s.cfg.Timeout, s.logger)
	if err != nil {
		fmt.Fprintln(s.cfg.Err, err)
		return
	}
	s.client = c
}

// printEvents writes queued watch and session events as zkCli.sh does: a
// blank line, WATCHER::, a blank line, the WatchedEvent. nl is the line
// ending ("\r\n" while the terminal is raw).
func (s *Shell) printEvents(w io.Writer, nl string) {
	if s.client == nil {
		return
	}
	for _, ev := range s.client.Events() {
		if !s.printWatches {
			continue
		}
		fmt.Fprint(w, nl+"WATCHER::"+nl+nl+WatchedEventString(ev)+nl)
	}
}

func (s *Shell) hasEvents() bool {
	if s.client == nil {
		return false
	}
	s.client.mu.Lock()
	defer s.client.mu.Unlock()
	return len(s.client.events) > 0
}

// Interactive runs the shell until quit, Ctrl-D or end of input. With a
// terminal on stdin it uses go-prompt (completion, history, live prompt);
// otherwise it reads lines from In, as zkCli.sh does with a pipe.
func (s *Shell) Interactive(ctx context.Context) error {
	fmt.Fprintln(s.cfg.Out, "Connecting to "+s.cs.String())
	s.interactive = true
	s.startSession()
	if f, ok := s.cfg.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) && s.cfg.Out == os.Stdout {
		return s.promptLoop(ctx, int(f.Fd()))
	}
	return s.lineLoop(ctx)
}

func (s *Shell) lineLoop(ctx context.Context) error {
	sc := bufio.NewScanner(s.cfg.In)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for !s.quit && sc.Scan() {
		s.printEvents(s.cfg.Out, "\n")
		s.runLine(ctx, sc.Text())
	}
	s.printEvents(s.cfg.Out, "\n")
	s.Close()
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("read input: a line is longer than 4 MiB: %w", err)
		}
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

// ttyParser is go-prompt's POSIX input parser with two fixes: TearDown
// restores the terminal state saved before go-prompt touched it (go-prompt
// 0.2.6 can leave the terminal raw), and Read reports pending watch events
// as eventKey so they are printed from go-prompt's own loop.
type ttyParser struct {
	*prompt.PosixParser
	fd      int
	saved   *term.State
	shell   *Shell
	pending [][]byte // keys split from one read, not yet handed out
}

func (p *ttyParser) TearDown() error {
	err := p.PosixParser.TearDown()
	if rerr := term.Restore(p.fd, p.saved); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// Read hands go-prompt one key at a time. go-prompt takes each read as a
// single key, so input typed ahead while a command ran (and the terminal
// was cooked) arrives as "ls /a\n" and would be inserted as text; we split
// such reads into runs of text and single control keys.
func (p *ttyParser) Read() ([]byte, error) {
	if p.shell.hasEvents() {
		return eventKey, nil
	}
	if len(p.pending) == 0 {
		b, err := p.PosixParser.Read()
		if err != nil || len(b) == 0 {
			return b, err
		}
		p.pending = splitKeys(b)
	}
	k := p.pending[0]
	p.pending = p.pending[1:]
	return k, nil
}

// splitKeys splits a read into keys: an escape sequence stays whole (it is
// one key), every other control byte is a key of its own, and runs of
// printable bytes are one key (inserted as text).
func splitKeys(b []byte) [][]byte {
	if b[0] == 0x1b {
		return [][]byte{b}
	}
	var keys [][]byte
	start := 0
	for i, c := range b {
		if c == 0x1b {
			if start < i {
				keys = append(keys, b[start:i])
			}
			return append(keys, b[i:])
		}
		if c < 0x20 || c == 0x7f {
			if start < i {
				keys = append(keys, b[start:i])
			}
			keys = append(keys, b[i:i+1])
			start = i + 1
		}
	}
	if start < len(b) {
		keys = append(keys, b[start:])
	}
	return keys
}

func (s *Shell) promptLoop(ctx context.Context, fd int) error {
	saved, err := term.GetState(fd)
	if err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer func() { _ = term.Restore(fd, saved) }()
	parser := &ttyParser{PosixParser: prompt.NewStandardInputParser(), fd: fd, saved: saved, shell: s}

	hist := loadHistory()
	var histMu sync.Mutex
	p := prompt.New(
		func(line string) {
			s.printEvents(os.Stdout, "\n")
			if strings.TrimSpace(line) != "" {
				histMu.Lock()
				appendHistory(line)
				histMu.Unlock()
			}
			s.runLine(ctx, line)
			s.printEvents(os.Stdout, "\n")
			// go-prompt draws the next prompt before it makes the terminal
			// raw again; keys typed in that window would be cooked (Ctrl-C
			// a SIGINT, a line echoed). Go raw now; go-prompt's own Setup
			// after us is then a no-op.
			_ = parser.PosixParser.Setup()
		},
		func(d prompt.Document) []prompt.Suggest {
			var out []prompt.Suggest
			for _, sg := range s.Complete(d.TextBeforeCursor()) {
				out = append(out, prompt.Suggest{Text: sg.Text, Description: sg.Description})
			}
			return out
		},
		prompt.OptionParser(parser),
		prompt.OptionLivePrefix(func() (string, bool) { return s.Prompt(), true }),
		prompt.OptionPrefixTextColor(prompt.DefaultColor),
		prompt.OptionHistory(hist),
		prompt.OptionTitle("zk"),
		prompt.OptionAddASCIICodeBind(prompt.ASCIICodeBind{ASCIICode: eventKey, Fn: func(*prompt.Buffer) {
			// Clear the prompt line and what go-prompt drew below it,
			// print the events, and let go-prompt redraw the line.
			fmt.Fprint(os.Stdout, "\r\x1b[J")
			s.printEvents(os.Stdout, "\r\n")
		}}),
		prompt.OptionSetExitCheckerOnInput(func(in string, breakline bool) bool {
			return breakline && s.quit
		}),
	)
	p.Run()
	s.Close()
	return nil
}

func historyPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, historyFile)
}

func loadHistory() []string {
	p := historyPath()
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > historyKeep {
		lines = lines[len(lines)-historyKeep:]
	}
	return lines
}

// appendHistory adds a line to ~/.zk_history; failures only cost history.
func appendHistory(line string) {
	p := historyPath()
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, strings.ReplaceAll(line, "\n", " "))
}
