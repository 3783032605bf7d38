package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
)

// clientDigest works out Apache 3.8's tree digest (DigestCalculator
// version 2, summed as NodeHashMapImpl's AdHash) from what a client reads:
// every znode's path ("" for the root), data and stat, with the stored
// cversion (child creations: (cversion + numChildren) / 2) and nothing for
// the znodes under /zookeeper/.
func clientDigest(t *testing.T, c *zk.Conn) int64 {
	t.Helper()
	var sum uint64
	var walk func(path string)
	walk = func(path string) {
		data, st, err := c.Get(path)
		must(t, err)
		if !strings.HasPrefix(path, "/zookeeper/") {
			name := path
			if name == "/" {
				name = ""
			}
			var b []byte
			b = append(b, name...)
			b = append(b, data...)
			for _, v := range []int64{st.Czxid, st.Mzxid, st.Pzxid, st.Ctime, st.Mtime} {
				b = binary.BigEndian.AppendUint64(b, uint64(v))
			}
			stored := (st.Cversion + st.NumChildren) / 2
			for _, v := range []int32{st.Version, stored, st.Aversion} {
				b = binary.BigEndian.AppendUint32(b, uint32(v))
			}
			b = binary.BigEndian.AppendUint64(b, uint64(st.EphemeralOwner))
			sum += uint64(crc32.ChecksumIEEE(b))
		}
		kids, _, err := c.Children(path)
		must(t, err)
		for _, k := range kids {
			if path == "/" {
				walk("/" + k)
			} else {
				walk(path + "/" + k)
			}
		}
	}
	walk("/")
	return int64(sum)
}

// TestHashIsTheTreeDigest: the `hash` four-letter word lists the tree
// digest of every 128th zxid (Apache's digest log), and the digest is the
// one a client can work out from the tree it reads: path, data and stat
// of every znode, ephemerals, a changed ACL and a deleted znode included.
// Run against Apache too (ZKGO_IT_APACHE=1): the digest is Apache's.
func TestHashIsTheTreeDigest(t *testing.T) {
	s, c := start(t)
	_, err := c.Create("/d", []byte("root of the test"), 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	for _, p := range []string{"/d/a", "/d/a/b", "/d/gone", "/d/ctr"} {
		_, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll))
		must(t, err)
	}
	_, err = c.Create("/d/e", []byte("mine"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = c.Create("/d/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	must(t, err)
	_, err = c.Set("/d/a", []byte("changed"), -1)
	must(t, err)
	_, err = c.SetACL("/d/a/b", zk.WorldACL(zk.PermRead|zk.PermWrite), -1)
	must(t, err)
	must(t, c.Delete("/d/gone", -1))
	// Write until a zxid the digest log keeps, then only read.
	var last int64
	for i := 0; ; i++ {
		st, err := c.Set("/d/ctr", []byte(strconv.Itoa(i)), -1)
		must(t, err)
		if last = st.Mzxid; last%128 == 0 {
			break
		}
		if i > 300 {
			t.Fatalf("no zxid that is a multiple of 128 after %d writes (last 0x%x)", i, last)
		}
	}
	want := clientDigest(t, c)

	out, err := fourletter.Query(context.Background(), s.Addr(), "hash")
	must(t, err)
	prefix := fmt.Sprintf("%x: ", last)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if d, ok := strings.CutPrefix(line, prefix); ok {
			if d != strconv.FormatInt(want, 10) {
				t.Fatalf("hash at zxid 0x%x: %s, the tree read back gives %d", last, d, want)
			}
			return
		}
	}
	t.Fatalf("hash has no line for zxid 0x%x:\n%s", last, out)
}
