package suitesum

import (
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	s := New("demo")
	t.Run("group", func(t *testing.T) {
		t.Run("pass", func(t *testing.T) { s.Track(t) })
		t.Run("skip", func(t *testing.T) { s.Track(t); t.Skip("not here") })
		t.Run("pass2", func(t *testing.T) { s.Track(t) })
	})
	var b strings.Builder
	s.Report(&b)
	if got, want := b.String(), "demo: 2 passed, 0 failed, 1 skipped\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
