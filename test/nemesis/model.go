package nemesis

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Operation kinds of the history.
const (
	opCreate = iota // create key with data
	opSet           // setData key data version
	opDelete        // delete key version
	opGet           // sync + getData key
	opSeq           // create sequential child of the sequence parent
)

// Result codes: what the server answered, or unknown (connection lost,
// session expired: the operation may or may not have happened).
const (
	codeOK = iota
	codeNoNode
	codeNodeExists
	codeBadVersion
	codeUnknown
)

var codeNames = []string{"ok", "NONODE", "NODEEXISTS", "BADVERSION", "?"}

// input is one operation on one key (a znode under /n, or the sequence
// parent for opSeq).
type input struct {
	op      int
	key     string
	data    string
	version int32
}

// output is its result: code, and for ok gets the data and version, for
// ok sets the new version, for ok sequential creates the suffix.
type output struct {
	code    int
	data    string
	version int32
	seq     int64
}

// znode is the state of one key.
type znode struct {
	exists  bool
	data    string
	version int32
}

// model is ZooKeeper's create/setData/delete/getData on one znode with
// versions, and the sequence counter of one parent (its cversion, which
// only sequential creates change here). An operation with an unknown
// result may take effect at any point after its call, or never: it gets
// return time +inf in the history and applies as the server would.
var model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(input).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return state{} },
	Step: func(st, in, out any) (bool, any) {
		return step(st.(state), in.(input), out.(output))
	},
	Equal: func(a, b any) bool { return a.(state) == b.(state) },
	DescribeOperation: func(in, out any) string {
		i, o := in.(input), out.(output)
		res := codeNames[o.code]
		switch {
		case o.code != codeOK:
		case i.op == opGet:
			res = fmt.Sprintf("%q v%d", o.data, o.version)
		case i.op == opSet:
			res = fmt.Sprintf("v%d", o.version)
		case i.op == opSeq:
			res = fmt.Sprintf("%010d", o.seq)
		}
		switch i.op {
		case opCreate:
			return fmt.Sprintf("create(%s, %q) -> %s", i.key, i.data, res)
		case opSet:
			return fmt.Sprintf("set(%s, %q, v%d) -> %s", i.key, i.data, i.version, res)
		case opDelete:
			return fmt.Sprintf("delete(%s, v%d) -> %s", i.key, i.version, res)
		case opGet:
			return fmt.Sprintf("get(%s) -> %s", i.key, res)
		default:
			return fmt.Sprintf("create-seq(%s) -> %s", i.key, res)
		}
	},
	DescribeState: func(st any) string {
		s := st.(state)
		if s.seq > 0 {
			return fmt.Sprintf("next %d", s.seq)
		}
		if !s.node.exists {
			return "absent"
		}
		return fmt.Sprintf("%q v%d", s.node.data, s.node.version)
	},
}

// state is a key's znode, or a parent's sequence counter.
type state struct {
	node znode
	seq  int64
}

func step(s state, in input, out output) (bool, any) {
	n := s.node
	unknown := out.code == codeUnknown
	switch in.op {
	case opCreate:
		if n.exists {
			return unknown || out.code == codeNodeExists, s
		}
		next := state{node: znode{true, in.data, 0}}
		return unknown || out.code == codeOK, next
	case opSet:
		if !n.exists {
			return unknown || out.code == codeNoNode, s
		}
		if in.version != -1 && in.version != n.version {
			return unknown || out.code == codeBadVersion, s
		}
		next := state{node: znode{true, in.data, n.version + 1}}
		return unknown || (out.code == codeOK && out.version == n.version+1), next
	case opDelete:
		if !n.exists {
			return unknown || out.code == codeNoNode, s
		}
		if in.version != -1 && in.version != n.version {
			return unknown || out.code == codeBadVersion, s
		}
		return unknown || out.code == codeOK, state{}
	case opGet:
		if !n.exists {
			return out.code == codeNoNode, s
		}
		return out.code == codeOK && out.data == n.data && out.version == n.version, s
	case opSeq:
		next := state{seq: s.seq + 1}
		return unknown || (out.code == codeOK && out.seq == s.seq), next
	}
	return false, s
}
