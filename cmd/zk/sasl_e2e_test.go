package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// zk logs in with SASL DIGEST-MD5 (-sasl, -jaas) as zkCli.sh does with a
// JAAS Client section, on every connection before its first request.
func TestSASLOptions(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.SASL.Users = map[string]string{"bob": "bobsecret", "super": "adminsecret"}
		c.SASL.Provider = true
		c.SASL.SuperUsers = []string{"super"}
	}))
	addr := srv.Addr()
	dir := t.TempDir()
	jaas := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(jaas, []byte("Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"bob\"\n  password=\"bobsecret\";\n};\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func(r result, what string) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", what, r.code, r.stderr)
		}
		return r
	}
	if r := ok(runZk(t, nil, "", "-server", addr, "-sasl", "bob:bobsecret", "whoami"), "whoami"); !strings.Contains(r.stdout, "\nsasl: bob\n") {
		t.Fatalf("whoami: %q", r.stdout)
	}
	// Options after the command, and the password from the environment.
	ok(runZk(t, []string{"ZK_SASL_PASSWORD=bobsecret"}, "", "create", "/sasl", "x", "-server", addr, "-sasl", "bob"), "create")
	ok(runZk(t, nil, "", "-server", addr, "-jaas", jaas, "setAcl", "/sasl", "sasl:bob:cdrwa"), "setAcl")
	if r := runZk(t, nil, "", "-server", addr, "get", "/sasl"); r.code != 1 || !strings.Contains(r.stderr, "Insufficient permission") {
		t.Fatalf("an anonymous get: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := ok(runZk(t, nil, "", "get", "/sasl", "-jaas", jaas, "-server", addr), "bob's get"); r.stdout != "x\n" {
		t.Fatalf("bob's get: %q", r.stdout)
	}
	if r := ok(runZk(t, nil, "", "-server", addr, "-sasl", "super:adminsecret", "get", "/sasl"), "super's get"); r.stdout != "x\n" {
		t.Fatalf("super's get: %q", r.stdout)
	}
	// A refused login ends at once with one line, exit 1.
	r := runZk(t, nil, "", "-server", addr, "-sasl", "bob:wrong", "get", "/sasl")
	if r.code != 1 || r.stderr != "zk: connect "+addr+": SASL login failed as bob: AuthFailed\n" {
		t.Fatalf("a wrong password: exit %d, stderr %q", r.code, r.stderr)
	}
	// Usage errors: both options, no password anywhere, an unreadable file.
	for _, args := range [][]string{
		{"-sasl", "bob:x", "-jaas", jaas},
		{"-sasl", "bob"},
	} {
		r := runZk(t, []string{"ZK_SASL_PASSWORD"}, "", append([]string{"-server", addr, "ls", "/"}, args...)...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if r := runZk(t, nil, "", "-server", addr, "-jaas", filepath.Join(dir, "missing"), "ls", "/"); r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("a missing JAAS file: exit %d, stderr %q", r.code, r.stderr)
	}
}
