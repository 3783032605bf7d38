package nemesis

import (
	"math"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

func op(client int, in input, call, ret int64, out output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

// The checker must reject what ZooKeeper would never answer, and accept
// what a lost answer leaves open.
func TestModel(t *testing.T) {
	const k = "/n/k0"
	create := input{op: opCreate, key: k, data: "a"}
	set := input{op: opSet, key: k, data: "b", version: 0}
	get := input{op: opGet, key: k}
	for _, tc := range []struct {
		name string
		h    []porcupine.Operation
		ok   bool
	}{
		{"acknowledged create then read", []porcupine.Operation{
			op(0, create, 0, 10, output{code: codeOK}),
			op(1, get, 20, 30, output{code: codeOK, data: "a"}),
		}, true},
		{"acknowledged create lost", []porcupine.Operation{
			op(0, create, 0, 10, output{code: codeOK}),
			op(1, get, 20, 30, output{code: codeNoNode}),
		}, false},
		{"stale read after an acknowledged set", []porcupine.Operation{
			op(0, create, 0, 10, output{code: codeOK}),
			op(0, set, 20, 30, output{code: codeOK, version: 1}),
			op(1, get, 40, 50, output{code: codeOK, data: "a"}),
		}, false},
		{"set answered with the wrong version", []porcupine.Operation{
			op(0, create, 0, 10, output{code: codeOK}),
			op(0, set, 20, 30, output{code: codeOK, version: 5}),
		}, false},
		{"conditional set on a stale version succeeds", []porcupine.Operation{
			op(0, create, 0, 10, output{code: codeOK}),
			op(0, input{op: opSet, key: k, data: "c", version: -1}, 20, 30, output{code: codeOK, version: 1}),
			op(1, set, 40, 50, output{code: codeOK, version: 2}),
		}, false},
		{"unknown create may have happened", []porcupine.Operation{
			op(0, create, 0, math.MaxInt64, output{code: codeUnknown}),
			op(1, get, 20, 30, output{code: codeOK, data: "a"}),
		}, true},
		{"unknown create may not have happened", []porcupine.Operation{
			op(0, create, 0, math.MaxInt64, output{code: codeUnknown}),
			op(1, get, 20, 30, output{code: codeNoNode}),
		}, true},
		{"sequence numbers in order", []porcupine.Operation{
			op(0, input{op: opSeq, key: "/seq/g0"}, 0, 10, output{code: codeOK, seq: 0}),
			op(1, input{op: opSeq, key: "/seq/g0"}, 20, 30, output{code: codeOK, seq: 1}),
		}, true},
		{"sequence number reused", []porcupine.Operation{
			op(0, input{op: opSeq, key: "/seq/g0"}, 0, 10, output{code: codeOK, seq: 0}),
			op(1, input{op: opSeq, key: "/seq/g0"}, 20, 30, output{code: codeOK, seq: 0}),
		}, false},
		{"sequence gap left by an unknown create", []porcupine.Operation{
			op(0, input{op: opSeq, key: "/seq/g0"}, 0, math.MaxInt64, output{code: codeUnknown}),
			op(1, input{op: opSeq, key: "/seq/g0"}, 20, 30, output{code: codeOK, seq: 1}),
		}, true},
	} {
		if got := porcupine.CheckOperations(model, tc.h); got != tc.ok {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestDiffTrees(t *testing.T) {
	a := map[string]node{"/": {}, "/x": {Data: "1"}}
	b := map[string]node{"/": {}, "/x": {Data: "1"}}
	if d := diffTrees(a, b); d != "" {
		t.Fatalf("equal trees differ: %s", d)
	}
	b["/x"] = node{Data: "1"}
	bx := b["/x"]
	bx.Stat.Mzxid = 7
	b["/x"] = bx
	b["/y"] = node{}
	d := diffTrees(a, b)
	for _, want := range []string{"/x:", "mzxid=0x7", "extra /y"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff %q lacks %q", d, want)
		}
	}
}
