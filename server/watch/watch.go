// Package watch is the watch manager: one-shot data, exist and child
// watches and the persistent and persistent-recursive watches of addWatch,
// keyed by path and watcher (a client connection). It imports only wire.
//
// Trigger runs on the applier while the tree's write lock is held, so a
// watcher's Notify must only enqueue. The manager locks itself.
package watch

import (
	"slices"
	"sort"
	"sync"

	"github.com/zkgo/zkgo/server/wire"
)

// Watcher receives notifications; a client connection implements it.
type Watcher interface {
	Notify(ev wire.WatcherEvent)
	// SessionID names the watcher in the wchc/wchp four-letter words.
	SessionID() int64
}

// Kind is a kind of watch.
type Kind int

// Watch kinds. Exist watches are data watches registered on a missing node.
const (
	Data Kind = iota
	Child
	Persistent
	PersistentRecursive
)

type set map[Watcher]struct{}

// The tables. As in Apache 3.8, a persistent or recursive watch has a data
// side and a child side, each removable on its own by removeWatches; the
// child side of a recursive watch never fires but counts for check and remove.
const (
	tData = iota
	tChild
	tPersData
	tPersChild
	tRecData
	tRecChild
	numTables
)

var tablesOf = [...][]int{
	Data:                {tData},
	Child:               {tChild},
	Persistent:          {tPersData, tPersChild},
	PersistentRecursive: {tRecData, tRecChild},
}

// Manager holds every watch of a server.
type Manager struct {
	mu     sync.Mutex
	tables [numTables]map[string]set
}

// New returns an empty manager.
func New() *Manager {
	m := &Manager{}
	for i := range m.tables {
		m.tables[i] = make(map[string]set)
	}
	return m
}

// Add registers a watch of kind k on path for w.
func (m *Manager) Add(k Kind, path string, w Watcher) {
	m.mu.Lock()
	for _, t := range tablesOf[k] {
		s := m.tables[t][path]
		if s == nil {
			s = make(set)
			m.tables[t][path] = s
		}
		s[w] = struct{}{}
	}
	m.mu.Unlock()
}

// Trigger fires the watches that an event of type typ on path concerns and
// removes the one-shot ones, as Apache's WatchManager.triggerWatch does.
// Each watcher gets at most one notification per call.
func (m *Manager) Trigger(typ int32, path string) { m.TriggerFunc(typ, path, nil) }

// TriggerFunc is Trigger where only the watchers allow accepts are notified
// (nil: all); the one-shot watches of the others are consumed all the same,
// as Apache's ServerCnxn drops a notification of a znode the client may
// not read. It returns how many watchers it found on the data side (data,
// exist, persistent and recursive watches) and on the child side, each
// watcher counted once per side, notified or not: Apache's two
// WatchManagers' node_*_watch_count.
func (m *Manager) TriggerFunc(typ int32, path string, allow func(Watcher) bool) (dataN, childN int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path}
	var done, side map[Watcher]struct{} // notified in this call; found on this side
	fire := func(s set) {
		for w := range s {
			if done == nil {
				done = make(map[Watcher]struct{}, len(s))
				side = make(map[Watcher]struct{}, len(s))
			}
			side[w] = struct{}{}
			if _, ok := done[w]; ok {
				continue
			}
			done[w] = struct{}{}
			if allow == nil || allow(w) {
				w.Notify(ev)
			}
		}
	}
	oneShot := func(t int) {
		if s := m.tables[t][path]; s != nil {
			delete(m.tables[t], path)
			fire(s)
		}
	}
	if typ != wire.EventNodeChildrenChanged {
		oneShot(tData)
		fire(m.tables[tPersData][path])
		// Recursive watches: data events of the path and every descendant.
		if len(m.tables[tRecData]) > 0 {
			for p := path; p != ""; p = wire.Parent(p) {
				fire(m.tables[tRecData][p])
			}
		}
		dataN = len(side)
		clear(side)
	}
	if typ == wire.EventNodeChildrenChanged || typ == wire.EventNodeDeleted {
		oneShot(tChild)
		fire(m.tables[tPersChild][path])
		childN = len(side)
	}
	return dataN, childN
}

// Remove deletes w's watches of the given wire watcher type (WatcherChildren,
// WatcherData or WatcherAny) on path and reports whether any existed. With
// remove false (checkWatches) it only reports whether any connection holds
// such a watch on path, as Apache 3.8 does.
// A persistent or recursive watch loses only the side named, as in 3.8.
func (m *Manager) Remove(path string, w Watcher, typ int32, remove bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	var tables []int
	switch typ {
	case wire.WatcherChildren:
		tables = []int{tChild, tPersChild, tRecChild}
	case wire.WatcherData:
		tables = []int{tData, tPersData, tRecData}
	case wire.WatcherAny:
		tables = []int{tData, tChild, tPersData, tPersChild, tRecData, tRecChild}
	}
	found := false
	for _, k := range tables {
		s := m.tables[k][path]
		if !remove && len(s) > 0 {
			// checkWatches: Apache 3.8 answers OK when any connection
			// watches the path (observed); the removal is client-side.
			found = true
			continue
		}
		if _, ok := s[w]; !ok {
			continue
		}
		found = true
		if remove {
			delete(s, w)
			if len(s) == 0 {
				delete(m.tables[k], path)
			}
		}
	}
	return found
}

// RemoveWatcher drops every watch of w (its connection closed).
func (m *Manager) RemoveWatcher(w Watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tables {
		for path, s := range t {
			if _, ok := s[w]; ok {
				delete(s, w)
				if len(s) == 0 {
					delete(t, path)
				}
			}
		}
	}
}

// Count returns the number of watches (path, watcher pairs) in all tables.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range m.tables {
		for _, s := range t {
			n += len(s)
		}
	}
	return n
}

// Summary is the wchs view: distinct watchers, watched paths and total
// watches, over the data table as Apache reports (persistent included).
func (m *Manager) Summary() (watchers, paths, total int) {
	byPath := m.ByPath()
	ws := map[int64]struct{}{}
	for _, sids := range byPath {
		total += len(sids)
		for _, s := range sids {
			ws[s] = struct{}{}
		}
	}
	return len(ws), len(byPath), total
}

// ByPath returns path -> watching session ids (wchp), sorted.
func (m *Manager) ByPath() map[string][]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]int64{}
	seen := map[string]map[int64]bool{}
	for _, t := range m.tables {
		for path, s := range t {
			if seen[path] == nil {
				seen[path] = map[int64]bool{}
			}
			for w := range s {
				sid := w.SessionID()
				if !seen[path][sid] {
					seen[path][sid] = true
					out[path] = append(out[path], sid)
				}
			}
		}
	}
	for _, v := range out {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	}
	return out
}

// BySession returns session id -> watched paths (wchc), sorted.
func (m *Manager) BySession() map[int64][]string {
	out := map[int64][]string{}
	for path, sids := range m.ByPath() {
		for _, s := range sids {
			out[s] = append(out[s], path)
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// DataTable returns path -> session ids of the data-watch table as Apache
// keeps it: data and exist watches plus persistent ones (wchs/wchc/wchp).
func (m *Manager) DataTable() map[string][]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]int64{}
	for _, t := range []int{tData, tPersData, tRecData} {
		for path, s := range m.tables[t] {
			for w := range s {
				sid := w.SessionID()
				if !slices.Contains(out[path], sid) {
					out[path] = append(out[path], sid)
				}
			}
		}
	}
	return out
}
