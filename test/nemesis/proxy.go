package nemesis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Faults are applied to every frame crossing the network, each way.
// Drop and Duplicate are probabilities; each frame is held back Delay plus
// up to Jitter (order is kept: a direction of a connection is a queue).
type Faults struct {
	Drop      float64
	Duplicate float64
	Delay     time.Duration
	Jitter    time.Duration
}

func (f Faults) String() string {
	return fmt.Sprintf("drop=%.3f dup=%.3f delay=%s+%s", f.Drop, f.Duplicate, f.Delay, f.Jitter)
}

// maxFrame bounds a frame the proxy reads (zab's own limit is lower).
const maxFrame = 256 << 20

// Net is a network of frame-aware TCP proxies between the members'
// quorum and election ports. Member i reaches member j's port through its
// own proxy (i→j), so Net knows both ends of every connection: it can
// partition pairs and drop, duplicate and delay frames (zab's ports carry
// 4-byte-length frames) without any hook in the server. Real processes
// can be put behind it the same way (their zoo.cfg lists the proxies).
type Net struct {
	mu     sync.Mutex
	rng    *rand.Rand
	cut    map[[2]int]bool
	faults Faults
	conns  map[*pconn]bool
	lns    []net.Listener
	closed bool
	wg     sync.WaitGroup
}

// NewNet returns a network without faults; rng decisions derive from seed.
func NewNet(seed uint64) *Net {
	return &Net{
		rng:   rand.New(rand.NewPCG(seed, 0x6e657431)),
		cut:   make(map[[2]int]bool),
		conns: make(map[*pconn]bool),
	}
}

func pair(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

// Link opens the proxy member from uses to reach target (member to's
// real port) and returns its port.
func (n *Net) Link(from, to int, target string) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("proxy %d→%d: %w", from, to, err)
	}
	n.mu.Lock()
	n.lns = append(n.lns, ln)
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.serve(c, from, to, target)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Close stops every proxy and closes every connection.
func (n *Net) Close() {
	n.mu.Lock()
	n.closed = true
	lns := n.lns
	var cs []*pconn
	for c := range n.conns {
		cs = append(cs, c)
	}
	n.mu.Unlock()
	for _, l := range lns {
		l.Close()
	}
	for _, c := range cs {
		c.close()
	}
	n.wg.Wait()
}

// SetFaults sets the frame faults from now on.
func (n *Net) SetFaults(f Faults) {
	n.mu.Lock()
	n.faults = f
	n.mu.Unlock()
}

// Partition cuts every link between members of different groups; members
// in no group keep their links (a bridge). Connections across a cut close.
func (n *Net) Partition(groups ...[]int) {
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
	var doomed []*pconn
	for c := range n.conns {
		if n.cut[pair(c.from, c.to)] {
			doomed = append(doomed, c)
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		c.close()
	}
}

// Heal removes every cut.
func (n *Net) Heal() {
	n.mu.Lock()
	clear(n.cut)
	n.mu.Unlock()
}

func (n *Net) isCut(a, b int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut[pair(a, b)]
}

// decide draws the fate of one frame.
func (n *Net) decide() (drop, dup bool, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.faults
	drop = f.Drop > 0 && n.rng.Float64() < f.Drop
	dup = f.Duplicate > 0 && n.rng.Float64() < f.Duplicate
	delay = f.Delay
	if f.Jitter > 0 {
		delay += time.Duration(n.rng.Int64N(int64(f.Jitter)))
	}
	return drop, dup, delay
}

// pconn is one proxied connection: the dialer's side a, the target's b.
type pconn struct {
	from, to int
	a, b     net.Conn
	once     sync.Once
}

func (c *pconn) close() {
	c.once.Do(func() {
		c.a.Close()
		c.b.Close()
	})
}

func (n *Net) serve(a net.Conn, from, to int, target string) {
	if n.isCut(from, to) {
		a.Close()
		return
	}
	b, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		a.Close() // the member is down: the dialer sees the connection end
		return
	}
	c := &pconn{from: from, to: to, a: a, b: b}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		c.close()
		return
	}
	n.conns[c] = true
	n.mu.Unlock()
	defer func() {
		c.close()
		n.mu.Lock()
		delete(n.conns, c)
		n.mu.Unlock()
	}()
	done := make(chan struct{}, 2)
	go func() { n.pump(c, a, b); done <- struct{}{} }()
	go func() { n.pump(c, b, a); done <- struct{}{} }()
	<-done
	c.close()
	<-done
}

var errCut = errors.New("partitioned")

// pump forwards frames from src to dst, applying the faults, until either
// side fails or the pair is cut.
func (n *Net) pump(c *pconn, src, dst net.Conn) error {
	var h [4]byte
	for {
		if _, err := io.ReadFull(src, h[:]); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(h[:])
		if size > maxFrame {
			return fmt.Errorf("frame of %d bytes", size)
		}
		frame := make([]byte, 4+size)
		copy(frame, h[:])
		if _, err := io.ReadFull(src, frame[4:]); err != nil {
			return err
		}
		if n.isCut(c.from, c.to) {
			return errCut
		}
		drop, dup, delay := n.decide()
		if delay > 0 {
			time.Sleep(delay)
		}
		if drop {
			continue
		}
		if _, err := dst.Write(frame); err != nil {
			return err
		}
		if dup {
			if _, err := dst.Write(frame); err != nil {
				return err
			}
		}
	}
}
