//go:build unix

package ensemble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// proc is a zkserver this process started; done receives cmd.Wait's
// result once (the wait also reaps it, so it never lingers as a zombie
// while we run).
type proc struct {
	pid  int
	done chan error
}

// spawn starts `bin start-foreground DIR/serverN/zoo.cfg` in its own
// session with stdout and stderr appended to the member's log.
func spawn(bin, dir string, id int) (*proc, error) {
	logf, err := os.OpenFile(LogPath(dir, id), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start server %d: %w", id, err)
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== zk ensemble: starting server %d at %s: %s start-foreground %s\n",
		id, time.Now().UTC().Format(time.RFC3339), bin, ConfigPath(dir, id))
	cmd := exec.Command(bin, "start-foreground", ConfigPath(dir, id))
	cmd.Dir = MemberDir(dir, id)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server %d: %w", id, err)
	}
	p := &proc{pid: cmd.Process.Pid, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// hasProcfs is whether /proc describes processes here (Linux).
var hasProcfs = func() bool {
	_, err := os.Stat("/proc/self/cmdline")
	return err == nil
}()

// alive reports whether pid is a live (not zombie) process running member
// id of the ensemble in dir. Without /proc only the first part is checked.
func alive(pid int, dir string, id int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if !hasProcfs {
		return true
	}
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(proc, "stat"))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'. A zombie is
	// dead, unless it is a thread-group leader whose other threads are
	// still exiting (the state shown is the leader thread's): until the
	// last thread is gone the process still holds its sockets.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	if st := stat[i+2]; st == 'Z' || st == 'X' {
		tasks, err := os.ReadDir(filepath.Join(proc, "task"))
		return err == nil && len(tasks) > 1
	}
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		return false
	}
	if len(cmdline) == 0 {
		// A process that is exiting has released its memory, and with it
		// its command line, before it closes its files: it still holds
		// its sockets until it is a zombie.
		return true
	}
	cfg := ConfigPath(dir, id)
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		if string(arg) == cfg {
			return true
		}
	}
	return false
}

// sendSignal sends sig to pid; a process that is already gone is not an error.
func sendSignal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	return nil
}

// Signals used by stop and kill.
const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// lockDir takes an exclusive flock on dir/.lock, waiting (polling) for
// other zk ensemble commands on the same directory until ctx ends; the
// returned func releases it.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another zk ensemble command holds it: %w", dir, ctx.Err())
		case <-tick.C:
		}
	}
}
