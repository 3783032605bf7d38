package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// zkserver convert takes over a dataDir Apache 3.8.0 wrote (the files of
// the integration suite's TestConvertApacheData), says what it read, and
// refuses, in one line, while something serves on the client port or when
// there is nothing of Apache's left.
func TestConvertCommand(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "server", "integration", "testdata", "apache-3.8.0", "log", "version-2")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "version-2"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "version-2", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := servertest.FreePorts(t, 1)[0]
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", dir, port)), 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"convert", cfg}, &out, &errb)
	ln.Close()
	if code != 1 || !strings.Contains(errb.String(), "stop Apache ZooKeeper first") || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("with a server on the port: exit %d, stderr %q", code, errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"convert", cfg}, &out, &errb); code != 0 {
		t.Fatalf("convert: exit %d, stderr %q", code, errb.String())
	}
	for _, want := range []string{"snapshot.0: 4 znodes, 0 sessions at zxid 0x0", "59 txns after the snapshot, the last 0x3b", "apache-zookeeper-data", "done:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout %q lacks %q", out.String(), want)
		}
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"convert", cfg}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no Apache ZooKeeper data files") {
		t.Errorf("second convert: exit %d, stderr %q", code, errb.String())
	}

	// And back, the option after the file: one Apache snapshot at the
	// last zxid; then forth again.
	out.Reset()
	errb.Reset()
	if code := run([]string{"convert", cfg, "--to-apache"}, &out, &errb); code != 0 {
		t.Fatalf("convert --to-apache: exit %d, stderr %q", code, errb.String())
	}
	for _, want := range []string{"snapshot.3b: ", "at zxid 0x3b", "zkgo-data", "done:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout %q lacks %q", out.String(), want)
		}
	}
	if code := run([]string{"convert", "--to-apache", cfg}, &out, &errb); code != 1 {
		t.Errorf("a second convert --to-apache: exit %d", code)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"convert", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "at zxid 0x3b") {
		t.Errorf("converting back: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	// A second round keeps the first round's files aside.
	for i, args := range [][]string{{"convert", "--to-apache", cfg}, {"convert", cfg}} {
		out.Reset()
		errb.Reset()
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("round 2, step %d: exit %d, stderr %q", i, code, errb.String())
		}
	}
	if !strings.Contains(out.String(), "apache-zookeeper-data.1\n") {
		t.Errorf("round 2 moved Apache's files to: %q", out.String())
	}
	for _, d := range []string{"zkgo-data", "zkgo-data.1"} {
		if ents, err := os.ReadDir(filepath.Join(dir, d)); err != nil || len(ents) == 0 {
			t.Errorf("%s: %d files, %v", d, len(ents), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "zkgo-data.2")); err == nil {
		t.Error("round 2 spread zkgo's files over more than one directory")
	}
	if code := run([]string{"convert", cfg, "x.cfg"}, &out, &errb); code != 2 {
		t.Errorf("two files: exit %d", code)
	}
}

// Where status asks and convert looks for a running server: the member's
// own client port from its server line first, then clientPort, then the
// secure port; a wildcard address is asked on localhost.
func TestClientAddr(t *testing.T) {
	member := config.Default()
	member.MyID, member.ClientPort = 2, 2181
	member.Servers = []config.Server{{ID: 1, ClientPort: 2191}, {ID: 2, ClientPort: 2192, ClientAddress: "127.0.0.2"}}
	secure := config.Default()
	secure.ClientPort, secure.SecureClientPort, secure.SecureClientPortAddress = 0, 2281, "0.0.0.0"
	plain := config.Default()
	plain.ClientPortAddress = ""
	for _, tc := range []struct {
		name   string
		cfg    *config.Config
		host   string
		port   int
		secure bool
	}{
		{"member", member, "127.0.0.2", 2192, false},
		{"secure only", secure, "localhost", 2281, true},
		{"wildcard", plain, "localhost", plain.ClientPort, false},
	} {
		host, port, sec := clientAddr(tc.cfg)
		if host != tc.host || port != tc.port || sec != tc.secure {
			t.Errorf("%s: %s:%d secure %v, want %s:%d %v", tc.name, host, port, sec, tc.host, tc.port, tc.secure)
		}
	}
}
