package shell

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/testwait"
)

// TestLineShell runs the shell on piped input: shell-only commands
// (history, redo, printwatches, version, close, connect) and watch lines
// printed between commands.
func TestLineShell(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/ls")
	script := strings.Join([]string{
		"create /ls a",
		"ls -w /ls",
		"create /ls/x",
		"printwatches",
		"history",
		"redo 1",
		"version",
		"close",
		"connect " + addr,
		"get /ls",
		"printwatches off",
		"printwatches",
		"bogus",
		"quit",
		"get /ls",
	}, "\n") + "\n"
	var out, errb bytes.Buffer
	sh, err := New(Config{Server: addr, Timeout: 10 * time.Second, Out: &out, Err: &errb, In: strings.NewReader(script)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Interactive(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	o := out.String()
	for _, want := range []string{
		"Connecting to " + addr + "\n",
		"\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n",
		"[]\n",
		"\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeChildrenChanged path:/ls\n",
		"printwatches is on\n",
		"0 - create /ls a\n1 - ls -w /ls\n2 - create /ls/x\n3 - printwatches\n4 - history\n",
		"[x]\n", // redo 1
		"ZooKeeper CLI version: " + Version + "\n",
		"a\nprintwatches is off\n",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("stdout lacks %q:\n%s", want, o)
		}
	}
	if strings.Count(o, "\na\n") != 1 {
		t.Errorf("commands after quit ran:\n%s", o)
	}
	e := errb.String()
	for _, want := range []string{"Created /ls\n", "Created /ls/x\n", "Command not found: bogus\n", "\tls [-s] [-w] [-R] [-l] path\n"} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
}

// The completer's child cache is dropped when the children change (its
// own child watch fires), and that watch is never shown to the user.
func TestCompletionCache(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	freshTree(t, conn, "/cc")
	mustCreate(t, conn, "/cc", nil, 0)
	mustCreate(t, conn, "/cc/a", nil, 0)
	sh, err := New(Config{Server: addr, Timeout: 10 * time.Second, Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	c, err := sh.Client(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Events() // the connect event
	texts := func() []string {
		var out []string
		for _, s := range sh.Complete("ls /cc/") {
			out = append(out, s.Text)
		}
		return out
	}
	if got := texts(); len(got) != 1 || got[0] != "/cc/a" {
		t.Fatalf("first completion %q", got)
	}
	mustCreate(t, conn, "/cc/b", nil, 0)
	testwait.For(t, "cache refresh", func() bool { return len(texts()) == 2 })
	if ev := c.Events(); len(ev) != 0 {
		t.Errorf("completer's watch shown to the user: %+v", ev)
	}
	// A watch the user set on the same node is shown.
	if _, _, err := c.Children("/cc", true); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, conn, "/cc/c", nil, 0)
	testwait.For(t, "user watch event", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.events) > 0
	})
	if ev := c.Events(); len(ev) != 1 || ev[0].Path != "/cc" {
		t.Errorf("events %+v", ev)
	}
}

// TestInteractiveAnnouncesWait: in the shell, a command that waits for a
// session says so on stderr after a second (a lost quorum otherwise looks
// like a hung shell), before the command's own error; a one-shot command
// (Run, as `zk get` in a script) does not.
func TestInteractiveAnnouncesWait(t *testing.T) {
	addr := silentServer(t)
	var out, errb bytes.Buffer
	sh, err := New(Config{Server: addr, Timeout: 2 * time.Second, Out: &out, Err: &errb, In: strings.NewReader("ls /\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Interactive(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := "Waiting up to 2s for a session (Ctrl-C gives up)\n" +
		"cannot connect to " + addr + ": no session within 2s\n"
	if e := errb.String(); !strings.Contains(e, want) {
		t.Errorf("stderr = %q, want it to hold %q", e, want)
	}

	errb.Reset()
	sh, err = New(Config{Server: addr, Timeout: 1500 * time.Millisecond, Out: &out, Err: &errb})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if err := sh.Run(testCtx(t), []string{"ls", "/"}); err == nil {
		t.Fatal("ls / with no server answering succeeded")
	}
	if e := errb.String(); strings.Contains(e, "Waiting") {
		t.Errorf("one-shot command announced its wait: %q", e)
	}
}
