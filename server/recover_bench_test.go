package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/tree"
)

// snapshotOf returns the snapshot body of a tree of n znodes of 100 bytes,
// fuzzy (as one written while the server runs) or not (as at a shutdown),
// spread over 100 parents as a tree of services would be, plus one parent
// with n/2 children, as a queue or a lock directory can have.
func snapshotOf(b *testing.B, n int, fuzzy bool) []byte {
	b.Helper()
	s := &Server{tree: tree.New(), sessions: newSessionTable(2*time.Second, 0), log: slog.New(slog.DiscardHandler), quit: make(chan struct{})}
	value := bytes.Repeat([]byte("v"), 100)
	zxid := int64(1)
	for p := range 100 {
		s.tree.Create(fmt.Sprintf("/svc%d", p), nil, tree.OpenACL, 0, 0, zxid, 1)
		zxid++
	}
	s.tree.Create("/queue", nil, tree.OpenACL, 0, 0, zxid, 1)
	for i := range n {
		path := fmt.Sprintf("/svc%d/node-%010d", i%100, i)
		if i%2 == 1 {
			path = fmt.Sprintf("/queue/q-%010d", i)
		}
		s.tree.Create(path, value, tree.OpenACL, 0, 0, zxid, 1)
		zxid++
	}
	var buf bytes.Buffer
	encode := s.encodeSnapshot // parents first, as at a shutdown
	if fuzzy {
		encode = s.encodeFuzzySnapshot // in the node map's order
	}
	if err := encode(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecodeSnapshot is the bulk of a restart: a snapshot body of
// 100k and 1M znodes made into the tree.
func BenchmarkDecodeSnapshot(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, fuzzy := range []bool{false, true} {
			b.Run(fmt.Sprintf("znodes=%dk/fuzzy=%v", n/1000, fuzzy), func(b *testing.B) {
				benchDecode(b, snapshotOf(b, n, fuzzy), n)
			})
		}
	}
}

func benchDecode(b *testing.B, body []byte, n int) {
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		s := &Server{sessions: newSessionTable(2*time.Second, 0), log: slog.New(slog.DiscardHandler)}
		if err := s.decodeSnapshot(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
		if got := s.tree.NodeCount(); got < n {
			b.Fatalf("%d znodes restored, want %d", got, n)
		}
	}
}
