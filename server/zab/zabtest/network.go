package zabtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/zkgo/zkgo/server/zab"
)

// Network is an in-process network of members on 127.0.0.1 with fault
// injection. Every member gets its Transport from Transport(id).
type Network struct {
	mu     sync.Mutex
	addrs  map[addrKey]string
	cut    map[[2]int64]bool
	faults Faults
	rng    *rand.Rand
	conns  map[*faultConn]bool
}

type addrKey struct {
	id int64
	ch zab.Channel
}

// Faults are applied to every frame sent on every connection. Drop and
// Duplicate are probabilities; Delay holds each frame back before it is
// sent (order is kept).
type Faults struct {
	Drop      float64
	Duplicate float64
	Delay     time.Duration
	// Election restricts the faults to the election channel.
	Election bool
}

// NewNetwork returns a network without faults.
func NewNetwork(seed uint64) *Network {
	return &Network{
		addrs: make(map[addrKey]string),
		cut:   make(map[[2]int64]bool),
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		conns: make(map[*faultConn]bool),
	}
}

// SetFaults sets the faults applied from now on.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	n.faults = f
	n.mu.Unlock()
}

func pair(a, b int64) [2]int64 {
	if a > b {
		a, b = b, a
	}
	return [2]int64{a, b}
}

// Partition cuts every link between members of different groups; members
// not named keep their links. Existing connections across a cut are
// closed, new ones refused.
func (n *Network) Partition(groups ...[]int64) {
	n.mu.Lock()
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					n.cut[pair(a, b)] = true
				}
			}
		}
	}
	n.mu.Unlock()
	n.enforce()
}

// Isolate cuts every link of member id.
func (n *Network) Isolate(id int64, all []int64) {
	var rest []int64
	for _, o := range all {
		if o != id {
			rest = append(rest, o)
		}
	}
	n.Partition([]int64{id}, rest)
}

// Heal removes every cut.
func (n *Network) Heal() {
	n.mu.Lock()
	clear(n.cut)
	n.mu.Unlock()
}

func (n *Network) isCut(a, b int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut[pair(a, b)]
}

func (n *Network) enforce() {
	n.mu.Lock()
	var doomed []*faultConn
	for c := range n.conns {
		if c.to >= 0 && n.cut[pair(c.from, c.to)] {
			doomed = append(doomed, c)
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
}

// Transport is member id's view of the network.
func (n *Network) Transport(id int64) zab.Transport { return &transport{n: n, id: id} }

type transport struct {
	n  *Network
	id int64
}

var errCut = errors.New("network partitioned")

func (t *transport) Listen(ch zab.Channel) (zab.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t.n.mu.Lock()
	t.n.addrs[addrKey{t.id, ch}] = l.Addr().String()
	t.n.mu.Unlock()
	return &listener{t: t, inner: zab.TCPListener(l)}, nil
}

func (t *transport) Dial(ctx context.Context, to int64, ch zab.Channel) (zab.Conn, error) {
	if t.n.isCut(t.id, to) {
		return nil, fmt.Errorf("dial %d from %d: %w", to, t.id, errCut)
	}
	t.n.mu.Lock()
	a, ok := t.n.addrs[addrKey{to, ch}]
	t.n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dial %d: not listening", to)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", a)
	if err != nil {
		return nil, err
	}
	return t.n.wrap(zab.NewStreamConn(c), t.id, to, ch), nil
}

type listener struct {
	t     *transport
	inner zab.Listener
}

func (l *listener) Accept() (zab.Conn, error) {
	c, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	return l.t.n.wrap(c, l.t.id, -1, zab.ChannelQuorum), nil
}

func (l *listener) Close() error { return l.inner.Close() }

func (n *Network) wrap(c zab.Conn, from, to int64, ch zab.Channel) *faultConn {
	fc := &faultConn{n: n, inner: c, from: from, to: to, ch: ch}
	n.mu.Lock()
	n.conns[fc] = true
	n.mu.Unlock()
	return fc
}

// faultConn applies the network's faults. Only the dialing side knows
// the peer, so cuts are enforced there; the other side sees the close.
type faultConn struct {
	n        *Network
	inner    zab.Conn
	from, to int64
	ch       zab.Channel
	once     sync.Once
}

func (c *faultConn) decide() (drop, dup bool, delay time.Duration) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	f := c.n.faults
	if f.Election && c.ch != zab.ChannelElection {
		return false, false, 0
	}
	return f.Drop > 0 && c.n.rng.Float64() < f.Drop, f.Duplicate > 0 && c.n.rng.Float64() < f.Duplicate, f.Delay
}

func (c *faultConn) Send(frame []byte) error {
	if c.to >= 0 && c.n.isCut(c.from, c.to) {
		_ = c.Close()
		return errCut
	}
	drop, dup, delay := c.decide()
	if delay > 0 {
		time.Sleep(delay)
	}
	if drop {
		return nil
	}
	if err := c.inner.Send(frame); err != nil {
		return err
	}
	if dup {
		return c.inner.Send(frame)
	}
	return nil
}

func (c *faultConn) Flush() error { return c.inner.Flush() }

func (c *faultConn) Recv() ([]byte, error) {
	b, err := c.inner.Recv()
	if err != nil {
		return nil, err
	}
	if c.to >= 0 && c.n.isCut(c.from, c.to) {
		_ = c.Close()
		return nil, errCut
	}
	return b, nil
}

func (c *faultConn) Close() error {
	c.once.Do(func() {
		c.n.mu.Lock()
		delete(c.n.conns, c)
		c.n.mu.Unlock()
	})
	return c.inner.Close()
}
