package main

import (
	"strings"
	"testing"
)

const sample = `{"Action":"start","Package":"a"}
{"Action":"run","Package":"a","Test":"TestOK"}
{"Action":"output","Package":"a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"a","Test":"TestOK","Elapsed":0.1}
{"Action":"run","Package":"a","Test":"TestSkip"}
{"Action":"output","Package":"a","Test":"TestSkip","Output":"    x_test.go:9: needs Apache\n"}
{"Action":"output","Package":"a","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"a","Test":"TestSkip"}
{"Action":"pass","Package":"a","Elapsed":0.2}
{"Action":"run","Package":"b","Test":"TestBad"}
{"Action":"output","Package":"b","Test":"TestBad","Output":"    b_test.go:3: got 1, want 2\n"}
{"Action":"run","Package":"b","Test":"TestBad/sub"}
{"Action":"output","Package":"b","Test":"TestBad/sub","Output":"    b_test.go:7: sub failed here\n"}
{"Action":"fail","Package":"b","Test":"TestBad/sub"}
{"Action":"fail","Package":"b","Test":"TestBad","Elapsed":0.1}
{"Action":"fail","Package":"b","Elapsed":0.3}
`

func TestSummaryCountsAndFails(t *testing.T) {
	var out strings.Builder
	code := run(strings.NewReader(sample), &out)
	s := out.String()
	if code != 1 {
		t.Errorf("exit code %d for a failed test, want 1\n%s", code, s)
	}
	for _, want := range []string{
		"ok\ta\t0.2s\t1 passed, 1 skipped",
		"skipped TestSkip: x_test.go:9: needs Apache",
		"--- FAIL: TestBad (b)",
		"got 1, want 2",
		"--- FAIL: TestBad/sub (b)",
		"sub failed here",
		"FAIL\tb\t0.3s\t0 passed, 1 failed, 0 skipped",
		"tests: 1 passed, 1 failed, 1 skipped (2 packages",
		"failed packages: b",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestPanicAndBuildFailure(t *testing.T) {
	in := `{"Action":"run","Package":"c","Test":"TestBoom"}
{"Action":"output","Package":"c","Test":"TestBoom","Output":"panic: boom\n"}
{"Action":"output","Package":"c","Output":"FAIL\tc\t0.01s\n"}
{"Action":"fail","Package":"c","Elapsed":0.01}
{"ImportPath":"d","Action":"build-output","Output":"d/x.go:1: syntax error\n"}
{"ImportPath":"d","Action":"build-fail"}
`
	var out strings.Builder
	if code := run(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{"panic: boom", "d/x.go:1: syntax error", "failed packages: c"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAllPassedExitsZero(t *testing.T) {
	in := `{"Action":"run","Package":"a","Test":"TestOK"}
{"Action":"pass","Package":"a","Test":"TestOK"}
{"Action":"pass","Package":"a","Elapsed":0.1}
vet: nothing to report
`
	var out strings.Builder
	if code := run(strings.NewReader(in), &out); code != 0 {
		t.Errorf("exit code %d, want 0\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "vet: nothing to report") {
		t.Errorf("non-JSON lines must pass through:\n%s", out.String())
	}
}
