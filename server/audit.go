package server

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/wire"
)

// auditLog writes Apache's audit log (audit.enable=true): one line per
// change a client of this server made, per ephemeral deleted with its
// session, and at start and stop, as ZooKeeper 3.8's AuditHelper and
// Slf4jAuditLogger with the appender of Apache's logback.xml:
//
//	2026-11-28 03:50:01,123 INFO audit.Slf4jAuditLogger: session=0x100..	user=bob,127.0.0.1	ip=127.0.0.1	operation=create	znode=/a	znode_type=persistent	result=success
//
// Fields are tab-separated and those without a value left out. The lines
// go to zookeeper_audit.log in zookeeper.log.dir, or to stderr without
// one.
type auditLog struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	user   string // who runs the server: serverStart and ephemeral deletions
}

// openAudit opens the audit log the configuration asks for; nil when
// audit.enable is off.
func openAudit(enabled bool, logDir string) (*auditLog, error) {
	if !enabled {
		return nil, nil
	}
	a := &auditLog{w: os.Stderr, user: "<NA>"}
	if u, err := user.Current(); err == nil {
		a.user = u.Username
	}
	if logDir != "" {
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(logDir, "zookeeper_audit.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		a.w, a.closer = f, f
	}
	return a, nil
}

func (a *auditLog) close() {
	if a != nil && a.closer != nil {
		a.closer.Close()
	}
}

// auditEvent is one line's fields, in Apache's order.
type auditEvent struct {
	session, user, ip, op, znode, znodeType, acl string
	result                                       string // success, failure or invoked
}

func (a *auditLog) write(e auditEvent) {
	var b strings.Builder
	level := "INFO"
	if e.result == "failure" {
		level = "ERROR"
	}
	b.WriteString(time.Now().Format("2006-01-02 15:04:05,000"))
	b.WriteString(" " + level + " audit.Slf4jAuditLogger: ")
	for _, f := range [][2]string{{"session", e.session}, {"user", e.user}, {"ip", e.ip}, {"operation", e.op},
		{"znode", e.znode}, {"znode_type", e.znodeType}, {"acl", e.acl}} {
		if f[1] != "" {
			b.WriteString(f[0] + "=" + f[1] + "\t")
		}
	}
	b.WriteString("result=" + e.result + "\n")
	a.mu.Lock()
	io.WriteString(a.w, b.String())
	a.mu.Unlock()
}

// server logs serverStart and serverStop.
func (a *auditLog) server(op, result string) {
	a.write(auditEvent{user: a.user, op: op, result: result})
}

// ephemeralDeleted logs an ephemeral znode deleted with its session
// (DataTree.deleteNodes), on every member.
func (a *auditLog) ephemeralDeleted(session int64, path string) {
	a.write(auditEvent{session: sessionHex(session), user: a.user, op: "ephemeralZNodeDeletionOnSessionCloseOrExpire", znode: path, result: "success"})
}

func sessionHex(id int64) string { return "0x" + strconv.FormatUint(uint64(id), 16) }

// request logs a client's write once its result is known, on the server
// the client is connected to (AuditHelper.addAuditLog): creates, deletes,
// setData, setAcl, reconfig, and each change of a multi, or one
// multiOperation failure for a multi that failed. Reads, sessions and
// syncs are not logged.
func (a *auditLog) request(session int64, ids []wire.ID, ip string, p acl.Providers, op int32, body wire.Record, res txn.Result) {
	e := auditEvent{session: sessionHex(session), user: auditUsers(ids, p), ip: ip, result: "success"}
	failed := res.Type == txn.TypeError
	if failed {
		e.result = "failure"
	}
	if op != wire.OpMulti {
		if !describe(&e, op, body) {
			return
		}
		if e.op == "create" && !failed {
			e.znode = res.Path // with its sequence number
		}
		a.write(e)
		return
	}
	m, _ := body.(*wire.MultiRequest)
	if failed || m == nil {
		e.op = "multiOperation"
		a.write(e)
		return
	}
	multiFailed := false
	for i, r := range res.Ops {
		if r.Type == txn.TypeError {
			multiFailed = true
			continue
		}
		if i >= len(m.Ops) {
			break
		}
		sub, o := e, m.Ops[i]
		if o.Type == wire.OpSetACL || o.Type == wire.OpReconfig || !describe(&sub, o.Type, o.Req) {
			continue // Apache logs a multi's creates, deletes and setData only
		}
		if sub.op == "create" {
			sub.znode = r.Path
		}
		a.write(sub)
	}
	if multiFailed {
		e.op, e.result = "multiOperation", "failure"
		a.write(e)
	}
}

// describe fills in the operation and, from the request, its znode (the
// path asked for), znode_type and acl; false for an operation the audit
// log leaves out (reads, sessions, syncs).
func describe(e *auditEvent, op int32, body wire.Record) bool {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		// Apache 3.8 leaves a top-level createTTL out (its switch forgets
		// it); zkgo logs it as the create it is.
		e.op = "create"
		if r, ok := body.(*wire.CreateRequest); ok {
			e.znode, e.znodeType = r.Path, createMode(op, r.Flags)
		} else if r, ok := body.(*wire.CreateTTLRequest); ok {
			e.znode, e.znodeType = r.Path, createMode(op, r.Flags)
		}
	case wire.OpDelete:
		e.op = "delete"
		if r, ok := body.(*wire.PathVersionRequest); ok {
			e.znode = r.Path
		}
	case wire.OpSetData:
		e.op = "setData"
		if r, ok := body.(*wire.SetDataRequest); ok {
			e.znode = r.Path
		}
	case wire.OpSetACL:
		e.op = "setAcl"
		if r, ok := body.(*wire.SetACLRequest); ok {
			e.znode, e.acl = r.Path, aclString(r.ACL)
		}
	case wire.OpReconfig:
		e.op = "reconfig"
	default:
		return false
	}
	return true
}

// auditUsers is AuthUtil.getUsers: the user names of the connection's
// ids in Apache's order, those without one left out.
func auditUsers(ids []wire.ID, p acl.Providers) string {
	var names []string
	for _, id := range acl.Ordered(ids) {
		if name := acl.UserName(id, p); strings.TrimSpace(name) != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// createMode is CreateMode.fromFlag(flags), lower case.
func createMode(op, flags int32) string {
	if op == wire.OpCreateContainer {
		return "container"
	}
	switch flags {
	case wire.ModeEphemeral:
		return "ephemeral"
	case wire.ModePersistentSequential:
		return "persistent_sequential"
	case wire.ModeEphemeralSequential:
		return "ephemeral_sequential"
	case wire.ModeContainer:
		return "container"
	case wire.ModePersistentWithTTL:
		return "persistent_with_ttl"
	case wire.ModePersistentSequentialWithTTL:
		return "persistent_sequential_with_ttl"
	}
	return "persistent"
}

// aclString is ZKUtil.aclToString, with a comma between the entries
// (Apache's runs them together).
func aclString(list []wire.ACL) string {
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = a.ID.Scheme + ":" + a.ID.ID + ":" + wire.PermString(a.Perms)
	}
	return strings.Join(parts, ",")
}
