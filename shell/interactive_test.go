package shell

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLineShell runs the shell on piped input: shell-only commands
// (history, redo, printwatches, version, close, connect) and watch lines
// printed between commands.
func TestLineShell(t *testing.T) {
	addr := testServer(t)
	conn := oracle(t, addr)
	cleanTree(t, conn, "/ls")
	t.Cleanup(func() { cleanTree(t, conn, "/ls") })
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
