package watch

import (
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

type recorder struct{ got []wire.WatcherEvent }

func (r *recorder) Notify(ev wire.WatcherEvent) { r.got = append(r.got, ev) }
func (r *recorder) SessionID() int64            { return 1 }

// A delete fires the data and the child watches of the path, a watcher
// with both notified once; each side counts the watchers it found (as
// Apache's data and child WatchManagers do for node_deleted_watch_count),
// those the ACL filter keeps from the notification included. One-shot
// watches go, persistent ones stay, and a recursive watch on an ancestor
// is on the data side.
func TestTriggerCounts(t *testing.T) {
	m := New()
	both, child, rec, hidden := &recorder{}, &recorder{}, &recorder{}, &recorder{}
	m.Add(Data, "/a/b", both)
	m.Add(Child, "/a/b", both)
	m.Add(Child, "/a/b", child)
	m.Add(PersistentRecursive, "/a", rec)
	m.Add(Data, "/a/b", hidden)
	allow := func(w Watcher) bool { return w != Watcher(hidden) }

	d, c := m.TriggerFunc(wire.EventNodeDeleted, "/a/b", allow)
	if d != 3 || c != 2 {
		t.Fatalf("delete found %d data-side and %d child-side watchers, want 3 (both, rec, hidden) and 2 (both, child)", d, c)
	}
	for _, r := range []*recorder{both, child, rec} {
		if len(r.got) != 1 || r.got[0].Type != wire.EventNodeDeleted || r.got[0].Path != "/a/b" {
			t.Fatalf("notifications %+v, want one NodeDeleted of /a/b", r.got)
		}
	}
	if len(hidden.got) != 0 {
		t.Fatal("a watcher the filter refused was notified")
	}

	// The one-shot watches are gone; the recursive one remains, and a
	// children event of /a is on the child side only, where it has none.
	if d, c := m.TriggerFunc(wire.EventNodeDataChanged, "/a/b", nil); d != 1 || c != 0 {
		t.Fatalf("setData after the delete found %d and %d watchers, want the recursive one only", d, c)
	}
	if d, c := m.TriggerFunc(wire.EventNodeChildrenChanged, "/a", nil); d != 0 || c != 0 {
		t.Fatalf("children of /a found %d and %d watchers, want none", d, c)
	}
}
