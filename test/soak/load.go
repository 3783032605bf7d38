package soak

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-zookeeper/zk"
)

// value is what a key holds: absent, or present with data.
type value struct {
	exists bool
	data   string
}

func (v value) String() string {
	if !v.exists {
		return "absent"
	}
	return fmt.Sprintf("%q", v.data)
}

// keyState is what a client knows of one of its keys: one candidate when
// every write to it was acknowledged, more after writes whose outcome is
// unknown.
type keyState struct {
	path  string
	cands []value
	lost  bool // a fault was counted; the next read takes whatever is there
}

func (k *keyState) known() (value, bool) {
	if len(k.cands) == 1 {
		return k.cands[0], true
	}
	return value{}, false
}

func (k *keyState) set(v value) { k.cands, k.lost = []value{v}, false }

func (k *keyState) maybe(v value) {
	if !slices.Contains(k.cands, v) {
		k.cands = append(k.cands, v)
	}
}

// stats are the load's counters, shared by every client.
type stats struct {
	ops   atomic.Int64
	acked atomic.Int64 // acknowledged writes

	mu     sync.Mutex
	errs   map[string]int64
	faults []string // inconsistencies seen during the run (lost or wrong values)
}

func (s *stats) err(kind string) {
	s.mu.Lock()
	if s.errs == nil {
		s.errs = make(map[string]int64)
	}
	s.errs[kind]++
	s.mu.Unlock()
}

func (s *stats) fault(format string, args ...any) {
	s.mu.Lock()
	s.faults = append(s.faults, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *stats) errorCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.errs {
		n += c
	}
	return n
}

// definite reports whether err is an answer of the server about the
// operation (so it did or did not happen), not a lost connection.
func definite(err error) bool {
	return err == nil || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode) ||
		errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNotEmpty)
}

// client is one load client: its own session, its own keys.
type client struct {
	id   int
	conn *zk.Conn
	rng  *rand.Rand
	keys []*keyState
	seqs []string // acknowledged sequential nodes, oldest first
	gone []string // acknowledged deletes of sequential nodes (some: a sample)
	ephs []string // this session's ephemerals
	// delUnknown: the last delete of seqs[0] had an unknown outcome.
	delUnknown bool
	st         *stats
	n          int
	ephN       int
	stopc      <-chan struct{}
}

var acl = zk.WorldACL(zk.PermAll)

// Bounds on what a client keeps, so the tree does not grow with the run.
const (
	maxSeqs = 50
	maxEphs = 5
)

func (c *client) stopped() bool {
	select {
	case <-c.stopc:
		return true
	default:
		return false
	}
}

// record counts an operation's error (if any) and reports whether its
// outcome is definite.
func (c *client) record(op string, err error) bool {
	c.st.ops.Add(1)
	if definite(err) {
		return true // an answer (NoNode on a read is one), not an error
	}
	c.st.err(op + ": " + err.Error())
	return false
}

// read syncs and reads key k; ok is false when the read failed.
func (c *client) read(k *keyState) (value, bool) {
	if _, err := c.conn.Sync(k.path); err != nil {
		c.record("sync", err)
		return value{}, false
	}
	data, _, err := c.conn.Get(k.path)
	c.record("get", err)
	switch {
	case err == nil:
		return value{true, string(data)}, true
	case errors.Is(err, zk.ErrNoNode):
		return value{}, true
	}
	return value{}, false
}

// resolve reads a key whose value is uncertain; a value that is none of
// the candidates is a fault (an acknowledged write lost or a phantom).
func (c *client) resolve(k *keyState) bool {
	v, ok := c.read(k)
	if !ok {
		return false
	}
	if !k.lost && !slices.Contains(k.cands, v) {
		c.st.fault("client %d: %s is %v, expected one of %v", c.id, k.path, v, k.cands)
	}
	k.set(v)
	return true
}

// step runs one random operation.
func (c *client) step() {
	c.n++
	r := c.rng.IntN(100)
	switch {
	case r < 8:
		// Sequential nodes: the client keeps its last maxSeqs (the tree
		// stays bounded, so memory growth means a leak) and deletes older ones.
		if len(c.seqs) >= maxSeqs {
			p := c.seqs[0]
			err := c.conn.Delete(p, -1)
			if !c.record("delete-sequential", err) {
				c.delUnknown = true // the next try may find it gone
				return
			}
			switch {
			case err == nil:
				c.st.acked.Add(1)
				c.gone = append(c.gone, p)
			case errors.Is(err, zk.ErrNoNode) && c.delUnknown:
			default:
				c.st.fault("client %d: delete %s: %v, but its create was acknowledged", c.id, p, err)
			}
			c.seqs, c.delUnknown = c.seqs[1:], false
			return
		}
		p, err := c.conn.Create(fmt.Sprintf("/soak/seq/c%d-", c.id), []byte(fmt.Sprint(c.n)), zk.FlagSequence, acl)
		if c.record("create-sequential", err) && err == nil {
			c.st.acked.Add(1)
			c.seqs = append(c.seqs, p)
		}
		return
	case r < 12:
		// Ephemerals: at most maxEphs per session, the oldest deleted first.
		if len(c.ephs) >= maxEphs {
			err := c.conn.Delete(c.ephs[0], -1)
			if c.record("delete-ephemeral", err) {
				c.ephs = c.ephs[1:] // NoNode: its session expired and took it
			}
			return
		}
		c.ephN++
		p := fmt.Sprintf("/soak/eph/c%d-%d", c.id, c.ephN)
		_, err := c.conn.Create(p, nil, zk.FlagEphemeral, acl)
		if c.record("create-ephemeral", err) && err == nil {
			c.ephs = append(c.ephs, p)
		}
		return
	}
	k := c.keys[c.rng.IntN(len(c.keys))]
	cur, ok := k.known()
	if !ok {
		c.resolve(k)
		return
	}
	data := fmt.Sprintf("c%d-%d", c.id, c.n)
	switch {
	case r < 40: // read and check
		v, ok := c.read(k)
		if ok && v != cur {
			c.st.fault("client %d: read %s = %v, acknowledged %v", c.id, k.path, v, cur)
			k.set(v)
		}
	case !cur.exists:
		_, err := c.conn.Create(k.path, []byte(data), 0, acl)
		c.write(k, "create", err, value{true, data})
	case r < 85:
		_, err := c.conn.Set(k.path, []byte(data), -1)
		c.write(k, "set", err, value{true, data})
	default:
		err := c.conn.Delete(k.path, -1)
		c.write(k, "delete", err, value{})
	}
}

// write records the outcome of a write that would leave k at v.
func (c *client) write(k *keyState, op string, err error, v value) {
	if !c.record(op, err) {
		k.maybe(v)
		return
	}
	if err == nil {
		c.st.acked.Add(1)
		k.set(v)
		return
	}
	// A definite refusal: the server disagrees with what was acknowledged.
	// Counted once; the next operation on k reads what it holds.
	c.st.fault("client %d: %s %s: %v, but it was acknowledged %v", c.id, op, k.path, err, k.cands[0])
	k.cands, k.lost = nil, true
}
