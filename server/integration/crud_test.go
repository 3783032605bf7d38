package integration

import (
	"bytes"
	"testing"

	"github.com/go-zookeeper/zk"
)

func TestCreateGetSetDelete(t *testing.T) {
	_, c := start(t)
	p, err := c.Create("/a", []byte("hello"), 0, zk.WorldACL(zk.PermAll))
	must(t, err)
	if p != "/a" {
		t.Fatalf("path = %q", p)
	}
	data, st, err := c.Get("/a")
	must(t, err)
	if !bytes.Equal(data, []byte("hello")) || st.Version != 0 || st.DataLength != 5 || st.Czxid != st.Mzxid || st.Czxid != st.Pzxid {
		t.Fatalf("get: %q %+v", data, st)
	}
	st2, err := c.Set("/a", []byte("x"), 0)
	must(t, err)
	if st2.Version != 1 || st2.Mzxid <= st.Mzxid || st2.Czxid != st.Czxid {
		t.Fatalf("set stat %+v", st2)
	}
	_, err = c.Set("/a", []byte("y"), 0)
	wantErr(t, err, zk.ErrBadVersion)
	_, err = c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll))
	wantErr(t, err, zk.ErrNodeExists)
	_, err = c.Create("/missing/child", nil, 0, zk.WorldACL(zk.PermAll))
	wantErr(t, err, zk.ErrNoNode)
	must(t, c.Delete("/a", -1))
	_, _, err = c.Get("/a")
	wantErr(t, err, zk.ErrNoNode)
	ok, _, err := c.Exists("/a")
	must(t, err)
	if ok {
		t.Fatal("exists after delete")
	}
}
