package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are command lines, right and wrong, for both fuzz targets.
var fuzzSeeds = []string{
	"get -s /a", "get /a -s -o json", "ls -sw /", "ls -R -l /", "create -s -e -t 10 /a data world:anyone:cdrwa",
	"set -v 3 /a x", "set /a -- -x", "delete -v", "get -o", "get -o=json /a", "get --output=yaml /a", "get --base64 /a",
	"ls -", "ls --", "ls -zz /", "ls ---s /", "get -=x /", "setAcl /a digest:u:p:rw,world:anyone", "setAcl /a x",
	"reconfig -remove 3", "reconfig -v zz -add 1=a:1:2;3", "reconfig -members x -remove 1", "reconfig -s",
	"addWatch -m PERSISTENT /a", "addWatch -m bogus /a", "removewatches /a -c -d -a -l", "deleteall /a -b 0",
	"deleteall /a -b -5", "tree -d -1 /", "tree -d 99999999999 /", "find / '[' ", "du /", "getEphemerals",
	"getAllChildrenNumber /a/", "ls2 / watch", "stat -w //a", "create /a/../b", "create /\x00", "config -c -s -w",
	"printwatches maybe", "redo 99", "redo -1", "redo x", "history", "help get", "help nope", "get --help",
	"addauth digest", "addauth", "sync", "whoami extra", `get "/a b"`, `set /a 'x y`, "\"", "'", "\t", " ",
}

// FuzzParseArgs feeds any command line to the option parser of every
// command and to the offline parts of the shell (line splitting,
// completion, ACL, connect string and reconfig parsing): none may panic,
// and ParseArgs must only return the command's own options and the
// words it was given.
func FuzzParseArgs(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	sh, err := New(Config{Server: "127.0.0.1:1", Out: io.Discard, Err: io.Discard})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := SplitLine(line)
		_ = sh.Complete(line)
		for _, w := range words {
			_, _ = ParseConnectString(w)
			_ = ValidatePath(w)
			_, _ = parseACL(io.Discard, w)
			_, _ = normaliseServer(w)
		}
		for _, cmd := range sh.Commands() {
			flags := append(slices.Clone(cmd.Flags), outputFlags...)
			opts, pos, err := ParseArgs(flags, words)
			if err != nil {
				if !IsUsage(err) {
					t.Fatalf("%s %q: error %v is not a usage error", cmd.Name, words, err)
				}
				continue
			}
			for name := range opts {
				if !slices.ContainsFunc(flags, func(f Flag) bool { return f.Name == name }) {
					t.Fatalf("%s %q: option %q is not one of the command's", cmd.Name, words, name)
				}
			}
			// Positional arguments are words of the line, in order.
			i := 0
			for _, p := range pos {
				for i < len(words) && words[i] != p {
					i++
				}
				if i == len(words) {
					t.Fatalf("%s %q: positional %q not in the line (in order)", cmd.Name, words, p)
				}
				i++
			}
			if cmd.Name == "reconfig" {
				delete(opts, "file") // no reading of arbitrary files
				_, _, _, _, _ = parseReconfig(opts)
			}
			_, _ = opts.Int32("v", -1)
			_ = WantsHelp(cmd, words)
		}
	})
}

// FuzzShellRun runs any command line through the shell against an
// in-process server, under a chroot so that changes stay inside it. No
// command may panic. Lines that would read or write arbitrary files
// (export, import, -f, -file), connect elsewhere, block until Ctrl-C
// (watch), or cost a reconnect each time (addauth with an unknown scheme:
// AUTHFAILED closes the connection) are skipped.
func FuzzShellRun(f *testing.F) {
	sh, err := New(Config{Server: "127.0.0.1:1"})
	if err != nil {
		f.Fatal(err)
	}
	names := []string{}
	for _, c := range sh.Commands() {
		names = append(names, c.Name)
	}
	// The command is picked by a number, so that the fuzzer spends its
	// time on arguments rather than on finding command names.
	for _, s := range fuzzSeeds {
		if w := SplitLine(s); len(w) > 0 {
			if i := slices.Index(names, w[0]); i >= 0 {
				f.Add(uint8(i), strings.Join(w[1:], " "))
			}
		}
	}
	addr := testServer(f)
	conn := oracle(f, addr)
	// A fresh root: the fuzzer may set ACLs nobody can undo (an external
	// test server keeps it; an in-process one is thrown away).
	root := fmt.Sprintf("/fuzz-%d", time.Now().UnixNano())
	mustCreate(f, conn, root, nil, 0)
	mustCreate(f, conn, root+"/a", []byte("x"), 0)
	var out bytes.Buffer
	sh, err = New(Config{Server: addr + root, Timeout: 4 * time.Second, Out: &out, Err: &out, In: strings.NewReader("")})
	if err != nil {
		f.Fatal(err)
	}
	defer sh.Close()
	f.Fuzz(func(t *testing.T, cmd uint8, args string) {
		words := append([]string{names[int(cmd)%len(names)]}, SplitLine(args)...)
		switch words[0] {
		case "export", "import", "connect", "watch", "quit", "exit", "addauth":
			return
		}
		for _, w := range words {
			if w == "-f" || w == "-file" || strings.HasPrefix(w, "-f=") || strings.HasPrefix(w, "-file=") {
				return
			}
		}
		out.Reset()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sh.Run(ctx, words)
	})
}
