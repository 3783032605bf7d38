package quorumtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/shell"
)

// reconfigOn enables reconfig and lets every client change
// /zookeeper/config (skipACL), as the reconfig tests of Apache do.
func reconfigOn(c *config.Config) {
	c.ReconfigEnabled = true
	c.SkipACL = true
}

// freeServer reserves ports for a member that is not started yet.
func freeServer(t *testing.T, id int64) config.Server {
	t.Helper()
	ports := servertest.FreePorts(t, 3)
	return config.Server{ID: id, Host: "127.0.0.1", QuorumPort: ports[1], ElectionPort: ports[2],
		ClientAddress: "127.0.0.1", ClientPort: ports[0]}
}

// startJoiner starts a member that is not in the ensemble's membership,
// configured (as Apache's documentation says to start a joiner) with the
// current members plus itself, and waits until it serves as a
// non-voting follower.
func startJoiner(t *testing.T, e *servertest.Ensemble, s config.Server, opts ...servertest.Option) *servertest.Server {
	t.Helper()
	servers := append(append([]config.Server(nil), e.Servers[0].Cfg.Servers...), s)
	all := append([]servertest.Option{servertest.WithConfig(func(c *config.Config) {
		c.MyID = s.ID
		c.Servers = servers
		c.InitLimit, c.SyncLimit = 10, 5
		c.TickTime = 100 * time.Millisecond
		c.MinSessionTimeout, c.MaxSessionTimeout = 2*c.TickTime, 40*c.TickTime
		c.ClientPortAddress, c.ClientPort = "127.0.0.1", s.ClientPort
	})}, opts...)
	j := servertest.Start(t, all...)
	testwait.For(t, "the joiner to follow", func() bool { return servertest.Mode(j.Addr()) == "follower" })
	return j
}

func serverLine(s config.Server) string {
	return "server." + strconv.FormatInt(s.ID, 10) + "=" + s.String()
}

// configOf reads /zookeeper/config through member addr after a sync.
func configOf(t *testing.T, addr string) (string, *zk.Stat) {
	t.Helper()
	c, _ := connect(t, addr)
	defer c.Close()
	if _, err := c.Sync("/zookeeper/config"); err != nil {
		t.Fatalf("sync on %s: %v", addr, err)
	}
	b, st, err := c.Get("/zookeeper/config")
	if err != nil {
		t.Fatalf("get /zookeeper/config on %s: %v", addr, err)
	}
	return string(b), st
}

// wantMembers checks that text lists exactly the ids given, with the
// version line of the version given.
func wantMembers(t *testing.T, where, text string, version int64, ids ...int64) {
	t.Helper()
	var got []int64
	for _, line := range strings.Split(text, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "server.") {
			id, _ := strconv.ParseInt(strings.TrimPrefix(k, "server."), 10, 64)
			got = append(got, id)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("%s: members %v, want %v\n%s", where, got, ids, text)
	}
	if want := "version=" + strconv.FormatInt(version, 16); !strings.HasSuffix(text, "\n"+want) {
		t.Fatalf("%s: config does not end in %q:\n%s", where, want, text)
	}
}

// writeThrough creates path through the member at addr, retrying while
// the ensemble elects a leader.
func writeThrough(t *testing.T, addr, path string) {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testwait.For(t, "a write through "+addr, func() bool {
		_, err := c.Create(path, nil, 0, zk.WorldACL(zk.PermAll))
		return err == nil || errors.Is(err, zk.ErrNodeExists)
	})
}

// TestReconfigAddAndRemove grows a running 3-member ensemble to 4 with
// `zk reconfig -add` (the joiner started with the new member list),
// removes a member with an incremental reconfig, checks that the new
// membership is what counts for the quorum, and that a restarted member
// comes back with it.
func TestReconfigAddAndRemove(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(reconfigOn))
	_, st0 := configOf(t, e.Addrs()[0])
	s4 := freeServer(t, 4)
	j := startJoiner(t, e, s4, servertest.WithConfig(reconfigOn))

	// zk reconfig -add, through a follower (forwarded to the leader).
	var out, errOut bytes.Buffer
	f := (e.Leader() + 1) % 3
	sh, err := shell.New(shell.Config{Server: e.Addrs()[f], Out: &out, Err: &errOut, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sh.Run(ctx, []string{"reconfig", "-add", serverLine(s4)}); err != nil {
		t.Fatalf("zk reconfig -add: %v\n%s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "Committed new configuration:\n") || !strings.Contains(out.String(), serverLine(s4)) {
		t.Fatalf("zk reconfig printed:\n%s", out.String())
	}
	text, st := configOf(t, j.Addr())
	if st.Mzxid <= st0.Mzxid || st.Version != -1 {
		t.Fatalf("/zookeeper/config stat after reconfig: mzxid 0x%x (before 0x%x), version %d; want a newer mzxid and version -1", st.Mzxid, st0.Mzxid, st.Version)
	}
	version := st.Mzxid
	for i, a := range append(e.Addrs(), j.Addr()) {
		text, _ := configOf(t, a)
		wantMembers(t, fmt.Sprintf("member %d after adding 4", i+1), text, version, 1, 2, 3, 4)
	}
	if !strings.Contains(text, serverLine(s4)) {
		t.Fatalf("config lacks %q:\n%s", serverLine(s4), text)
	}
	// conf's "membership:" is the new one too (Apache's QuorumPeer
	// reports its current QuorumVerifier), on every member.
	for i, a := range append(e.Addrs(), j.Addr()) {
		qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
		conf, err := fourletter.Query(qctx, a, "conf")
		qcancel()
		if err != nil {
			t.Fatalf("conf on member %d: %v", i+1, err)
		}
		_, members, _ := strings.Cut(conf, "membership: \n")
		if members != text {
			t.Fatalf("conf on member %d after reconfig shows membership\n%s\nwant /zookeeper/config's\n%s", i+1, members, text)
		}
	}
	writeThrough(t, j.Addr(), "/through-4")

	// Remove a follower F (incremental; -v with the version just read).
	l := e.Leader()
	fi, oi := (l+1)%3, (l+2)%3 // F, and the other old member O
	c, _ := connect(t, e.Addrs()[l])
	if _, err := c.IncrementalReconfig(nil, []string{strconv.Itoa(fi + 1)}, version); err != nil {
		t.Fatalf("remove %d: %v", fi+1, err)
	}
	var left []int64
	for i := int64(1); i <= 4; i++ {
		if i != int64(fi+1) {
			left = append(left, i)
		}
	}
	text, st = configOf(t, e.Addrs()[l])
	wantMembers(t, "after removing a follower", text, st.Mzxid, left...)
	text, _ = configOf(t, j.Addr())
	wantMembers(t, "member 4 after removing a follower", text, st.Mzxid, left...)

	// Now a quorum is two of {L, O, 4}: stopping F and O leaves L and 4,
	// which must still commit (in the old membership L alone is left).
	e.Servers[fi].Stop()
	e.Servers[oi].Stop()
	writeThrough(t, e.Addrs()[l], "/after-removal")

	// Restarted, L (which proposed the reconfigs) and 4 come back with the
	// new membership and form a quorum again.
	e.Servers[l].Stop()
	j.Stop()
	e.Servers[l].Restart()
	j.Restart()
	text, _ = configOf(t, j.Addr())
	wantMembers(t, "member 4 after restart", text, st.Mzxid, left...)
	writeThrough(t, j.Addr(), "/after-restart")
	text, _ = configOf(t, e.Addrs()[l])
	wantMembers(t, "the old leader after restart", text, st.Mzxid, left...)
}

// TestReconfigNewMembers replaces the membership with a new list
// (non-incremental): member 3 leaves and 4 joins in one reconfig.
func TestReconfigNewMembers(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(reconfigOn))
	s4 := freeServer(t, 4)
	j := startJoiner(t, e, s4, servertest.WithConfig(reconfigOn))
	servers := e.Servers[0].Cfg.Servers
	members := []string{serverLine(servers[0]), serverLine(servers[1]), serverLine(s4)}
	c, _ := connect(t, e.Addrs()[2]) // through the member being removed
	st, err := c.Reconfig(members, -1)
	if err != nil {
		t.Fatalf("reconfig -members: %v", err)
	}
	for i, a := range []string{e.Addrs()[0], e.Addrs()[1], j.Addr()} {
		text, _ := configOf(t, a)
		wantMembers(t, fmt.Sprintf("member %d", i+1), text, st.Mzxid, 1, 2, 4)
	}
	// Member 3 is now a non-voting follower: it still serves.
	text, _ := configOf(t, e.Addrs()[2])
	wantMembers(t, "removed member 3", text, st.Mzxid, 1, 2, 4)
	e.Servers[2].Stop()
	e.Servers[0].Stop()
	writeThrough(t, j.Addr(), "/two-of-three")
}

// TestReconfigErrors: the error answers of Apache 3.8's
// PrepRequestProcessor.
func TestReconfigErrors(t *testing.T) {
	code := func(err error) string {
		if err == nil {
			return "OK"
		}
		return err.Error()
	}
	t.Run("disabled", func(t *testing.T) {
		e := servertest.StartEnsemble(t, 3, 0)
		c, _ := connect(t, e.Addrs()[0])
		_, err := c.IncrementalReconfig(nil, []string{"3"}, -1)
		if !errors.Is(err, zk.ErrReconfigDisabled) {
			t.Fatalf("reconfig with reconfigEnabled=false: %s, want RECONFIGDISABLED", code(err))
		}
	})
	t.Run("standalone", func(t *testing.T) {
		s := servertest.Start(t, servertest.WithConfig(reconfigOn))
		c, _ := connect(t, s.Addr())
		_, err := c.IncrementalReconfig(nil, []string{"3"}, -1)
		if code(err) != "unknown error: -6" {
			t.Fatalf("reconfig on a standalone server: %s, want UNIMPLEMENTED (-6)", code(err))
		}
	})
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.ReconfigEnabled = true
	}))
	c, _ := connect(t, e.Addrs()[0])
	t.Run("noauth", func(t *testing.T) {
		// /zookeeper/config is world-readable only: only a super user (or
		// skipACL) may reconfig.
		_, err := c.IncrementalReconfig(nil, []string{"3"}, -1)
		if !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("reconfig without rights: %s, want NOAUTH", code(err))
		}
	})
	e2 := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(reconfigOn))
	c2, _ := connect(t, e2.Addrs()[1])
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"bad version", func() error { _, err := c2.IncrementalReconfig(nil, []string{"3"}, 0x12345); return err }, zk.ErrBadVersion.Error()},
		{"bad joiner syntax", func() error {
			_, err := c2.IncrementalReconfig([]string{"server.4=127.0.0.1:1"}, nil, -1)
			return err
		}, zk.ErrBadArguments.Error()},
		{"joiner without client port", func() error {
			_, err := c2.IncrementalReconfig([]string{"server.4=127.0.0.1:1:2"}, nil, -1)
			return err
		}, zk.ErrBadArguments.Error()},
		{"bad leaving id", func() error { _, err := c2.IncrementalReconfig(nil, []string{"x"}, -1); return err }, zk.ErrBadArguments.Error()},
		{"fewer than two voters", func() error { _, err := c2.IncrementalReconfig(nil, []string{"2,3"}, -1); return err }, zk.ErrBadArguments.Error()},
		{"no synced quorum", func() error {
			s4, s5 := freeServer(t, 4), freeServer(t, 5)
			_, err := c2.Reconfig([]string{serverLine(e2.Servers[0].Cfg.Servers[0]), serverLine(s4), serverLine(s5)}, -1)
			return err
		}, "unknown error: -13"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(tc.run()); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	// None of them changed the membership.
	text, st := configOf(t, e2.Addrs()[0])
	wantMembers(t, "after the failed reconfigs", text, 0, 1, 2, 3)
	if st.Mzxid != 0 {
		t.Fatalf("/zookeeper/config mzxid 0x%x after failed reconfigs, want 0", st.Mzxid)
	}
}

// TestReconfigRemoveLeader: the leader removes itself; it steps down once
// the reconfig commits and the remaining voters elect a leader among
// themselves (Apache hands the leadership over instead).
func TestReconfigRemoveLeader(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(reconfigOn))
	l := e.Leader()
	c, _ := connect(t, e.Addrs()...)
	st, err := c.IncrementalReconfig(nil, []string{strconv.Itoa(l + 1)}, -1)
	if err != nil && !errors.Is(err, zk.ErrConnectionClosed) {
		t.Fatalf("remove the leader: %v", err)
	}
	var rest []int64
	for i := range e.Servers {
		if i != l {
			rest = append(rest, int64(i+1))
		}
	}
	testwait.For(t, "a new leader among the others", func() bool {
		nl := e.Leader()
		return nl >= 0 && nl != l
	})
	other := e.Addrs()[(l+1)%3]
	text, st2 := configOf(t, other)
	if st != nil && st.Mzxid != 0 && st2.Mzxid != st.Mzxid {
		t.Fatalf("config version 0x%x, reconfig answered 0x%x", st2.Mzxid, st.Mzxid)
	}
	wantMembers(t, "after removing the leader", text, st2.Mzxid, rest...)
	// The old leader is a non-voting follower now: stopping it changes
	// nothing, and the two voters left commit.
	e.Servers[l].Stop()
	writeThrough(t, other, "/after-leader-removal")
}
