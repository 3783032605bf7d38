package zabtest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/zab"
)

// Options configure a Cluster.
type Options struct {
	Voters    int // default 3
	Observers int
	TickTime  time.Duration // default 50 ms
	InitLimit int           // default 10
	SyncLimit int           // default 5
	// MaxDiffEntries is passed to every member (0: zab's default).
	MaxDiffEntries int
	// ObserverMasters has followers serve observers (observerMasterPort;
	// the network gives each member a port of its own).
	ObserverMasters bool
	// ForceSync makes every log append fsync (zoo.cfg forceSync=yes);
	// tests leave it off.
	ForceSync bool
	Seed      uint64
	// Logger receives every member's log (default: discarded unless
	// ZABTEST_LOG is set... tests pass their own).
	Logger *slog.Logger
}

// Cluster is an in-process ensemble. Members keep their data directory
// across Stop/Start, like a process that crashes and restarts.
type Cluster struct {
	t       testing.TB
	opts    Options
	Net     *Network
	Servers []config.Server
	IDs     []int64
	dirs    map[int64]string

	mu            sync.Mutex
	members       map[int64]*Member
	joinerServers map[int64][]config.Server // AddJoiner's members' configurations
}

// Member is one running member.
type Member struct {
	ID     int64
	Peer   *zab.Peer
	FSM    *FSM
	Store  *storage.Store
	cancel context.CancelFunc
	done   chan error
}

// NewCluster prepares (but does not start) an ensemble; t.Cleanup stops
// whatever is still running.
func NewCluster(t testing.TB, opts Options) *Cluster {
	if opts.Voters == 0 {
		opts.Voters = 3
	}
	if opts.TickTime == 0 {
		opts.TickTime = 50 * time.Millisecond
	}
	if opts.InitLimit == 0 {
		opts.InitLimit = 10
	}
	if opts.SyncLimit == 0 {
		opts.SyncLimit = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{t: t, opts: opts, Net: NewNetwork(opts.Seed), dirs: make(map[int64]string), members: make(map[int64]*Member)}
	base := t.TempDir()
	for i := 1; i <= opts.Voters+opts.Observers; i++ {
		id := int64(i)
		c.IDs = append(c.IDs, id)
		c.Servers = append(c.Servers, config.Server{ID: id, Host: "127.0.0.1", Observer: i > opts.Voters})
		c.dirs[id] = filepath.Join(base, "server"+strconv.Itoa(i))
	}
	t.Cleanup(c.StopAll)
	return c
}

// StartAll starts every member.
func (c *Cluster) StartAll() {
	for _, id := range c.IDs {
		c.Start(id)
	}
}

// AddJoiner prepares member id, which is not in the ensemble's
// membership, and starts it configured with the current members plus
// itself (as a joiner is started before the reconfig that adds it).
func (c *Cluster) AddJoiner(id int64) *Member {
	c.t.Helper()
	c.mu.Lock()
	if _, ok := c.dirs[id]; ok {
		c.mu.Unlock()
		c.t.Fatalf("member %d exists", id)
	}
	c.dirs[id] = filepath.Join(c.t.TempDir(), "server"+strconv.FormatInt(id, 10))
	c.IDs = append(c.IDs, id)
	if c.joinerServers == nil {
		c.joinerServers = make(map[int64][]config.Server)
	}
	c.joinerServers[id] = append(slices.Clone(c.Servers), config.Server{ID: id, Host: "127.0.0.1"})
	c.mu.Unlock()
	return c.Start(id)
}

// Start starts (or restarts) member id on its data directory.
func (c *Cluster) Start(id int64) *Member {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.members[id]; m != nil {
		return m
	}
	servers := c.Servers
	if js, ok := c.joinerServers[id]; ok {
		servers = js
	}
	st, err := storage.Open(c.dirs[id], "", storage.Options{ForceSync: c.opts.ForceSync})
	if err != nil {
		c.t.Fatalf("open storage of %d: %v", id, err)
	}
	fsm := NewFSM()
	p, err := zab.New(zab.Config{
		MyID: id, Servers: servers,
		TickTime: c.opts.TickTime, InitLimit: c.opts.InitLimit, SyncLimit: c.opts.SyncLimit,
		Store: st, SM: fsm, Logger: c.opts.Logger.With("member", id),
		Transport:               c.Net.Transport(id),
		FinalizeWait:            c.opts.TickTime / 2,
		MaxNotificationInterval: 8 * c.opts.TickTime,
		MaxDiffEntries:          c.opts.MaxDiffEntries,
		ObserverMasterPort:      observerMasterPort(c.opts.ObserverMasters),
	})
	if err != nil {
		_ = st.Close()
		c.t.Fatalf("new peer %d: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Member{ID: id, Peer: p, FSM: fsm, Store: st, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- p.Run(ctx) }()
	c.members[id] = m
	return m
}

// Stop crashes member id: its goroutines stop, its disk stays.
func (c *Cluster) Stop(id int64) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[id]
	delete(c.members, id)
	c.mu.Unlock()
	if m == nil {
		return
	}
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			c.t.Errorf("member %d: Run: %v", id, err)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatalf("member %d did not stop within 30s", id)
	}
	if err := m.Store.Close(); err != nil {
		c.t.Errorf("member %d: close storage: %v", id, err)
	}
}

// StopAll stops every running member.
func (c *Cluster) StopAll() {
	for _, id := range c.Running() {
		c.Stop(id)
	}
}

// Running lists the running members.
func (c *Cluster) Running() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []int64
	for _, id := range c.IDs {
		if c.members[id] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// Member returns running member id, or nil.
func (c *Cluster) Member(id int64) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[id]
}

// WaitFor polls cond until it returns nil or timeout passes.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	interval := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if os.Getenv("ZABTEST_STACKS") != "" {
				buf := make([]byte, 1<<22)
				c.t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			}
			c.t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		t := time.NewTimer(interval)
		<-t.C
		interval = min(interval*2, 20*time.Millisecond)
	}
}

// LeaderAmong returns the member of ids that serves as leader when every
// one of ids serves and agrees on it.
func (c *Cluster) LeaderAmong(ids []int64) (int64, error) {
	var leader int64
	for _, id := range ids {
		m := c.Member(id)
		if m == nil {
			return 0, fmt.Errorf("member %d is not running", id)
		}
		st := m.Peer.Status()
		if !st.Serving {
			return 0, fmt.Errorf("member %d is %s, not serving", id, st.PeerState)
		}
		if leader == 0 {
			leader = st.Leader
		} else if st.Leader != leader {
			return 0, fmt.Errorf("member %d follows %d, another follows %d", id, st.Leader, leader)
		}
	}
	if !slices.Contains(ids, leader) {
		return 0, fmt.Errorf("members follow %d, not one of %v", leader, ids)
	}
	if lm := c.Member(leader); lm == nil || lm.Peer.State() != zab.Leading {
		return 0, fmt.Errorf("leader %d is not leading", leader)
	}
	return leader, nil
}

// WaitLeader waits until every member of ids serves under one leader.
func (c *Cluster) WaitLeader(ids []int64) int64 {
	c.t.Helper()
	var leader int64
	c.WaitFor(30*time.Second, fmt.Sprintf("a leader among %v", ids), func() error {
		var err error
		leader, err = c.LeaderAmong(ids)
		if err != nil {
			err = fmt.Errorf("%w (%s)", err, c.states())
		}
		return err
	})
	return leader
}

// states describes every running member's state, for failure messages.
func (c *Cluster) states() string {
	var parts []string
	for _, id := range c.Running() {
		if m := c.Member(id); m != nil {
			st := m.Peer.Status()
			parts = append(parts, fmt.Sprintf("%d: %s, leader %d, serving %v", id, st.PeerState, st.Leader, st.Serving))
		}
	}
	return strings.Join(parts, "; ")
}

// Propose proposes data on member id and returns the zxid.
func (c *Cluster) Propose(id int64, data []byte) (int64, error) {
	m := c.Member(id)
	if m == nil {
		return 0, fmt.Errorf("member %d is not running", id)
	}
	return m.Peer.Propose(data)
}

// MustCommit proposes n entries on the leader (prefix-i) and waits until
// the leader applied them; it records them in acked (zxid → data).
func (c *Cluster) MustCommit(leader int64, prefix string, n int, acked map[int64]string) int64 {
	c.t.Helper()
	var last int64
	for i := range n {
		d := fmt.Sprintf("%s-%d", prefix, i)
		z, err := c.Propose(leader, []byte(d))
		if err != nil {
			c.t.Fatalf("propose on %d: %v", leader, err)
		}
		if acked != nil {
			acked[z] = d
		}
		last = z
	}
	c.WaitApplied([]int64{leader}, last)
	return last
}

// WaitApplied waits until every member of ids has applied zxid.
func (c *Cluster) WaitApplied(ids []int64, zxid int64) {
	c.t.Helper()
	c.WaitFor(30*time.Second, fmt.Sprintf("0x%x applied on %v", zxid, ids), func() error {
		for _, id := range ids {
			m := c.Member(id)
			if m == nil {
				return fmt.Errorf("member %d is not running", id)
			}
			if a := m.FSM.LastApplied(); a < zxid {
				return fmt.Errorf("member %d applied 0x%x", id, a)
			}
		}
		return nil
	})
}

// WaitConverged waits until the members of ids have applied exactly the
// same entries, then checks each applied them in order.
func (c *Cluster) WaitConverged(ids []int64) []Entry {
	c.t.Helper()
	var ref []storage.Entry
	c.WaitFor(30*time.Second, fmt.Sprintf("%v to apply the same entries", ids), func() error {
		ref = nil
		for i, id := range ids {
			m := c.Member(id)
			if m == nil {
				return fmt.Errorf("member %d is not running", id)
			}
			es := m.FSM.Entries()
			if i == 0 {
				ref = es
				continue
			}
			if err := sameEntries(ref, es); err != nil {
				return fmt.Errorf("member %d vs %d: %w", id, ids[0], err)
			}
		}
		return nil
	})
	for _, id := range ids {
		if errs := c.Member(id).FSM.Errors(); len(errs) > 0 {
			c.t.Errorf("member %d applied out of order: %v", id, errs)
		}
	}
	out := make([]Entry, len(ref))
	for i, e := range ref {
		out[i] = Entry{Zxid: e.Zxid, Data: string(e.Data)}
	}
	return out
}

// Entry is an applied entry, with its data as a string.
type Entry struct {
	Zxid int64
	Data string
}

func sameEntries(a, b []storage.Entry) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d entries vs %d", len(b), len(a))
	}
	for i := range a {
		if a[i].Zxid != b[i].Zxid || !bytes.Equal(a[i].Data, b[i].Data) {
			return fmt.Errorf("entry %d: 0x%x %q vs 0x%x %q", i, b[i].Zxid, b[i].Data, a[i].Zxid, a[i].Data)
		}
	}
	return nil
}

// CheckLogs checks that what every running member logged agrees with
// what it applied: each logged txn up to the last applied one was applied
// with the same bytes (a member may have logged txns not yet committed).
func (c *Cluster) CheckLogs() {
	c.t.Helper()
	for _, id := range c.Running() {
		m := c.Member(id)
		applied := make(map[int64][]byte)
		last := int64(0)
		for _, e := range m.FSM.Entries() {
			applied[e.Zxid] = e.Data
			last = e.Zxid
		}
		err := m.Store.Replay(0, func(e storage.Entry) error {
			if e.Zxid > last {
				return nil
			}
			d, ok := applied[e.Zxid]
			if !ok {
				return fmt.Errorf("logged 0x%x %q was never applied", e.Zxid, e.Data)
			}
			if !bytes.Equal(d, e.Data) {
				return fmt.Errorf("logged 0x%x %q, applied %q", e.Zxid, e.Data, d)
			}
			return nil
		})
		if err != nil {
			c.t.Errorf("member %d: %v", id, err)
		}
	}
}

// CheckAcknowledged checks that every acknowledged proposal is in the
// converged history with its data.
func CheckAcknowledged(t testing.TB, history []Entry, acked map[int64]string) {
	t.Helper()
	got := make(map[int64]string, len(history))
	for _, e := range history {
		got[e.Zxid] = e.Data
	}
	for z, d := range acked {
		if g, ok := got[z]; !ok || g != d {
			t.Errorf("acknowledged 0x%x %q: applied %q (present %v)", z, d, g, ok)
		}
	}
}

// observerMasterPort is a port number that turns observer masters on:
// the network ignores it.
func observerMasterPort(on bool) int {
	if on {
		return 1
	}
	return 0
}
