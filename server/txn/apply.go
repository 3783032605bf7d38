package txn

import (
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// Event is a change that may fire watches.
type Event struct {
	Type int32 // wire.EventNodeCreated ... wire.EventNodeChildrenChanged
	Path string
	ACL  []wire.ACL // the znode's ACL when it changed: only readers are notified
}

// aclOf returns the ACL of the node at path (nil when there is none).
func aclOf(t *tree.Tree, path string) []wire.ACL {
	if n := t.Get(path); n != nil {
		return t.ACL(n)
	}
	return nil
}

// Result is what applying a txn produced, for the reply.
type Result struct {
	Type int32 // txn type (TypeError for a failed request)
	Err  wire.Code
	Path string    // create: the created path
	Stat wire.Stat // create, setData, setACL, reconfig: the node's Stat after the change
	Data []byte    // reconfig: the new /zookeeper/config
	Ops  []Result  // multi
}

// Apply applies a committed txn to t (whose write lock the caller holds)
// and returns the result and the watch events, in the order Apache's
// DataTree.processTxn fires them.
func Apply(t *tree.Tree, x *Txn) (Result, []Event) { return ApplyTo(t, x, nil) }

// ApplyTo is Apply appending the events to events, so that a caller that
// applies txn after txn can reuse one buffer instead of allocating one per
// txn (2,000 events for a multi of 1,000 creates).
func ApplyTo(t *tree.Tree, x *Txn, events []Event) (Result, []Event) {
	res := apply(t, x, &events)
	return res, events
}

func apply(t *tree.Tree, x *Txn, events *[]Event) Result {
	res := Result{Type: x.Type}
	switch x.Type {
	case TypeCreate, TypeCreateContainer, TypeCreateTTL:
		if x.Path == "/" || wire.CheckStoredPath(x.Path) != nil {
			// Only bytes that did not come from a prep step (a corrupt
			// log, a hostile leader) name such a path; a node "//" or
			// "/a/" would make tree walks loop or go astray.
			res.Err = wire.CodeNoNode
			return res
		}
		n := t.Create(x.Path, x.Data, x.ACL, x.EphemeralOwner, x.ParentCVersion, x.Zxid, x.Time)
		if n == nil {
			// Replaying a txn the snapshot already holds: Apache ignores NODEEXISTS here.
			if n = t.Get(x.Path); n == nil {
				res.Err = wire.CodeNoNode
				return res
			}
			res.Err = wire.CodeNodeExists
		}
		res.Path = x.Path
		res.Stat = n.Stat()
		*events = append(*events, Event{wire.EventNodeCreated, x.Path, t.ACL(n)},
			Event{wire.EventNodeChildrenChanged, parentOf(x.Path), aclOf(t, parentOf(x.Path))})
	case TypeDelete, TypeDeleteContainer:
		a := aclOf(t, x.Path)
		if !t.Delete(x.Path, x.Zxid) {
			res.Err = wire.CodeNoNode
			return res
		}
		*events = append(*events, Event{wire.EventNodeDeleted, x.Path, a},
			Event{wire.EventNodeChildrenChanged, parentOf(x.Path), aclOf(t, parentOf(x.Path))})
	case TypeSetData:
		n := t.SetData(x.Path, x.Data, x.Version, x.Zxid, x.Time)
		if n == nil {
			res.Err = wire.CodeNoNode
			return res
		}
		res.Stat = n.Stat()
		*events = append(*events, Event{wire.EventNodeDataChanged, x.Path, t.ACL(n)})
	case TypeReconfig:
		// As Apache's DataTree: a setData of /zookeeper/config with
		// version -1; the membership's version is this txn's zxid.
		data := ConfigText(string(x.Data), x.Zxid)
		n := t.SetData(ConfigNode, data, -1, x.Zxid, x.Time)
		if n == nil {
			res.Err = wire.CodeNoNode
			return res
		}
		res.Path = ConfigNode
		res.Data = data
		res.Stat = n.Stat()
		*events = append(*events, Event{wire.EventNodeDataChanged, ConfigNode, t.ACL(n)})
	case TypeSetACL:
		n := t.SetACL(x.Path, x.ACL, x.Version)
		if n == nil {
			res.Err = wire.CodeNoNode
			return res
		}
		res.Stat = n.Stat()
	case TypeCheck, TypeCreateSession:
	case TypeCloseSession:
		// The paths the txn names, then any other ephemeral the session
		// still owns here (Apache's DataTree.killSession does the same).
		for _, paths := range [][]string{x.Paths, t.Ephemerals(x.SessionID)} {
			for _, p := range paths {
				a := aclOf(t, p)
				if t.Delete(p, x.Zxid) {
					*events = append(*events, Event{wire.EventNodeDeleted, p, a},
						Event{wire.EventNodeChildrenChanged, parentOf(p), aclOf(t, parentOf(p))})
				}
			}
		}
	case TypeError:
		res.Err = x.Err
	case TypeMulti:
		failed := false
		for i := range x.Ops {
			if x.Ops[i].Type == TypeError {
				failed = true
			}
		}
		res.Ops = make([]Result, len(x.Ops))
		for i := range x.Ops {
			op := &x.Ops[i]
			if failed {
				res.Ops[i] = Result{Type: TypeError, Err: op.Err}
				continue
			}
			op.Header = Header{SessionID: x.SessionID, Cxid: x.Cxid, Zxid: x.Zxid, Time: x.Time, Type: op.Type}
			res.Ops[i] = apply(t, op, events)
		}
	}
	return res
}

func parentOf(p string) string {
	if q := wire.Parent(p); q != "" {
		return q
	}
	return "/"
}
