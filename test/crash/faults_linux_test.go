//go:build linux

package crash

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// watchDir calls fire(name) from a goroutine of its own for every inotify
// event of mask on a file of dir that match accepts, until the returned
// stop is called.
func watchDir(dir string, mask uint32, match func(name string) bool, fire func(name string)) (stop func(), err error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: Close ends a Read
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				l := int(binary.NativeEndian.Uint32(buf[off+12:]))
				name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+l]), "\x00")
				if match(name) {
					fire(name)
				}
				off += syscall.SizeofInotifyEvent + l
			}
		}
	}()
	return func() { f.Close(); <-done }, nil
}

const (
	ballastNodes = 1000 // 1 KB each: snapshots of ~1 MB take a while to write
	ballastBatch = 50
)

// writeBallast creates /ballast/b<i> in multis, so every snapshot is big.
func writeBallast(addr string) error {
	c, err := connect(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/ballast", nil, 0, acl); err != nil {
		return fmt.Errorf("create /ballast: %w", err)
	}
	data := []byte(strings.Repeat("b", 1024))
	for i := 0; i < ballastNodes; i += ballastBatch {
		var ops []any
		for j := i; j < i+ballastBatch; j++ {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("/ballast/b%d", j), Data: data, Acl: acl})
		}
		if _, err := c.Multi(ops...); err != nil {
			return fmt.Errorf("ballast multi at %d: %w", i, err)
		}
	}
	return nil
}

func checkBallast(addr string) error {
	c, err := connect(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, st, err := c.Get("/ballast")
	if err != nil {
		return fmt.Errorf("get /ballast: %w", err)
	}
	if st.NumChildren != ballastNodes {
		return fmt.Errorf("LOST: /ballast has %d children, %d were acknowledged", st.NumChildren, ballastNodes)
	}
	return nil
}

// TestKill9DuringSnapshotAndPurge kills zkserver while it writes a
// snapshot and while it purges old snapshots and log entries: snapCount=20
// (a snapshot of ~1 MB every 11–20 txns), autopurge every 20 ms keeping 3
// snapshots (autopurge.purgeIntervalMs, a zkgo extension). Rounds cycle
// through three aims: the moment a snapshot's temporary file appears, the
// moment the purge deletes an old snapshot, and a random number of
// acknowledged writes. After every kill the server must start and hold
// every acknowledged write. ZKGO_CRASH_ROUNDS sets the number of rounds.
func TestKill9DuringSnapshotAndPurge(t *testing.T) {
	track(t)
	rounds := crashRounds(t, 6)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*20*time.Second+time.Minute)
	defer cancel()
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}
	bin := buildServer(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	snapDir := filepath.Join(dataDir, "version-2")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (rounds %d)", seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0xfa17))
	m := newModel()
	cfg := func(forceSync bool) string {
		sync := "yes"
		if !forceSync {
			sync = "no"
		}
		return "snapCount=20\nautopurge.snapRetainCount=3\nautopurge.purgeIntervalMs=20\nforceSync=" + sync + "\n"
	}

	var midSnapshot, duringPurge, random int
	for round := 1; round <= rounds; round++ {
		if ctx.Err() != nil {
			t.Fatalf("out of time after %d rounds", round-1)
		}
		forceSync := round%4 != 0
		srv := startServerCfg(t, bin, work, dataDir, round, cfg(forceSync))
		if err := srv.waitReady(ctx); err != nil {
			srv.kill()
			srv.waitKilled(t)
			t.Fatalf("round %d: server did not start after the kill: %v\n%s", round, err, srv.logTail())
		}
		if round == 1 {
			if err := writeBallast(srv.addr); err != nil {
				t.Fatalf("%v\n%s", err, srv.logTail())
			}
		} else if err := checkBallast(srv.addr); err != nil {
			srv.kill()
			srv.waitKilled(t)
			t.Fatalf("round %d: after restart: %v\n%s", round, err, srv.logTail())
		}
		if err := m.verify(srv.addr); err != nil {
			srv.kill()
			srv.waitKilled(t)
			t.Fatalf("round %d: after restart: %v\n%s", round, err, srv.logTail())
		}

		aim := []string{"snapshot", "purge", "random"}[(round-1)%3]
		var (
			mu    sync.Mutex
			fired string
		)
		var arm func(kill func()) func()
		switch aim {
		case "snapshot":
			arm = func(kill func()) func() {
				stop, err := watchDir(snapDir, syscall.IN_CREATE, func(n string) bool {
					return strings.HasPrefix(n, ".snapshot.") && strings.HasSuffix(n, ".tmp")
				}, func(n string) {
					kill()
					mu.Lock()
					if fired == "" {
						fired = n
					}
					mu.Unlock()
				})
				if err != nil {
					t.Errorf("round %d: %v", round, err)
					return func() {}
				}
				return stop
			}
		case "purge":
			arm = func(kill func()) func() {
				stop, err := watchDir(snapDir, syscall.IN_DELETE, func(n string) bool {
					return strings.HasPrefix(n, "snapshot.")
				}, func(n string) {
					kill()
					mu.Lock()
					if fired == "" {
						fired = n
					}
					mu.Unlock()
				})
				if err != nil {
					t.Errorf("round %d: %v", round, err)
					return func() {}
				}
				return stop
			}
		}
		killAfter := 10 + rng.IntN(300)
		if arm != nil {
			killAfter = 3000 // only if the event never comes
		}
		acked, err := m.loadWith(ctx, srv, killAfter, rng.Uint64(), arm)
		srv.waitKilled(t)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, srv.logTail())
		}
		mu.Lock()
		what := fired
		mu.Unlock()
		switch {
		case aim == "random":
			random++
			what = fmt.Sprintf("after %d acknowledged writes", acked)
		case what == "":
			what = fmt.Sprintf("after %d acknowledged writes (no %s event came)", acked, aim)
		case aim == "snapshot":
			if _, err := os.Stat(filepath.Join(snapDir, what)); err == nil {
				midSnapshot++
				what = "while writing " + what + " (left unfinished)"
			} else {
				what = "as " + what + " appeared (it was finished first)"
			}
		case aim == "purge":
			duringPurge++
			what = "as the purge deleted " + what
		}
		t.Logf("round %d: SIGKILL %s; %d writes acknowledged (forceSync=%v)", round, what, acked, forceSync)
	}

	srv := startServerCfg(t, bin, work, dataDir, rounds+1, cfg(true))
	if err := srv.waitReady(ctx); err != nil {
		srv.kill()
		srv.waitKilled(t)
		t.Fatalf("final start: %v\n%s", err, srv.logTail())
	}
	if err := checkBallast(srv.addr); err != nil {
		t.Fatalf("final check: %v\n%s", err, srv.logTail())
	}
	if err := m.verify(srv.addr); err != nil {
		t.Fatalf("final check: %v\n%s", err, srv.logTail())
	}
	if err := srv.stop(10 * time.Second); err != nil {
		t.Errorf("clean shutdown: %v\n%s", err, srv.logTail())
	}
	t.Logf("%d rounds: %d kills left a snapshot unfinished, %d landed in a purge, %d at random; %d acknowledged writes, all there",
		rounds, midSnapshot, duringPurge, random, m.total)
}
