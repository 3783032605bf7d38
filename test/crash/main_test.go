package crash

import (
	"testing"

	"github.com/zkgo/zkgo/internal/suitesum"
)

// suite counts the tests that call track for the summary TestMain prints.
var suite = suitesum.New("crash")

// track counts t in the summary.
func track(t *testing.T) { suite.Track(t) }

func TestMain(m *testing.M) { suite.Main(m) }
