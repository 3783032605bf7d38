package nemesis

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

const (
	keysParent = "/n"   // the registers: /n/k0 … /n/k<keys-1>
	seqParent  = "/seq" // sequential children, never deleted
	ephParent  = "/eph" // each client's ephemerals
)

var acl = zk.WorldACL(zk.PermAll)

// History records operations with real-time bounds for porcupine.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// acked are acknowledged writes by kind, for the report.
	acked, unknown, failed map[string]int
	// seqs are the acknowledged sequential nodes (all must exist at the end).
	seqs []string
	// staleNs moves each read's start back: sync is answered by the
	// leader without a quorum round, as in Apache ZooKeeper, so a leader
	// cut off from the others answers from its own state until it steps
	// down (within syncLimit ticks) while a new leader may commit more.
	staleNs int64
}

func newHistory() *History {
	return &History{start: time.Now(), acked: map[string]int{}, unknown: map[string]int{}, failed: map[string]int{}}
}

func (h *History) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *History) add(client int, in input, call int64, out output) {
	ret := h.now()
	if out.code == codeUnknown {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (h *History) count(m map[string]int, kind string) {
	h.mu.Lock()
	m[kind]++
	h.mu.Unlock()
}

// codeOf maps a client error to a result code.
func codeOf(err error) int {
	switch {
	case err == nil:
		return codeOK
	case errors.Is(err, zk.ErrNoNode):
		return codeNoNode
	case errors.Is(err, zk.ErrNodeExists):
		return codeNodeExists
	case errors.Is(err, zk.ErrBadVersion):
		return codeBadVersion
	}
	return codeUnknown
}

// worker is one client session running random operations.
type worker struct {
	id      int
	conn    *zk.Conn
	rng     *rand.Rand
	h       *History
	keys    int
	known   map[string]int32 // last version seen per key (for conditional writes)
	n       int
	ephs    int
	timeout time.Duration
}

// run runs operations until stop is closed.
func (w *worker) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		w.step()
	}
}

// gen is the key generation: every genEvery the workers move to fresh
// keys and a fresh sequence parent, so that each key's history (and the
// operations of unknown outcome in it) stays small for porcupine.
func (w *worker) gen() int { return int(time.Since(w.h.start) / genEvery) }

const genEvery = 3 * time.Second

func (w *worker) key() string {
	return fmt.Sprintf("%s/g%d-k%d", keysParent, w.gen(), w.rng.IntN(w.keys))
}

// version picks -1 or the last version seen of key (sometimes stale).
func (w *worker) version(key string) int32 {
	if v, ok := w.known[key]; ok && w.rng.IntN(3) > 0 {
		return v
	}
	return -1
}

func (w *worker) step() {
	w.n++
	data := fmt.Sprintf("c%d-%d", w.id, w.n)
	r := w.rng.IntN(100)
	switch {
	case r < 30:
		w.get(w.key())
	case r < 45:
		key := w.key()
		in := input{op: opCreate, key: key, data: data}
		call := w.h.now()
		_, err := w.conn.Create(key, []byte(data), 0, acl)
		w.finish(in, call, output{code: codeOf(err)}, err)
		if err == nil {
			w.known[key] = 0
		}
	case r < 75:
		key := w.key()
		in := input{op: opSet, key: key, data: data, version: w.version(key)}
		call := w.h.now()
		st, err := w.conn.Set(key, []byte(data), in.version)
		out := output{code: codeOf(err)}
		if err == nil {
			out.version = st.Version
			w.known[key] = st.Version
		}
		w.finish(in, call, out, err)
	case r < 85:
		key := w.key()
		in := input{op: opDelete, key: key, version: w.version(key)}
		call := w.h.now()
		err := w.conn.Delete(key, in.version)
		w.finish(in, call, output{code: codeOf(err)}, err)
		if err == nil {
			delete(w.known, key)
		}
	case r < 93:
		parent := fmt.Sprintf("%s/g%d", seqParent, w.gen())
		in := input{op: opSeq, key: parent}
		call := w.h.now()
		p, err := w.conn.Create(parent+"/s-", []byte(data), zk.FlagSequence, acl)
		if errors.Is(err, zk.ErrNoNode) {
			// The generation's parent does not exist yet: no effect, not
			// in the history.
			_, err := w.conn.Create(parent, nil, 0, acl)
			w.tally("create-parent", err)
			return
		}
		out := output{code: codeOf(err)}
		if err == nil {
			suffix := strings.TrimPrefix(p, parent+"/s-")
			n, perr := strconv.ParseInt(suffix, 10, 64)
			if perr != nil {
				out.code = codeNodeExists // not a valid answer: the check fails on it
			} else {
				out.seq = n
			}
			w.h.mu.Lock()
			w.h.seqs = append(w.h.seqs, p)
			w.h.mu.Unlock()
		}
		w.finish(in, call, out, err)
	default:
		// Ephemerals: created and deleted by their session, gone with it.
		w.ephs++
		p := fmt.Sprintf("%s/c%d-%d", ephParent, w.id, w.ephs)
		_, err := w.conn.Create(p, nil, zk.FlagEphemeral, acl)
		w.tally("create-ephemeral", err)
		if err == nil && w.rng.IntN(2) == 0 {
			w.tally("delete-ephemeral", w.conn.Delete(p, -1))
		}
	}
}

// get is a linearizable read: sync, then getData, on the same session.
func (w *worker) get(key string) {
	call := w.h.now()
	if _, err := w.conn.Sync(key); err != nil {
		w.tally("sync", err)
		return // a failed read has no effect: not in the history
	}
	data, st, err := w.conn.Get(key)
	code := codeOf(err)
	if code == codeUnknown || code == codeNodeExists || code == codeBadVersion {
		w.tally("get", err)
		return
	}
	out := output{code: code}
	if err == nil {
		out.data, out.version = string(data), st.Version
		w.known[key] = st.Version
	}
	w.h.add(w.id, input{op: opGet, key: key}, call-w.h.staleNs, out)
}

func (w *worker) finish(in input, call int64, out output, err error) {
	w.h.add(w.id, in, call, out)
	w.tally([]string{"create", "set", "delete", "get", "create-sequential"}[in.op], err)
}

func (w *worker) tally(kind string, err error) {
	switch codeOf(err) {
	case codeOK:
		w.h.count(w.h.acked, kind)
	case codeUnknown:
		w.h.count(w.h.unknown, kind+": "+err.Error())
	default:
		w.h.count(w.h.failed, kind+": "+err.Error())
	}
}
