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

// The rest of go-zookeeper's API against the server.
func TestGoClientAPI(t *testing.T) {
	_, c := start(t)
	acl := zk.WorldACL(zk.PermAll)
	_, err := c.Create("/api", []byte("d"), 0, acl)
	must(t, err)
	for _, k := range []string{"b", "a", "c"} {
		_, err := c.Create("/api/"+k, nil, 0, acl)
		must(t, err)
	}
	kids, st, err := c.Children("/api")
	must(t, err)
	if len(kids) != 3 || st.NumChildren != 3 || st.Cversion != 3 {
		t.Fatalf("children %v stat %+v", kids, st)
	}
	p, err := c.Sync("/api")
	must(t, err)
	if p != "/api" {
		t.Fatalf("sync returned %q", p)
	}
	st, err = c.SetACL("/api", zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermAdmin), 0)
	must(t, err)
	if st.Aversion != 1 {
		t.Fatalf("setACL stat %+v", st)
	}
	got, _, err := c.GetACL("/api")
	must(t, err)
	if len(got) != 1 || got[0].Perms != zk.PermRead|zk.PermWrite|zk.PermAdmin || got[0].Scheme != "world" || got[0].ID != "anyone" {
		t.Fatalf("getACL %+v", got)
	}
	// CREATE was dropped from /api's ACL.
	_, err = c.Create("/api/d", nil, 0, acl)
	wantErr(t, err, zk.ErrNoAuth)
	_, err = c.SetACL("/api", acl, 0)
	wantErr(t, err, zk.ErrBadVersion)
	_, err = c.SetACL("/api", acl, 1)
	must(t, err)
	pp, err := c.CreateProtectedEphemeralSequential("/api/lock-", nil, acl)
	must(t, err)
	_, st, err = c.Get(pp)
	must(t, err)
	if st.EphemeralOwner != c.SessionID() {
		t.Fatalf("protected ephemeral %s: %+v", pp, st)
	}
	_, err = c.Create("/api/x/y", nil, 0, acl)
	wantErr(t, err, zk.ErrNoNode)
	_, err = c.Create("/api/"+"a", nil, 0, acl)
	wantErr(t, err, zk.ErrNodeExists)
	wantErr(t, c.Delete("/api", -1), zk.ErrNotEmpty)
}
