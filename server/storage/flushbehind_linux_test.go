package storage

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// What goes through flushBehind lands in the file unchanged, however the
// writes fall across chunk boundaries, and every whole chunk after the
// start offset has been handed to writeback.
func TestFlushBehindWritesThrough(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const start = 100
	head := bytes.Repeat([]byte{'h'}, start)
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	w := newFlushBehind(f, start)
	rng := rand.New(rand.NewPCG(1, 2))
	var want bytes.Buffer
	want.Write(head)
	for want.Len() < 3*flushBehindChunk+12345 {
		p := make([]byte, 1+rng.IntN(300<<10))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		n, err := w.Write(p)
		if err != nil || n != len(p) {
			t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
		}
		want.Write(p)
	}
	written := int64(want.Len() - start)
	if handed := w.queued - start; handed != written/flushBehindChunk*flushBehindChunk {
		t.Errorf("%d bytes handed to writeback after %d written, want every whole chunk", handed, written)
	}
	if w.prev != w.queued-flushBehindChunk {
		t.Errorf("last chunk handed over starts at %d, want %d", w.prev, w.queued-flushBehindChunk)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file differs from what was written (%d vs %d bytes)", len(got), want.Len())
	}
}
