package server

import (
	"sort"
	"sync"
	"time"
)

// session is one client session. The id and timeout are replicated state
// (createSession/closeSession txns); the rest is local bookkeeping.
type session struct {
	id       int64
	timeout  time.Duration
	expireAt time.Time // bucketed to the next tick, as Apache's ExpiryQueue
	conn     *conn
	closing  bool // closeSession submitted: refuse further requests
	// local: known to this member only, never replicated: a read-only
	// server's sessions, and with localSessionsEnabled every new one
	// until an ephemeral upgrades it (a createSession txn).
	local bool
}

// sessionTable holds the sessions of the server.
type sessionTable struct {
	mu       sync.Mutex
	tick     time.Duration
	sessions map[int64]*session
	nextID   int64
}

func newSessionTable(tick time.Duration, myid int64) *sessionTable {
	// As SessionTrackerImpl.initializeNextSessionId: server id in the top
	// byte, a millisecond clock in the next 40 bits, a counter below. We use
	// the wall clock so ids stay unique across restarts.
	next := (time.Now().UnixMilli() << 24) >> 8
	next = int64(uint64(next) &^ (0xFF << 56))
	next |= myid << 56
	return &sessionTable{tick: tick, sessions: make(map[int64]*session), nextID: next}
}

func (t *sessionTable) newID() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		id := t.nextID
		t.nextID++
		if id == -1<<63 || id == 0 || t.sessions[id] != nil {
			continue
		}
		return id
	}
}

func (t *sessionTable) bucket(now time.Time, timeout time.Duration) time.Time {
	exp := now.Add(timeout)
	if t.tick <= 0 {
		return exp
	}
	ms := exp.UnixMilli()
	tick := t.tick.Milliseconds()
	return time.UnixMilli((ms/tick + 1) * tick)
}

// add records a session (applier, on createSession; a local session
// there is now global).
func (t *sessionTable) add(id int64, timeout time.Duration) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil {
		s = &session{id: id}
		t.sessions[id] = s
	}
	s.local = false
	s.timeout = timeout
	s.expireAt = t.bucket(time.Now(), timeout)
	return s
}

func (t *sessionTable) remove(id int64) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	delete(t.sessions, id)
	return s
}

func (t *sessionTable) get(id int64) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessions[id]
}

// touch extends a live session; alive is false when the session is gone
// or closing, local when it is known to this member only.
func (t *sessionTable) touch(id int64) (alive, local bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || s.closing {
		return false, false
	}
	s.expireAt = t.bucket(time.Now(), s.timeout)
	return true, s.local
}

// addLocal records a new local session.
func (t *sessionTable) addLocal(id int64, timeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sessions[id] = &session{id: id, timeout: timeout, expireAt: t.bucket(time.Now(), timeout), local: true}
}

// upgrade turns a local session global from this member's point of view
// (its createSession txn is on its way): ok is false when the session is
// not local, or gone, so that one request upgrades it once.
func (t *sessionTable) upgrade(id int64) (timeout time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || !s.local || s.closing {
		return 0, false
	}
	s.local = false
	return s.timeout, true
}

// expired marks and returns the global sessions whose time has come.
func (t *sessionTable) expired(now time.Time) []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int64
	for id, s := range t.sessions {
		if !s.local && !s.closing && !s.expireAt.After(now) {
			s.closing = true
			out = append(out, id)
		}
	}
	return out
}

// markClosing flags a session as closing; false if it is unknown or already closing.
func (t *sessionTable) markClosing(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || s.closing {
		return false
	}
	s.closing = true
	return true
}

func (t *sessionTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// counts returns how many sessions are global and how many local.
func (t *sessionTable) counts() (global, local int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		if s.local {
			local++
		}
	}
	return len(t.sessions) - local, local
}

// SessionInfo describes one session for the dump four-letter word.
type SessionInfo struct {
	ID       int64
	Timeout  time.Duration
	ExpireAt time.Time
	Local    bool
}

func (t *sessionTable) list() []SessionInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SessionInfo, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, SessionInfo{ID: s.id, Timeout: s.timeout, ExpireAt: s.expireAt, Local: s.local})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// sessionPassword derives a session's 16-byte password as Apache does:
// java.util.Random(sessionId ^ superSecret).nextBytes(16). Every server
// computes the same password, so a session can move between servers.
func sessionPassword(id int64) []byte {
	const superSecret = 0xB3415C00
	const mult = 0x5DEECE66D
	const mask = (1 << 48) - 1
	seed := (uint64(id^superSecret) ^ mult) & mask
	next := func() int32 {
		seed = (seed*mult + 0xB) & mask
		return int32(seed >> 16)
	}
	out := make([]byte, 16)
	for i := 0; i < len(out); {
		r := next()
		for n := 0; n < 4 && i < len(out); n++ {
			out[i] = byte(r)
			r >>= 8
			i++
		}
	}
	return out
}

// restartClocks gives every session a full timeout from now, as a new
// leader's session tracker does.
func (t *sessionTable) restartClocks() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for _, s := range t.sessions {
		s.expireAt = t.bucket(now, s.timeout)
	}
}

// replaceWith takes o's sessions (a snapshot received from the leader),
// keeping the connections of sessions that survive.
func (t *sessionTable) replaceWith(o *sessionTable) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range o.sessions {
		if old := t.sessions[id]; old != nil {
			s.conn = old.conn
		}
	}
	t.sessions = o.sessions
}

// expiredLocal removes and returns the local sessions whose time has come
// (a member expires them itself, without txns).
func (t *sessionTable) expiredLocal(now time.Time) []*session {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*session
	for id, s := range t.sessions {
		if s.local && !s.expireAt.After(now) {
			delete(t.sessions, id)
			out = append(out, s)
		}
	}
	return out
}

// dropLocal forgets every local session.
func (t *sessionTable) dropLocal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.sessions {
		if s.local {
			delete(t.sessions, id)
		}
	}
}
