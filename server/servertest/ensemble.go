package servertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/config"
)

// Ensemble is an in-process ensemble: n servers on 127.0.0.1 with their
// own client, quorum and election ports and data directories.
type Ensemble struct {
	t       testing.TB
	Servers []*Server
}

// FreePorts reserves n distinct free TCP ports on 127.0.0.1 for servers
// that bind them later. They are taken at random below 32768, outside
// Linux's ephemeral range (32768-60999), so the many client connections of
// parallel tests never take them as local ports; they are released before
// use, so another test process could still bind one first: StartEnsemble
// then starts again on fresh ports.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	lns := make([]net.Listener, 0, n)
	ports := make([]int, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000*n {
			t.Fatalf("servertest: no %d free ports in 20000-32767", n)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+rand.IntN(12768)))
		if err != nil {
			continue // taken
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// StartEnsemble starts n participants plus observers, waits until every
// member serves and returns them; member i has myid i+1. opts apply to
// every member's configuration.
func StartEnsemble(t testing.TB, n, observers int, opts ...Option) *Ensemble {
	t.Helper()
	// freePorts releases its ports before the members bind them, so a
	// parallel test process can get the same port from the kernel and bind
	// it first: start again on fresh ports when a member could not bind.
	for attempt := 1; ; attempt++ {
		e, err := startEnsemble(t, n, observers, opts...)
		if err == nil {
			return e
		}
		for _, s := range e.Servers {
			s.Stop()
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 5 {
			t.Fatalf("servertest: %v", err)
		}
	}
}

func startEnsemble(t testing.TB, n, observers int, opts ...Option) (*Ensemble, error) {
	t.Helper()
	total := n + observers
	ports := FreePorts(t, 3*total)
	servers := make([]config.Server, total)
	for i := range servers {
		servers[i] = config.Server{
			ID: int64(i + 1), Host: "127.0.0.1",
			QuorumPort: ports[3*i+1], ElectionPort: ports[3*i+2],
			Observer:      i >= n,
			ClientAddress: "127.0.0.1", ClientPort: ports[3*i],
		}
	}
	e := &Ensemble{t: t}
	for i := range servers {
		i := i
		member := append([]Option{func(c *config.Config) {
			c.MyID = int64(i + 1)
			c.Servers = servers
			c.InitLimit = 10
			c.SyncLimit = 5
			c.TickTime = 100 * time.Millisecond
			c.MinSessionTimeout = 2 * c.TickTime
			c.MaxSessionTimeout = 40 * c.TickTime
			if servers[i].Observer {
				c.PeerType = "observer"
			}
		}}, opts...)
		s := &Server{t: t, addr: "127.0.0.1:" + strconv.Itoa(ports[3*i])}
		s.Cfg = baseConfig(t)
		for _, o := range member {
			o(s.Cfg)
		}
		s.start()
		t.Cleanup(s.Stop)
		e.Servers = append(e.Servers, s)
	}
	return e, e.waitServing(30 * time.Second)
}

// Addrs returns the client addresses of the running members.
func (e *Ensemble) Addrs() []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.Addr())
	}
	return out
}

// queryTimeout bounds a four-letter word asked of a test server.
const queryTimeout = 5 * time.Second

// Srvr asks a server for srvr and parses the answer.
func Srvr(addr string) (fourletter.Srvr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	out, err := fourletter.Query(ctx, addr, "srvr")
	if err != nil {
		return fourletter.Srvr{}, err
	}
	return fourletter.ParseSrvr(out)
}

// Mntr asks a server for mntr and parses the answer (key → value).
func Mntr(addr string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	out, err := fourletter.Query(ctx, addr, "mntr")
	if err != nil {
		return nil, err
	}
	return fourletter.ParseMntr(out)
}

// Mode asks a member for its srvr Mode ("" when it does not answer).
func Mode(addr string) string {
	st, err := Srvr(addr)
	if err != nil {
		return ""
	}
	return st.Mode
}

// Leader returns the index of the serving leader, or -1.
func (e *Ensemble) Leader() int {
	for i, s := range e.Servers {
		if s.srv != nil && Mode(s.Addr()) == "leader" {
			return i
		}
	}
	return -1
}

// WaitServing waits until every running member reports leader, follower
// or observer, and exactly one leader.
func (e *Ensemble) WaitServing(d time.Duration) {
	e.t.Helper()
	if err := e.waitServing(d); err != nil {
		e.t.Fatalf("servertest: %v", err)
	}
}

func (e *Ensemble) waitServing(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		leaders, serving, running := 0, 0, 0
		for i, s := range e.Servers {
			if s.srv == nil {
				continue
			}
			if err := s.exited(); err != nil {
				return fmt.Errorf("member %d stopped: %w", i+1, err)
			}
			running++
			switch Mode(s.Addr()) {
			case "leader":
				leaders++
				serving++
			case "follower", "observer":
				serving++
			}
		}
		if leaders == 1 && serving == running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ensemble not serving after %v (%d leaders, %d of %d serving)", d, leaders, serving, running)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// String lists the members and their modes, for failure messages.
func (e *Ensemble) String() string {
	s := ""
	for i, m := range e.Servers {
		mode := "stopped"
		if m.srv != nil {
			mode = Mode(m.Addr())
		}
		s += fmt.Sprintf("%d:%s ", i+1, mode)
	}
	return s
}
