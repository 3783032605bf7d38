// Package suitesum counts the tests of a suite (a test package) and prints
// the line its TestMain ends with, "<suite>: N passed, N failed, N skipped",
// the summary every reliability suite prints.
package suitesum

import (
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// Suite counts the tests that called Track.
type Suite struct {
	name string

	mu                      sync.Mutex
	passed, failed, skipped int
}

// New returns an empty count for the suite called name.
func New(name string) *Suite { return &Suite{name: name} }

// Track counts t (a test or subtest) once it has finished.
func (s *Suite) Track(t testing.TB) {
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case t.Failed():
			s.failed++
		case t.Skipped():
			s.skipped++
		default:
			s.passed++
		}
	})
}

// Report writes the summary line to w.
func (s *Suite) Report(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "%s: %d passed, %d failed, %d skipped\n", s.name, s.passed, s.failed, s.skipped)
}

// Main runs the tests, prints the summary to stderr and exits with the
// tests' status; call it from TestMain.
func (s *Suite) Main(m *testing.M) {
	code := m.Run()
	s.Report(os.Stderr)
	os.Exit(code)
}
