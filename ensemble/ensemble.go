package ensemble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options are the settings every operation shares.
type Options struct {
	// Dir is the ensemble directory; "" means DefaultDir().
	Dir string
	// ServerBin is the zkserver executable; needed only by the operations
	// that start members (Up, Start, Restart).
	ServerBin string
	// Logger receives state changes (started, stopped); nil discards.
	Logger *slog.Logger
	// Free checks that a port can be listened on; nil means ListenCheck.
	Free PortChecker
	// QueryTimeout bounds one srvr query; 0 means 2s.
	QueryTimeout time.Duration
	// Grace is how long Stop and Down wait after SIGTERM before SIGKILL;
	// 0 means 10s.
	Grace time.Duration
}

// Ensemble is an ensemble directory opened by Up or Open. Its methods
// re-read the state file under the directory lock, so several `zk
// ensemble` commands may run at once. An Ensemble is not safe for
// concurrent use by several goroutines.
type Ensemble struct {
	dir   string
	opts  Options
	log   *slog.Logger
	spec  *Spec
	procs map[int]*proc // members this process started
	poll  time.Duration // status polling interval while waiting
}

func newEnsemble(o Options) (*Ensemble, error) {
	dir := o.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("ensemble dir %s: %w", dir, err)
	}
	if o.Free == nil {
		o.Free = ListenCheck
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 2 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Ensemble{dir: abs, opts: o, log: lg.With("dir", abs), procs: map[int]*proc{}, poll: 50 * time.Millisecond}, nil
}

// Open opens the existing ensemble in o.Dir; the error wraps ErrNoEnsemble
// when there is none.
func Open(o Options) (*Ensemble, error) {
	e, err := newEnsemble(o)
	if err != nil {
		return nil, err
	}
	if e.spec, err = readSpec(e.dir); err != nil {
		return nil, err
	}
	return e, nil
}

// Dir is the ensemble's directory (absolute).
func (e *Ensemble) Dir() string { return e.dir }

// Spec is the plan as last read or written by this Ensemble.
func (e *Ensemble) Spec() Spec { return *e.spec }

// ConflictError says that Up was asked for a shape the existing ensemble
// in the directory does not have.
type ConflictError struct {
	Dir  string
	Spec *Spec
	Diff []string
}

func (e *ConflictError) Error() string {
	s := e.Spec
	return fmt.Sprintf("%s already holds an ensemble of %d voting member(s) and %d observer(s) on client ports %d-%d (%s); use another --dir, or remove it first with zk ensemble down --purge",
		e.Dir, s.Voters, s.Observers, s.BasePort, s.BasePort+len(s.Members)-1, strings.Join(e.Diff, ", "))
}

// UpResult is what Up did.
type UpResult struct {
	Report *Report
	// AlreadyRunning: members of the ensemble were running, so Up started
	// nothing and only reports them.
	AlreadyRunning bool
	// Resumed: the directory held a stopped ensemble, which Up started
	// again on its data.
	Resumed bool
}

// Up starts an ensemble of the given shape in o.Dir and waits until every
// member serves and one leads (or ctx ends). An ensemble directory
// already in use is not planned again: when any of its members runs, Up
// only reports (AlreadyRunning); when all are stopped, Up starts them
// again with their data (Resumed). A shape field given (non-zero) that
// differs from the existing ensemble is a *ConflictError. A port in use
// is a *PortInUseError. When the members do not all serve in time, Up
// stops the ones it started and returns the last report with the error.
func Up(ctx context.Context, sh Shape, o Options) (*Ensemble, UpResult, error) {
	e, err := newEnsemble(o)
	if err != nil {
		return nil, UpResult{}, err
	}
	_, statErr := os.Stat(e.dir)
	fresh := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return nil, UpResult{}, fmt.Errorf("ensemble dir: %w", err)
	}
	unlock, err := lockDir(ctx, e.dir)
	if err != nil {
		return nil, UpResult{}, err
	}
	defer unlock()
	planned := false
	if fresh {
		// A directory Up created and never planned in is removed again.
		defer func() {
			if !planned {
				os.Remove(filepath.Join(e.dir, lockFile))
				os.Remove(e.dir)
			}
		}()
	}

	var res UpResult
	spec, err := readSpec(e.dir)
	switch {
	case errors.Is(err, ErrNoEnsemble):
		if o.ServerBin == "" {
			return nil, res, errors.New("up: no zkserver binary given")
		}
		if spec, err = Plan(sh, e.opts.Free); err != nil {
			return nil, res, err
		}
		spec.ServerBin = o.ServerBin
		for _, m := range spec.Members {
			if err := writeMemberFiles(e.dir, spec, m.ID); err != nil {
				return nil, res, err
			}
		}
		if err := writeSpec(e.dir, spec); err != nil {
			return nil, res, err
		}
		planned = true
		e.spec = spec
		e.log.Info("ensemble planned", "voters", spec.Voters, "observers", spec.Observers, "connect", spec.ConnectString())
	case err != nil:
		return nil, res, err
	default:
		e.spec = spec
		if diff := conflicts(sh, spec); len(diff) > 0 {
			return nil, res, &ConflictError{Dir: e.dir, Spec: spec, Diff: diff}
		}
		for _, m := range spec.Members {
			if alive(m.PID, e.dir, m.ID) {
				res.AlreadyRunning = true
			}
		}
		if res.AlreadyRunning {
			res.Report = e.Status(ctx)
			return e, res, nil
		}
		res.Resumed = true
		for _, m := range spec.Members {
			if _, err := os.Stat(ConfigPath(e.dir, m.ID)); err != nil {
				if err := writeMemberFiles(e.dir, spec, m.ID); err != nil {
					return nil, res, err
				}
			}
		}
	}
	if o.ServerBin == "" {
		return nil, res, errors.New("up: no zkserver binary given")
	}
	if err := spec.CheckPorts(spec.Members, e.opts.Free); err != nil {
		return nil, res, err
	}
	for i := range spec.Members {
		m := &spec.Members[i]
		p, err := spawn(o.ServerBin, e.dir, m.ID)
		if err != nil {
			e.abort(spec)
			return nil, res, err
		}
		e.procs[m.ID] = p
		m.PID = p.pid
		e.log.Info("server started", "id", m.ID, "pid", p.pid)
	}
	spec.ServerBin = o.ServerBin
	if err := writeSpec(e.dir, spec); err != nil {
		e.abort(spec)
		return nil, res, err
	}
	res.Report, err = e.WaitHealthy(ctx)
	if err != nil {
		e.abort(spec)
		return nil, res, err
	}
	return e, res, nil
}

// conflicts lists the fields given in sh that differ from spec.
func conflicts(sh Shape, spec *Spec) []string {
	var d []string
	if sh.Voters != 0 && sh.Voters != spec.Voters {
		d = append(d, fmt.Sprintf("-n %d", sh.Voters))
	}
	if sh.Observers != 0 && sh.Observers != spec.Observers {
		d = append(d, fmt.Sprintf("--observers %d", sh.Observers))
	}
	if sh.BasePort != 0 && sh.BasePort != spec.BasePort {
		d = append(d, fmt.Sprintf("--base-port %d", sh.BasePort))
	}
	if sh.Host != "" && sh.Host != spec.Host {
		d = append(d, "host "+sh.Host)
	}
	if sh.TickTime != 0 && int(sh.TickTime/time.Millisecond) != spec.TickTime {
		d = append(d, "tick time "+sh.TickTime.String())
	}
	if len(sh.Extra) > 0 && !slices.Equal(sh.Extra, spec.Extra) {
		d = append(d, "--set "+strings.Join(sh.Extra, " --set "))
	}
	if len(d) > 0 {
		d[0] = "asked for " + d[0]
	}
	return d
}

// abort kills the members this process started (a failed Up) and records
// them as stopped.
func (e *Ensemble) abort(spec *Spec) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range spec.Members {
		m := &spec.Members[i]
		if e.procs[m.ID] == nil {
			continue
		}
		wg.Go(func() {
			if _, err := e.terminate(ctx, *m, 0); err != nil {
				e.log.Warn("abort: server did not stop", "id", m.ID, "pid", m.PID, "err", err)
				return
			}
			m.PID = 0
		})
	}
	wg.Wait()
	if err := writeSpec(e.dir, spec); err != nil {
		e.log.Warn("abort: state not written", "err", err)
	}
}

// Status asks every running member for srvr.
func (e *Ensemble) Status(ctx context.Context) *Report {
	if s, err := readSpec(e.dir); err == nil {
		e.spec = s
	}
	return status(ctx, e.dir, e.spec, e.opts.QueryTimeout)
}

// WaitHealthy polls Status until the ensemble is healthy, a member this
// process started exits, or ctx ends; it returns the last report.
func (e *Ensemble) WaitHealthy(ctx context.Context) (*Report, error) {
	return e.wait(ctx, func(r *Report) (bool, error) { return r.Healthy, nil }, "every member to serve with one leader")
}

// noQuorumFor is how long WaitServing goes on while too few voting members
// run to make a quorum: a member cannot serve without one, and waiting
// out the whole --wait only delays saying so. (Not at once: a member
// another command is starting shows as stopped until its pid is recorded.)
const noQuorumFor = 2 * time.Second

// WaitServing polls until member id serves (see WaitHealthy). It gives up
// early, with an error saying which members to start, once fewer voting
// members than a quorum have run for noQuorumFor.
func (e *Ensemble) WaitServing(ctx context.Context, id int) (*Report, error) {
	var short time.Time // since when too few voters run
	return e.wait(ctx, func(r *Report) (bool, error) {
		if m, ok := r.Member(id); ok && m.Serving() {
			return true, nil
		}
		var voters, running int
		var stopped []string
		for _, m := range r.Members {
			if m.Observer {
				continue
			}
			voters++
			if m.Role == RoleStopped {
				stopped = append(stopped, strconv.Itoa(m.ID))
			} else {
				running++
			}
		}
		need := voters/2 + 1
		if running >= need {
			short = time.Time{}
			return false, nil
		}
		if short.IsZero() {
			short = time.Now()
			return false, nil
		}
		if time.Since(short) < noQuorumFor {
			return false, nil
		}
		return false, fmt.Errorf("server %d runs but cannot serve: %d of %d voting members run, a quorum needs %d; start another (stopped: %s), e.g. zk ensemble start %s",
			id, running, voters, need, strings.Join(stopped, ", "), stopped[0])
	}, fmt.Sprintf("server %d to serve", id))
}

// wait polls the ensemble's status until done reports true or an error, a
// member this process started (and has not stopped since) exits, or ctx
// ends.
func (e *Ensemble) wait(ctx context.Context, done func(*Report) (bool, error), what string) (*Report, error) {
	tick := time.NewTicker(e.poll)
	defer tick.Stop()
	for {
		r := status(ctx, e.dir, e.spec, e.opts.QueryTimeout)
		if ok, err := done(r); ok || err != nil {
			return r, err
		}
		for id, p := range e.procs {
			if m, ok := e.spec.Member(id); !ok || m.PID != p.pid {
				continue // stopped since, on purpose
			}
			select {
			case err := <-p.done:
				p.done <- err // keep it for later callers
				return r, e.exitError(id, err)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return r, e.waitError(r, what, ctx.Err())
		case <-tick.C:
		}
	}
}

// exitError describes a member that exited while we waited for it.
func (e *Ensemble) exitError(id int, err error) error {
	how := "exited"
	if err != nil {
		how = err.Error()
	}
	msg := fmt.Sprintf("server %d %s", id, how)
	if l := lastLogLine(e.dir, id); l != "" {
		msg += ": " + l
	}
	return fmt.Errorf("%s (log %s)", msg, LogPath(e.dir, id))
}

func (e *Ensemble) waitError(r *Report, what string, cause error) error {
	how := "timed out"
	if errors.Is(cause, context.Canceled) {
		how = "interrupted"
	}
	msg := fmt.Sprintf("%s waiting for %s: %s", how, what, r.Summary())
	for _, m := range r.Members {
		if m.Serving() {
			continue
		}
		// The last log line only when it says something went wrong.
		if l := lastLogLine(e.dir, m.ID); strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") || strings.HasPrefix(l, "zkserver:") {
			msg += fmt.Sprintf("; server %d: %s", m.ID, l)
		}
	}
	return fmt.Errorf("%s; logs in %s: %w", msg, filepath.Join(e.dir, "server*", "zkserver.log"), cause)
}

// member returns the current record of member id, or an error naming the
// valid ids.
func (e *Ensemble) member(id int) (Member, error) {
	m, ok := e.spec.Member(id)
	if !ok {
		return Member{}, fmt.Errorf("no server %d in the ensemble (ids 1-%d)", id, len(e.spec.Members))
	}
	return *m, nil
}

// update re-reads the state under the lock, applies fn and writes it back.
func (e *Ensemble) update(ctx context.Context, fn func(s *Spec) error) error {
	unlock, err := lockDir(ctx, e.dir)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := readSpec(e.dir)
	if err != nil {
		return err
	}
	e.spec = s
	if err := fn(s); err != nil {
		return err
	}
	return writeSpec(e.dir, s)
}

// ErrNotRunning is returned by Kill for a member that is not running.
var ErrNotRunning = errors.New("not running")

// Start starts member id when it is stopped and waits until it serves
// (it has joined the quorum and synchronised with the leader). It returns
// the member's status and whether it was already running (then nothing
// is done).
func (e *Ensemble) Start(ctx context.Context, id int) (MemberStatus, bool, error) {
	if e.opts.ServerBin == "" {
		return MemberStatus{}, false, errors.New("start: no zkserver binary given")
	}
	running := false
	err := e.update(ctx, func(s *Spec) error {
		m, err := e.member(id)
		if err != nil {
			return err
		}
		if alive(m.PID, e.dir, id) {
			running = true
			return nil
		}
		if err := e.portsFree(ctx, s, m); err != nil {
			return err
		}
		p, err := spawn(e.opts.ServerBin, e.dir, id)
		if err != nil {
			return err
		}
		e.procs[id] = p
		sm, _ := s.Member(id)
		sm.PID = p.pid
		e.log.Info("server started", "id", id, "pid", p.pid)
		return nil
	})
	if err != nil {
		return MemberStatus{}, false, err
	}
	r, err := e.WaitServing(ctx, id)
	ms, _ := r.Member(id)
	if err != nil {
		return ms, running, err
	}
	return ms, running, nil
}

// portsFree checks member m's ports, allowing up to portSettle for the
// ports of a member that has just exited to be released by the kernel.
func (e *Ensemble) portsFree(ctx context.Context, s *Spec, m Member) error {
	ctx, cancel := context.WithTimeout(ctx, portSettle)
	defer cancel()
	tick := time.NewTicker(e.poll)
	defer tick.Stop()
	for {
		err := s.CheckPorts([]Member{m}, e.opts.Free)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// portSettle is how long Start waits for a just-stopped member's ports.
const portSettle = 3 * time.Second

// Stop stops member id gracefully: SIGTERM, then SIGKILL when it has not
// exited after the grace period. It returns the pid it stopped, 0 when
// the member was not running (not an error).
func (e *Ensemble) Stop(ctx context.Context, id int) (int, error) {
	return e.halt(ctx, id, e.opts.Grace, false)
}

// Kill kills member id with SIGKILL, as a crash, and waits until it is
// gone. A member that is not running is an error wrapping ErrNotRunning.
func (e *Ensemble) Kill(ctx context.Context, id int) (int, error) {
	return e.halt(ctx, id, 0, true)
}

func (e *Ensemble) halt(ctx context.Context, id int, grace time.Duration, mustRun bool) (int, error) {
	pid := 0
	err := e.update(ctx, func(s *Spec) error {
		m, err := e.member(id)
		if err != nil {
			return err
		}
		if !alive(m.PID, e.dir, id) {
			if mustRun {
				return fmt.Errorf("server %d is %w", id, ErrNotRunning)
			}
		} else {
			pid = m.PID
			if _, err := e.terminate(ctx, m, grace); err != nil {
				return err
			}
		}
		sm, _ := s.Member(id)
		sm.PID = 0
		return nil
	})
	return pid, err
}

// Restart stops member id gracefully (if it runs) and starts it again.
func (e *Ensemble) Restart(ctx context.Context, id int) (MemberStatus, error) {
	if e.opts.ServerBin == "" {
		return MemberStatus{}, errors.New("restart: no zkserver binary given")
	}
	if _, err := e.Stop(ctx, id); err != nil {
		return MemberStatus{}, err
	}
	ms, _, err := e.Start(ctx, id)
	return ms, err
}

// Down stops every member (SIGTERM, then SIGKILL after the grace period),
// all at once. With purge it then removes what the ensemble wrote in the
// directory (configs, data, logs, state). It returns the ids it stopped.
func (e *Ensemble) Down(ctx context.Context, purgeFiles bool) ([]int, error) {
	var stopped []int
	err := e.update(ctx, func(s *Spec) error {
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			errs []error
		)
		for i := range s.Members {
			m := &s.Members[i]
			if !alive(m.PID, e.dir, m.ID) {
				m.PID = 0
				continue
			}
			wg.Go(func() {
				_, err := e.terminate(ctx, *m, e.opts.Grace)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				stopped = append(stopped, m.ID)
				m.PID = 0
			})
		}
		wg.Wait()
		slices.Sort(stopped)
		return errors.Join(errs...)
	})
	if err != nil {
		return stopped, err
	}
	if purgeFiles {
		return stopped, purge(e.dir, e.spec)
	}
	return stopped, nil
}

// terminate stops a running member: SIGTERM and up to grace for it to
// exit (grace 0: straight to SIGKILL), then SIGKILL and up to 10s more.
// It reports whether the first signal was enough.
func (e *Ensemble) terminate(ctx context.Context, m Member, grace time.Duration) (bool, error) {
	if grace > 0 {
		if err := sendSignal(m.PID, sigTerm); err != nil {
			return false, fmt.Errorf("stop server %d: %w", m.ID, err)
		}
		if e.waitGone(ctx, m, grace) {
			e.log.Info("server stopped", "id", m.ID, "pid", m.PID, "signal", "SIGTERM")
			return true, nil
		}
		e.log.Warn("server ignored SIGTERM, killing it", "id", m.ID, "pid", m.PID, "grace", grace)
	}
	if err := sendSignal(m.PID, sigKill); err != nil {
		return false, fmt.Errorf("kill server %d: %w", m.ID, err)
	}
	if e.waitGone(ctx, m, 10*time.Second) {
		e.log.Info("server stopped", "id", m.ID, "pid", m.PID, "signal", "SIGKILL")
		return grace == 0, nil
	}
	return false, fmt.Errorf("server %d (pid %d) is still running after SIGKILL", m.ID, m.PID)
}

// waitGone polls until member m's process is gone, for at most d.
func (e *Ensemble) waitGone(ctx context.Context, m Member, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	p := e.procs[m.ID]
	for {
		if p != nil && p.pid == m.PID {
			select {
			case err := <-p.done:
				p.done <- err
				return true
			default:
			}
		} else if !alive(m.PID, e.dir, m.ID) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
