package tree

import (
	"fmt"
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

const benchNodes = 100_000

// benchPaths spreads n nodes over 100 parents: /b/p00/n000000 ...
func benchPaths(n int) (parents, paths []string) {
	for i := 0; i < 100; i++ {
		parents = append(parents, fmt.Sprintf("/b/p%02d", i))
	}
	for i := 0; i < n; i++ {
		paths = append(paths, fmt.Sprintf("%s/n%06d", parents[i%100], i))
	}
	return parents, paths
}

// benchTree returns a tree holding the benchmark's parents and nodes.
func benchTree(b *testing.B, parents, paths []string) *Tree {
	b.Helper()
	t := New()
	zxid := int64(1)
	t.Create("/b", nil, OpenACL, 0, 1, zxid, 0)
	for i, p := range parents {
		zxid++
		t.Create(p, nil, OpenACL, 0, int32(i+1), zxid, 0)
	}
	cv := make(map[string]int32)
	data := make([]byte, 64)
	for _, p := range paths {
		zxid++
		parent := wire.Parent(p)
		cv[parent]++
		if t.Create(p, data, OpenACL, 0, cv[parent], zxid, 0) == nil {
			b.Fatalf("create %s failed", p)
		}
	}
	return t
}

// BenchmarkTreeCreate creates 100k nodes per iteration, as the applier
// does (write lock per txn).
func BenchmarkTreeCreate(b *testing.B) {
	parents, paths := benchPaths(benchNodes)
	data := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		t := New()
		t.Create("/b", nil, OpenACL, 0, 1, 1, 0)
		for i, p := range parents {
			t.Create(p, nil, OpenACL, 0, int32(i+1), int64(i+2), 0)
		}
		for i, p := range paths {
			t.Lock()
			t.Create(p, data, OpenACL, 0, int32(i/100+1), int64(i+200), 0)
			t.Unlock()
		}
	}
	b.ReportMetric(float64(benchNodes), "nodes/op")
}

// BenchmarkTreeGet reads node Stats and data from a 100k-node tree under
// the read lock, as the read path does.
func BenchmarkTreeGet(b *testing.B) {
	parents, paths := benchPaths(benchNodes)
	t := benchTree(b, parents, paths)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t.RLock()
		n := t.Get(paths[i%len(paths)])
		st := n.Stat()
		t.RUnlock()
		if st.DataLength != 64 {
			b.Fatal("wrong node")
		}
		i += 7919 // a prime stride: no cache-friendly sequential walk
	}
}

// BenchmarkTreeSetData rewrites data in a 100k-node tree under the write lock.
func BenchmarkTreeSetData(b *testing.B) {
	parents, paths := benchPaths(benchNodes)
	t := benchTree(b, parents, paths)
	data := make([]byte, 64)
	b.ReportAllocs()
	i := 0
	zxid := int64(1 << 20)
	for b.Loop() {
		zxid++
		t.Lock()
		n := t.SetData(paths[i%len(paths)], data, int32(i), zxid, 0)
		t.Unlock()
		if n == nil {
			b.Fatal("missing node")
		}
		i += 7919
	}
}

// BenchmarkTreeChildren lists a parent of 1000 children.
func BenchmarkTreeChildren(b *testing.B) {
	parents, paths := benchPaths(benchNodes)
	t := benchTree(b, parents, paths)
	b.ReportAllocs()
	for b.Loop() {
		t.RLock()
		kids := t.Get(parents[3]).Children()
		t.RUnlock()
		if len(kids) != benchNodes/100 {
			b.Fatalf("%d children", len(kids))
		}
	}
}

// BenchmarkWalkFuzzy walks 100k nodes as a snapshot does (256 per hold of
// the read lock).
func BenchmarkWalkFuzzy(b *testing.B) {
	parents, paths := benchPaths(benchNodes)
	t := benchTree(b, parents, paths)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := t.WalkFuzzy(256, func(string, *Node) error { n++; return nil }, func() error { return nil })
		if err != nil || n != benchNodes+len(parents)+5 {
			b.Fatalf("walked %d nodes: %v", n, err)
		}
	}
}

// BenchmarkCountDescendants counts /b's 100,100 descendants, as
// getAllChildrenNumber does under the read lock (writes wait meanwhile).
func BenchmarkCountDescendants(b *testing.B) {
	parents, paths := benchPaths(benchNodes)
	t := benchTree(b, parents, paths)
	b.ReportAllocs()
	for b.Loop() {
		t.RLock()
		n := t.CountDescendants("/b")
		t.RUnlock()
		if n != benchNodes+len(parents) {
			b.Fatalf("%d descendants", n)
		}
	}
}
