// Package testwait lets tests wait for a condition with a deadline
// instead of sleeping. Production code never imports it.
package testwait

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Deadline is how long For waits: far longer than anything takes on a
// busy machine, so that only a real failure reaches it.
const Deadline = 20 * time.Second

// For polls cond every few milliseconds until it holds, and fails the
// test, naming what it waited for, once Deadline has passed.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Deadline, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer that one goroutine may write (a logger, a
// command's output) while the test polls what it holds.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what has been written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
