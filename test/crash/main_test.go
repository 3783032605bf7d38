package crash

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// results counts the tests (and subtests) that called track.
var results struct {
	sync.Mutex
	passed, failed, skipped int
}

// track counts t in the summary TestMain prints.
func track(t *testing.T) {
	t.Cleanup(func() {
		results.Lock()
		defer results.Unlock()
		switch {
		case t.Failed():
			results.failed++
		case t.Skipped():
			results.skipped++
		default:
			results.passed++
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	results.Lock()
	fmt.Fprintf(os.Stderr, "crash: %d passed, %d failed, %d skipped\n", results.passed, results.failed, results.skipped)
	results.Unlock()
	os.Exit(code)
}
