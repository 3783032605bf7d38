package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

func runZK(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"zk"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Options of bench go before or after each other, and the global -server
// and -o before the command count too.
func TestBenchCommand(t *testing.T) {
	srv := servertest.Start(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"global options first", []string{"-server", srv.Addr(), "-o", "json", "bench", "-duration", "200ms", "-warmup", "0s", "-op", "set", "-clients", "2"}},
		{"options after the command", []string{"bench", "-op", "set", "-clients", "2", "-duration", "200ms", "-warmup=0s", "-server", srv.Addr(), "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runZK(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if strings.Count(out, "\n") != 1 {
				t.Errorf("-o json must print one line, got %q", out)
			}
			var res struct {
				Op      string   `json:"op"`
				Clients int      `json:"clients"`
				Servers []string `json:"servers"`
				Ops     int64    `json:"ops"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("not JSON: %v: %q", err, out)
			}
			if res.Op != "set" || res.Clients != 2 || !slices.Equal(res.Servers, []string{srv.Addr()}) || res.Ops == 0 {
				t.Errorf("result = %+v", res)
			}
			if errOut != "" {
				t.Errorf("stderr not empty without a terminal: %q", errOut)
			}
		})
	}
}

// bench's sessions log in with -sasl (before or after the command) on a
// server that lets no session without a SASL login do anything
// (sessionRequireClientSASLAuth); a wrong password, or none, fails the
// run with one line.
func TestBenchSASL(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.SASL.Users = map[string]string{"bob": "bobsecret"}
		c.SASL.Provider = true
		c.EnforceAuth, c.EnforceAuthSchemes = true, []string{"sasl"}
	}))
	run := []string{"-duration", "200ms", "-warmup", "0s", "-op", "set", "-clients", "2", "-o", "json"}
	for _, args := range [][]string{
		append([]string{"-server", srv.Addr(), "-sasl", "bob:bobsecret", "bench"}, run...),
		append(append([]string{"bench"}, run...), "-server", srv.Addr(), "-sasl", "bob:bobsecret"),
	} {
		code, out, errOut := runZK(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		var res struct {
			Ops    int64            `json:"ops"`
			Errors map[string]int64 `json:"errors"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Ops == 0 || len(res.Errors) != 0 {
			t.Fatalf("%v: %+v %v (%q)", args, res, err, out)
		}
	}
	for _, tc := range []struct {
		login, want string
	}{
		// The codes Apache answers when the sasl scheme is enforced.
		{"bob:wrong", "connect " + srv.Addr() + ": SASL login failed as bob: Session closed because client failed to authenticate"},
		{"", "Session closed because client failed to authenticate"},
	} {
		args := append([]string{"bench", "-server", srv.Addr()}, run...)
		if tc.login != "" {
			args = append(args, "-sasl", tc.login)
		}
		code, _, errOut := runZK(t, args...)
		if code == 0 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("login %q: exit %d, stderr %q; want one line with %q", tc.login, code, errOut, tc.want)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "-op", "scan"}, `unknown op "scan"`},
		{[]string{"bench", "-clients", "0", "-size", "-1"}, "clients: 0"},
		{[]string{"bench", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"bench", "extra"}, "unexpected argument extra"},
		{[]string{"bench", "-server", "127.0.0.1:2181/chroot"}, "chroot"},
		{[]string{"bench", "-o", "xml"}, "unknown format xml"},
	} {
		code, _, errOut := runZK(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("zk %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	code, out, _ := runZK(t, "bench", "-h")
	if code != 0 || !strings.Contains(out, "usage: zk bench") || !strings.Contains(out, "-read-pct") {
		t.Errorf("bench -h: exit %d, %q", code, out)
	}
}

func TestStatusCommand(t *testing.T) {
	srv := servertest.Start(t)
	code, out, errOut := runZK(t, "status", "-server", srv.Addr())
	if code != 0 || !strings.Contains(out, "standalone") || !strings.Contains(out, "health: ok") {
		t.Errorf("status of one standalone server: exit %d, out %q, err %q", code, out, errOut)
	}

	dead := freeAddr(t)
	code, out, _ = runZK(t, "-server", srv.Addr()+","+dead, "-o", "json", "status")
	if code != 1 {
		t.Errorf("one of two down: exit %d, want 1", code)
	}
	var rep struct {
		Health  string `json:"health"`
		Servers []struct {
			Server string `json:"server"`
			State  string `json:"state"`
		} `json:"servers"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v: %q", err, out)
	}
	if rep.Health != "degraded" || len(rep.Servers) != 2 || rep.Servers[1].State != "down" {
		t.Errorf("report = %+v", rep)
	}
	code, _, _ = runZK(t, "status", "-timeout-4lw", "500ms", "-server", dead)
	if code != 2 {
		t.Errorf("nobody answers: exit %d, want 2", code)
	}
}

func TestParseAnywhere(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	a := fs.String("a", "", "")
	b := fs.Bool("b", false, "")
	help, pos, err := parseAnywhere(fs, []string{"p1", "-a", "1", "p2", "-b", "--", "-a", "p3"})
	if err != nil || help {
		t.Fatal(help, err)
	}
	if *a != "1" || !*b || !slices.Equal(pos, []string{"p1", "p2", "-a", "p3"}) {
		t.Errorf("a=%q b=%v positional=%q", *a, *b, pos)
	}
	if help, _, _ := parseAnywhere(flag.NewFlagSet("y", flag.ContinueOnError), []string{"x", "-help"}); !help {
		t.Error("-help after an argument not reported")
	}
}
