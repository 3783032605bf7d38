package completions

import (
	"os/exec"
	"strings"
	"testing"
)

func TestScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		s, err := Script(sh)
		if err != nil || !strings.Contains(s, "zk __complete") {
			t.Errorf("%s: %v %q", sh, err, s)
		}
		// Syntax check with the shell itself when it is installed.
		if bin, err := exec.LookPath(sh); err == nil {
			cmd := exec.Command(bin, "-n")
			cmd.Stdin = strings.NewReader(s)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v: %s", sh, err, out)
			}
		}
	}
	if _, err := Script("tcsh"); err == nil {
		t.Error("tcsh accepted")
	}
}
