package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/shell"
)

// FuzzRun runs the whole command line (global options, command, its
// options and arguments) in-process against a port nobody listens on: no
// input may panic (run turns a panic into "zk: internal error", which
// fails here), and the exit status is 0, 1 or 2 with at most a few lines
// on stderr. Commands that start processes or load (ensemble, bench),
// touch files (export, import, -f, -file) or pick another server are
// skipped.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"get /a", "get -s /a -o json", "-o yaml ls /", "-timeout 10 stat /", "-timeout -1 get /", "-r get /",
		"get /a -timeout", "get /a -timeout=abc", "--", "get -- -x", "-bogus", "help", "help get", "help nope",
		"get --help", "reconfig -v 1x -remove 3", "reconfig -members a -add b", "completion zsh", "completion",
		"__complete ls /", "__complete get -", "create /a b c d", "set -v x /a b", "ls -R -l -s -w /", "",
		"quit", "-o", "-o xml get /", "tree -d x /", "deleteall /a -b 0", "setAcl /a bad", "addWatch -m x /",
	} {
		f.Add(s)
	}
	refused := freeAddr(f)
	f.Fuzz(func(t *testing.T, line string) {
		words := shell.SplitLine(line)
		for _, w := range words {
			switch {
			case w == "ensemble", w == "bench", w == "export", w == "import",
				w == "-f", w == "-file", strings.HasPrefix(w, "-f="), strings.HasPrefix(w, "-file="),
				strings.Contains(w, "server"), w == "connect":
				return
			}
		}
		t.Setenv("ZK_SERVER", refused)
		var out, errb bytes.Buffer
		code := run(append([]string{"zk", "-server", refused, "-timeout", "2000"}, words...), strings.NewReader(""), &out, &errb)
		if strings.Contains(errb.String(), "internal error") || strings.Contains(errb.String(), "goroutine ") {
			t.Fatalf("zk %q: %s", words, errb.String())
		}
		if code < 0 || code > 2 {
			t.Fatalf("zk %q: exit %d", words, code)
		}
	})
}
