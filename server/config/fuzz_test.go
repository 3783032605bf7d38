package config

import (
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// memDisk serves myid and dynamic files from memory.
type memDisk map[string][]byte

func (m memDisk) readFile(p string) ([]byte, error) {
	if b, ok := m[p]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

func (memDisk) resolve(p string) string { return p }

const fuzzEnsembleCfg = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nclientPort=2181\n" +
	"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"

// FuzzMyID feeds arbitrary bytes as dataDir/myid of an ensemble member:
// never a panic; accepted content is a non-negative decimal id on its
// first line (spaces around it allowed), and errors name the myid file.
func FuzzMyID(f *testing.F) {
	for _, s := range []string{"1", "2\n", " 3 \r\n", "1\nrubbish", "", "x", "-1", "99999999999999999999", "4\n", "0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parse("zoo.cfg", []byte(fuzzEnsembleCfg), memDisk{"/d/myid": b})
		if c == nil {
			t.Fatal("nil config")
		}
		line, _, _ := strings.Cut(string(b), "\n")
		id, perr := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		valid := perr == nil && id >= 0
		if !valid {
			if err == nil || !strings.Contains(err.Error(), "/d/myid") {
				t.Fatalf("myid %q accepted (err %v)", b, err)
			}
			return
		}
		if c.MyID != id {
			t.Fatalf("myid %q gave %d", b, c.MyID)
		}
		if (id >= 1 && id <= 3) != (err == nil) {
			t.Fatalf("myid %d with servers 1-3: err %v", id, err)
		}
	})
}

// FuzzDynamicFile feeds arbitrary bytes as the dynamic configuration file:
// never a panic, and every error line names a file.
func FuzzDynamicFile(f *testing.F) {
	for _, s := range []string{
		"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=127.0.0.1:2889:3889:participant;2182\nserver.3=127.0.0.1:2890:3890:observer;2183\n",
		"server.1=[::1]:2888:3888;[::1]:2181\nversion=100000000\n",
		"tickTime=3\n",
		"server.1=a:1:2:3:4\nserver.x=\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\ndynamicConfigFile=/d/zoo.cfg.dynamic.100000000\n"
		c, err := parse("zoo.cfg", []byte(cfg), memDisk{"/d/myid": []byte("1"), "/d/zoo.cfg.dynamic.100000000": b})
		if c == nil {
			t.Fatal("nil config")
		}
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(l, "zoo.cfg") && !strings.HasPrefix(l, "/d/") {
					t.Fatalf("error line without a file name: %q", l)
				}
			}
		}
	})
}
