package fourletter

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rw is a client connection: what the client sent, and what it gets.
type fuzzRW struct {
	*bytes.Reader
	out bytes.Buffer
}

func (c *fuzzRW) Write(p []byte) (int, error) { return c.out.Write(p) }

// FuzzServe sends arbitrary bytes as the start of a client connection:
// the first four decide whether it is a four-letter word (IsWord); a
// word answers what Run renders, stmk reads the 8-byte mask after it;
// anything else writes nothing and is left to the frame reader.
func FuzzServe(f *testing.F) {
	for _, w := range append(append([]string(nil), Words...), telnetClose, "\x00\x00\x00\x2c", "RUOK", "ruo") {
		f.Add([]byte(w))
	}
	f.Add([]byte("stmk\x00\x00\x00\x00\x00\x00\x01\x32"))
	f.Add([]byte("stmk\xff\xff\xff\xff\xff\xff\xff\xff trailing"))
	f.Add([]byte("stmk\x01"))
	v := apacheState()
	f.Fuzz(func(t *testing.T, b []byte) {
		word := string(b[:min(4, len(b))])
		c := &fuzzRW{Reader: bytes.NewReader(b[len(word):])}
		known, err := Serve(c, word, v, nil)
		out, runKnown := Run(word, v, nil)
		switch {
		case known != runKnown:
			t.Fatalf("%q: Serve known %v, Run known %v", word, known, runKnown)
		case known && !IsWord(word):
			t.Fatalf("%q is not a word but was answered", word)
		case !known && c.out.Len() > 0:
			t.Fatalf("%q: not a word, but %q was written", word, c.out.String())
		case !known && c.Len() != len(b)-len(word):
			t.Fatalf("%q: not a word, but bytes after it were read", word)
		case known && word == "stmk" && out == "":
			rest := b[4:]
			if len(rest) < 8 {
				if err == nil {
					t.Fatalf("stmk with %d mask bytes: no error", len(rest))
				}
				return
			}
			if want := strconv.FormatInt(int64(binary.BigEndian.Uint64(rest)), 10); c.out.String() != want {
				t.Fatalf("stmk answered %q, want %q", c.out.String(), want)
			}
		case known && word != "crst" && word != "srst" && c.out.String() != out:
			t.Fatalf("%q: Serve wrote %q, Run renders %q", word, c.out.String(), out)
		}
	})
}

// FuzzParseReply feeds arbitrary text as a server's srvr/stat and mntr
// reply (what zk status reads from the network): never a panic, and a
// parsed mntr reply holds only keys that appear in the text.
func FuzzParseReply(f *testing.F) {
	for _, name := range []string{"srvr.txt", "stat.txt", "mntr.txt", "ruok.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "apache-3.8.0", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(notServing + "\n")
	f.Add("mntr is not executed because it is not in the whitelist.\n")
	f.Add("Latency min/avg/max: 1/x/2\nZxid: 0xzz\nMode: standalone\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = ParseSrvr(text)
		m, err := ParseMntr(text)
		if err != nil {
			return
		}
		for k := range m {
			if !strings.Contains(text, k+"\t") {
				t.Fatalf("key %q is not in the text", k)
			}
		}
	})
}
