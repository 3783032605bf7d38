package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// auditLines reads zookeeper_audit.log once it holds at least n lines
// (the server writes a change's line before its reply, a start's once it
// serves), each split into its fields.
func auditLines(t *testing.T, dir string, n int) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "zookeeper_audit.log"))
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			var out []map[string]string
			for _, l := range lines {
				head, rest, ok := strings.Cut(l, " audit.Slf4jAuditLogger: ")
				if !ok {
					t.Fatalf("audit line %q", l)
				}
				f := map[string]string{"level": head[strings.LastIndexByte(head, ' ')+1:]}
				for kv := range strings.SplitSeq(rest, "\t") {
					k, v, _ := strings.Cut(kv, "=")
					f[k] = v
				}
				out = append(out, f)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log has %d lines, want %d:\n%s", len(lines), n, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantAudit(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("audit line %v: %s=%q, want %q", got, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "level" {
			t.Errorf("audit line %v: unexpected field %s", got, k)
		}
	}
}

// audit.enable=true: Apache's audit log, its fields as AuditHelper sets
// them (Debian's Apache logs nothing, so the expectations are read from
// Apache 3.8's source: AuditHelper, AuditEvent, DataTree.deleteNodes).
func TestAuditLog(t *testing.T) {
	zkgoOnly(t)
	dir := t.TempDir()
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.AuditEnable, c.LogDir = true, dir
	}))
	lines := auditLines(t, dir, 1)
	wantAudit(t, lines[0], map[string]string{"level": "INFO", "user": lines[0]["user"], "operation": "serverStart", "result": "success"})
	if lines[0]["user"] == "" {
		t.Fatal("serverStart names no user")
	}
	osUser := lines[0]["user"]

	c := rawSession(t, s.Addr())
	c.mustOK("addauth", c.call(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("alice:pw")}, nil))
	sess := fmt.Sprintf("0x%x", uint64(c.SessionID))
	c.create("/a", []byte("x"), wire.ModePersistent)
	seq := c.create("/e-", nil, wire.ModeEphemeralSequential)
	wantCode(t, "create /a again", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/a", ACL: openACL}, nil), wire.CodeNodeExists)
	c.mustOK("setData", c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/a", Data: []byte("y"), Version: -1}, &wire.StatResponse{}))
	c.mustOK("getData", c.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/a"}, &wire.GetDataResponse{})) // not logged
	acl := []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}}, {Perms: wire.PermAll, ID: wire.ID{Scheme: "auth"}}}
	c.mustOK("setACL", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/a", ACL: acl, Version: -1}, &wire.StatResponse{}))
	var mr wire.MultiResponse
	c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: "/a", Version: -1}},
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m", ACL: openACL, Flags: wire.ModeContainer}},
		{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/m", Version: -1}},
	}}, &mr))
	c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
		{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/m", Version: -1}},
		{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: "/nope", Version: -1}},
	}}, &mr)
	c.mustOK("delete", c.call(wire.OpDelete, &wire.PathVersionRequest{Path: "/m", Version: -1}, nil))
	c.close()

	users := func(got string) []string { u := strings.Split(got, ","); slices.Sort(u); return u }
	lines = auditLines(t, dir, 11)
	for _, l := range lines[1:10] {
		if !slices.Equal(users(l["user"]), []string{"127.0.0.1", "alice"}) {
			t.Errorf("audit line %v: user %q, want alice and 127.0.0.1", l, l["user"])
		}
	}
	client := func(f map[string]string) map[string]string {
		f["session"], f["ip"] = sess, "127.0.0.1"
		return f
	}
	want := []map[string]string{
		client(map[string]string{"level": "INFO", "operation": "create", "znode": "/a", "znode_type": "persistent", "result": "success"}),
		client(map[string]string{"level": "INFO", "operation": "create", "znode": seq, "znode_type": "ephemeral_sequential", "result": "success"}),
		client(map[string]string{"level": "ERROR", "operation": "create", "znode": "/a", "znode_type": "persistent", "result": "failure"}),
		client(map[string]string{"level": "INFO", "operation": "setData", "znode": "/a", "result": "success"}),
		client(map[string]string{"level": "INFO", "operation": "setAcl", "znode": "/a", "acl": "world:anyone:r,auth::cdrwa", "result": "success"}),
		client(map[string]string{"level": "INFO", "operation": "create", "znode": "/m", "znode_type": "container", "result": "success"}),
		client(map[string]string{"level": "INFO", "operation": "setData", "znode": "/m", "result": "success"}),
		client(map[string]string{"level": "ERROR", "operation": "multiOperation", "result": "failure"}),
		client(map[string]string{"level": "INFO", "operation": "delete", "znode": "/m", "result": "success"}),
		{"level": "INFO", "session": sess, "user": osUser, "operation": "ephemeralZNodeDeletionOnSessionCloseOrExpire", "znode": seq, "result": "success"},
	}
	for i, w := range want {
		if w["user"] == "" {
			w["user"] = lines[i+1]["user"]
		}
		wantAudit(t, lines[i+1], w)
	}
	s.Stop()
	lines = auditLines(t, dir, 12)
	wantAudit(t, lines[11], map[string]string{"level": "INFO", "user": osUser, "operation": "serverStop", "result": "invoked"})
}
