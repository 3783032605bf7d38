// Command testsum reads `go test -json` on stdin and prints what a person
// wants from a test run: one line per package as it finishes, the output of
// every failed test in full, every skipped test with its reason, and at the
// end a table of passed, failed and skipped tests per package with a total
// line "N passed, N failed, N skipped". It exits 1 when anything failed,
// including a package that did not build.
//
//	go test -json ./... | go run ./internal/cmd/testsum
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Elapsed    float64
	Output     string
}

type pkgResult struct {
	name                    string
	passed, failed, skipped int
	status                  string // ok, FAIL, skip (no test files)
	elapsed                 float64
	out                     []string            // package-level output
	tests                   map[string][]string // output per running test
	skips                   []string            // "TestX: reason"
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	pkgs := map[string]*pkgResult{}
	var order []string
	buildFailed := false
	get := func(name string) *pkgResult {
		p := pkgs[name]
		if p == nil {
			p = &pkgResult{name: name, tests: map[string][]string{}}
			pkgs[name] = p
			order = append(order, name)
		}
		return p
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not an event: go vet or the go command itself speaking.
			fmt.Fprintln(out, string(line))
			continue
		}
		switch ev.Action {
		case "build-output":
			fmt.Fprint(out, ev.Output)
			continue
		case "build-fail":
			buildFailed = true
			continue
		}
		if ev.Package == "" {
			continue
		}
		p := get(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				p.out = append(p.out, ev.Output)
			case "pass", "fail", "skip":
				p.elapsed = ev.Elapsed
				p.status = map[string]string{"pass": "ok", "fail": "FAIL", "skip": "skip"}[ev.Action]
				report(out, p)
			}
			continue
		}
		switch ev.Action {
		case "output":
			p.tests[ev.Test] = append(p.tests[ev.Test], ev.Output)
		case "pass":
			if !strings.Contains(ev.Test, "/") {
				p.passed++
			}
			delete(p.tests, ev.Test)
		case "skip":
			if !strings.Contains(ev.Test, "/") {
				p.skipped++
				p.skips = append(p.skips, ev.Test+": "+skipReason(p.tests[ev.Test]))
			}
			delete(p.tests, ev.Test)
		case "fail":
			// A subtest's output is its own: print every failed test's,
			// subtests first (they finish before their parent).
			if !strings.Contains(ev.Test, "/") {
				p.failed++
			}
			fmt.Fprintf(out, "--- FAIL: %s (%s)\n", ev.Test, p.name)
			for _, l := range p.tests[ev.Test] {
				fmt.Fprint(out, "    ", l)
			}
			delete(p.tests, ev.Test)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testsum: reading go test output:", err)
		return 1
	}
	return summary(out, pkgs, order, buildFailed)
}

// skipReason is the message of a t.Skip: the last line the test logged
// ("file_test.go:N: message"), which test2json puts before or after the
// "--- SKIP" line depending on the Go version.
func skipReason(lines []string) string {
	reason := ""
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, "_test.go:"); i > 0 && !strings.ContainsAny(l[:i], " \t") {
			reason = l
		}
	}
	if reason == "" {
		return "(no reason given)"
	}
	return reason
}

// report prints a package's line when it finishes; a failed package also
// gets its own output (a panic, a timeout, a TestMain failure).
func report(out io.Writer, p *pkgResult) {
	switch p.status {
	case "skip":
		return // no test files
	case "FAIL":
		fmt.Fprintf(out, "FAIL\t%s\t%.1fs\t%d passed, %d failed, %d skipped\n", p.name, p.elapsed, p.passed, p.failed, p.skipped)
		if p.failed == 0 {
			for _, l := range p.out {
				fmt.Fprint(out, "    ", l)
			}
			// A test that never finished (a panic or timeout) has its output here.
			for name, lines := range p.tests {
				fmt.Fprintf(out, "    --- output of %s:\n", name)
				for _, l := range lines {
					fmt.Fprint(out, "    ", l)
				}
			}
		}
	default:
		fmt.Fprintf(out, "ok\t%s\t%.1fs\t%d passed, %d skipped\n", p.name, p.elapsed, p.passed, p.skipped)
	}
	for _, s := range p.skips {
		fmt.Fprintf(out, "    skipped %s\n", s)
	}
}

func summary(out io.Writer, pkgs map[string]*pkgResult, order []string, buildFailed bool) int {
	sort.Strings(order)
	var passed, failed, skipped int
	var failedPkgs []string
	for _, name := range order {
		p := pkgs[name]
		passed += p.passed
		failed += p.failed
		skipped += p.skipped
		if p.status == "FAIL" || p.status == "" {
			failedPkgs = append(failedPkgs, name)
		}
	}
	fmt.Fprintf(out, "\ntests: %d passed, %d failed, %d skipped (%d packages, %s)\n",
		passed, failed, skipped, len(order), time.Now().UTC().Format(time.RFC3339))
	if len(failedPkgs) > 0 {
		fmt.Fprintf(out, "failed packages: %s\n", strings.Join(failedPkgs, " "))
	}
	if buildFailed || failed > 0 || len(failedPkgs) > 0 {
		return 1
	}
	return 0
}
