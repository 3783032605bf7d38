package quorumtest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testcerts"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// memberLogins are the QuorumServer users of the tests' ensembles: member
// N logs in as zkN.
var memberLogins = map[string]string{"zk1": "pw-1", "zk2": "pw-2", "zk3": "pw-3", "zk4": "pw-4"}

// quorumSASL gives member c its quorum.auth settings: logins on, its own
// user from memberLogins, and require as given.
func quorumSASL(c *config.Config, learnerRequire, serverRequire bool) {
	user := "zk" + strconv.FormatInt(c.MyID, 10)
	c.QuorumSASL = config.QuorumSASLConfig{
		Enabled:        true,
		LearnerRequire: learnerRequire,
		ServerRequire:  serverRequire,
		Users:          memberLogins,
		User:           user,
		Password:       memberLogins[user],
	}
}

// logLines is a slog handler that keeps each record's message and
// attributes as one line.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logLines) count(substrs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		all := true
		for _, s := range substrs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

// TestQuorumSASL: with quorum.auth.enableSasl, learnerRequireSasl and
// serverRequireSasl, members that log in with their QuorumLearner users
// elect, sync and replicate (to an observer too); a peer that does not
// log in is closed unanswered; a member whose password is wrong is kept
// out of the ensemble while the others go on writing, and joins and
// catches up once its password is right.
func TestQuorumSASL(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 1, servertest.WithConfig(func(c *config.Config) {
		quorumSASL(c, true, true)
	}))
	replicates(t, e.Addrs())

	me := e.Servers[0].Cfg.Servers[0]
	for _, port := range []int{me.QuorumPort, me.ElectionPort} {
		closedUnanswered(t, fmt.Sprintf("port %d: a peer that did not log in", port), net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}

	// Member 3 with a wrong password: every member refuses its login.
	third := e.Servers[2]
	logs := &logLines{}
	third.Logger = slog.New(logs)
	third.Cfg.QuorumSASL.Password = "wrong"
	third.Restart()
	testwait.For(t, "members 1 and 2 to refuse member 3's logins", func() bool {
		return logs.count("quorum SASL login failed", "server 1 ", `refused the login as "zk3"`) > 0 &&
			logs.count("quorum SASL login failed", "server 2 ", `refused the login as "zk3"`) > 0
	})
	if m := servertest.Mode(third.Addr()); m == "follower" || m == "leader" {
		t.Fatalf("member 3 with a wrong password is a %s", m)
	}
	w, _ := connect(t, e.Addrs()[0])
	if _, err := w.Create("/while-3-is-out", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("members 1 and 2 without member 3: %v", err)
	}
	if m := servertest.Mode(third.Addr()); m == "follower" || m == "leader" {
		t.Fatalf("member 3 with a wrong password is a %s", m)
	}

	third.Cfg.QuorumSASL.Password = memberLogins["zk3"]
	third.Restart()
	e.WaitServing(30 * time.Second)
	r, _ := connect(t, third.Addr())
	if _, err := r.Sync("/while-3-is-out"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := r.Exists("/while-3-is-out"); err != nil || !ok {
		t.Fatalf("member 3 did not catch up: %v %v", ok, err)
	}
}

// TestQuorumSASLRollingSwitch: Apache's documented way to turn member
// logins on without downtime, in its middle step: every member has
// quorum.auth.enableSasl (it accepts logins but does not require them),
// and some already log in (learnerRequireSasl); they form one ensemble.
func TestQuorumSASLRollingSwitch(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		quorumSASL(c, c.MyID != 1, false)
	}))
	replicates(t, e.Addrs())
	back := []string{e.Addrs()[1], e.Addrs()[0]}
	replicatesPath(t, back, "/from-a-member-that-logs-in")
}

// TestQuorumSASLOverTLS: logins between members run inside the TLS
// connections of sslQuorum.
func TestQuorumSASLOverTLS(t *testing.T) {
	stores := memberStores(t, testcerts.NewCA(t, "ensemble CA"))
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.SSLQuorum = true
		c.QuorumTLS = stores[c.MyID]
		quorumSASL(c, true, true)
	}))
	replicatesPath(t, e.Addrs(), "/sasl-over-tls")
}
