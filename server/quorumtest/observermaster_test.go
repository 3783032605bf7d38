package quorumtest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// TestObserverSyncsFromFollower: with observerMasterPort an observer syncs
// with a follower that serves observers (Apache's ObserverMaster), not
// with the leader. Its clients' writes, syncs, watches and session
// heartbeats go through that follower; when the follower stops, the
// observer falls back to the leader and goes on serving.
func TestObserverSyncsFromFollower(t *testing.T) {
	// As in Apache, the port is one value that an observer looks for on
	// every voter's host; on one host only member 1 (a follower: a fresh
	// ensemble elects the highest id) may bind it.
	omPort := servertest.FreePorts(t, 1)[0]
	e := servertest.StartEnsemble(t, 3, 1, func(c *config.Config) {
		if c.MyID == 1 || c.MyID == 4 {
			c.ObserverMasterPort = omPort
		}
	})
	l := e.Leader()
	if l == 0 {
		t.Fatal("member 1 leads; the test needs it following")
	}
	obs, leader := e.Servers[3].Addr(), e.Servers[l].Addr()
	testwait.For(t, "the observer syncing with member 1", func() bool {
		return observerMaster(obs) == "1"
	})
	if got := mntr(t, leader, "zk_learners"); got != "2" {
		t.Errorf("leader's zk_learners %s, want 2 (the followers; the observer is member 1's)", got)
	}

	acl := zk.WorldACL(zk.PermAll)
	co, _, err := zk.Connect([]string{obs}, time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "a session on the observer", func() bool { return co.State() == zk.StateHasSession })
	cl, _ := connect(t, leader)

	// A write through the observer reaches the leader, and is on the
	// observer when its reply comes.
	if _, err := co.Create("/o", []byte("from-observer"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if got, _, err := co.Get("/o"); err != nil || string(got) != "from-observer" {
		t.Fatalf("observer reads its own write: %q, %v", got, err)
	}
	if _, err := cl.Sync("/o"); err != nil {
		t.Fatal(err)
	}
	if got, _, err := cl.Get("/o"); err != nil || string(got) != "from-observer" {
		t.Fatalf("leader: /o = %q, %v", got, err)
	}
	// A write through the leader fires the observer's watch, and a sync
	// on the observer shows it.
	_, _, w, err := co.GetW("/o")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Set("/o", []byte("from-leader"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/o" {
			t.Fatalf("observer's watch: %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NodeDataChanged on the observer")
	}
	if _, err := cl.Create("/l", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := co.Sync("/l"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := co.Exists("/l"); err != nil || !ok {
		t.Fatalf("observer after sync: /l exists %v, %v", ok, err)
	}

	// The observer's session lives on its client's heartbeats alone,
	// relayed through member 1 to the leader: its ephemeral outlasts
	// several session timeouts.
	if _, err := co.Create("/eph", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if ok, _, err := cl.Exists("/eph"); err != nil || !ok {
			t.Fatalf("the observer's session expired on the leader (/eph exists %v, %v)", ok, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The observer restarts behind: member 1 brings it up to date (a
	// DIFF from its own log).
	co.Close()
	e.Servers[3].Stop()
	for i := 0; i < 50; i++ {
		if _, err := cl.Create("/behind-"+strconv.Itoa(i), nil, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	e.Servers[3].Restart()
	testwait.For(t, "the restarted observer syncing with member 1", func() bool {
		return observerMaster(obs) == "1"
	})
	co, _ = connect(t, obs)
	if _, err := co.Sync("/"); err != nil {
		t.Fatal(err)
	}
	kids, _, err := co.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	// The 50, /o, /l and /zookeeper (/eph went with its session).
	if n := len(kids); n != 50+3 {
		t.Errorf("restarted observer sees %d znodes under /: %v", n, kids)
	}

	// Member 1 stops: the observer observes the leader itself.
	e.Servers[0].Stop()
	want := strconv.Itoa(l + 1)
	testwait.For(t, "the observer syncing with the leader", func() bool {
		return observerMaster(obs) == want
	})
	testwait.For(t, "a write through the observer after member 1 stopped", func() bool {
		_, err := co.Create("/after", nil, 0, acl)
		return err == nil || err == zk.ErrNodeExists
	})
	if _, err := cl.Sync("/after"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := cl.Exists("/after"); err != nil || !ok {
		t.Fatalf("leader: /after exists %v, %v", ok, err)
	}
}

// observerMaster is the observer's zk_observer_master_id, "" while it does
// not serve (mntr then fails).
func observerMaster(addr string) string {
	m, err := servertest.Mntr(addr)
	if err != nil {
		return ""
	}
	return m["zk_observer_master_id"]
}

// TestObserverMasterPortOnTheLeader: a member that bound the observer
// master port and is then elected serves observers there as on its quorum
// port, so an observer that reaches it syncs with it at once. The
// observer's configuration gives member 3 a quorum port nobody listens
// on: it can reach member 3 only through the observer master port.
func TestObserverMasterPortOnTheLeader(t *testing.T) {
	ports := servertest.FreePorts(t, 2)
	omPort, deadPort := ports[0], ports[1]
	e := servertest.StartEnsemble(t, 3, 1, func(c *config.Config) {
		if c.MyID == 3 || c.MyID == 4 {
			c.ObserverMasterPort = omPort
		}
		if c.MyID == 4 {
			c.Servers = slices.Clone(c.Servers)
			c.Servers[2].QuorumPort = deadPort
		}
	})
	if l := e.Leader(); l != 2 {
		// Member 3 follows: stop the leader, and the two left elect
		// member 3 (same zxid, higher id).
		e.Servers[l].Stop()
		testwait.For(t, "member 3 leading", func() bool { return e.Leader() == 2 })
	}
	obs := e.Servers[3].Addr()
	testwait.For(t, "the observer syncing with member 3, the leader", func() bool {
		return observerMaster(obs) == "3"
	})
	if got := mntr(t, e.Servers[2].Addr(), "zk_synced_observers"); got != "1" {
		t.Errorf("leader's zk_synced_observers %s, want 1", got)
	}
	co, _ := connect(t, obs)
	if _, err := co.Create("/o", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}
