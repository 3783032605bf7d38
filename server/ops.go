package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/watch"
	"github.com/zkgo/zkgo/server/wire"
)

type txnResult = txn.Result

func txnRequest(sid int64, cxid, op int32, body wire.Record, auth []wire.ID, timeout int32) txn.Request {
	if op == wire.OpCreateSession {
		body = nil
	}
	return txn.Request{SessionID: sid, Cxid: cxid, Type: op, Body: body, Auth: auth, Timeout: timeout}
}

// reply encodes a reply frame: reserved length, header, optional body.
func (s *Server) reply(xid int32, code wire.Code, body wire.Record) []byte {
	e := wire.NewEncoder(make([]byte, 4, replyCap(code, body)))
	(&wire.ReplyHeader{Xid: xid, Zxid: s.lastZxid.Load(), Err: code}).Encode(e)
	if code == wire.CodeOK && body != nil {
		body.Encode(e)
	}
	return e.Bytes()
}

// replyCap is the buffer a reply needs: length, header and, for the
// replies whose size varies, the body, so that encoding never grows it.
func replyCap(code wire.Code, body wire.Record) int {
	const fixed = 4 + 16 + 4 + 68 // length, header, a length prefix, a Stat
	if code != wire.CodeOK {
		return 32
	}
	switch b := body.(type) {
	case *wire.GetDataResponse:
		return fixed + len(b.Data)
	case *wire.Create2Response:
		return fixed + len(b.Path)
	case *wire.ChildrenResponse:
		return fixed + namesSize(b.Children)
	case *wire.Children2Response:
		return fixed + namesSize(b.Children)
	}
	return 128
}

func namesSize(names []string) int {
	n := 0
	for _, s := range names {
		n += 4 + len(s)
	}
	return n
}

// authReply answers an auth packet: Apache's processPacket sends zxid 0,
// not the last zxid (a client's SetWatches after a reconnect is relative to
// the zxids it saw; found by the differential test).
func authReply(xid int32, code wire.Code) []byte {
	e := wire.NewEncoder(make([]byte, 4, 32))
	(&wire.ReplyHeader{Xid: xid, Zxid: 0, Err: code}).Encode(e)
	return e.Bytes()
}

func isWrite(op int32) bool {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpDelete,
		wire.OpSetData, wire.OpSetACL, wire.OpMulti, wire.OpReconfig, wire.OpCloseSession:
		return true
	}
	return false
}

// refusedReadOnly reports whether a read-only server answers op with
// NOTREADONLY (Apache's ReadOnlyRequestProcessor: the writes, sync, and a
// top-level check or deleteContainer; a session's closeSession is local
// there and passes).
func refusedReadOnly(op int32) bool {
	switch op {
	case wire.OpSync, wire.OpCheck, wire.OpDeleteContainer:
		return true
	}
	return isWrite(op) && op != wire.OpCloseSession
}

// newRequestBody returns the empty record an opcode's request decodes into.
func newRequestBody(op int32) wire.Record {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer:
		return &wire.CreateRequest{}
	case wire.OpCreateTTL:
		return &wire.CreateTTLRequest{}
	case wire.OpDelete, wire.OpCheck:
		return &wire.PathVersionRequest{}
	case wire.OpExists, wire.OpGetData, wire.OpGetChildren, wire.OpGetChildren2:
		return &wire.PathWatchRequest{}
	case wire.OpSetData:
		return &wire.SetDataRequest{}
	case wire.OpGetACL, wire.OpSync, wire.OpGetEphemerals, wire.OpGetAllChildrenNumber:
		return &wire.PathRequest{}
	case wire.OpSetACL:
		return &wire.SetACLRequest{}
	case wire.OpMulti, wire.OpMultiRead:
		return &wire.MultiRequest{}
	case wire.OpReconfig:
		return &txn.ReconfigRequest{} // keeps null strings apart from empty ones
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		return &wire.WatchesRequest{}
	case wire.OpAddWatch:
		return &wire.AddWatchRequest{}
	case wire.OpSetWatches:
		return &wire.SetWatches{}
	case wire.OpSetWatches2:
		return &wire.SetWatches{V2: true}
	case wire.OpAuth:
		return &wire.AuthPacket{}
	case wire.OpSASL:
		return &wire.SASLToken{}
	case wire.OpCloseSession, wire.OpWhoAmI:
		return &wire.Empty{}
	}
	return nil
}

// handleRequest decodes and dispatches one frame; false closes the connection.
func (s *Server) handleRequest(c *conn, frame []byte) bool {
	d := &c.dec // only this connection's reader decodes, one frame at a time
	d.Reset(frame)
	var hdr wire.RequestHeader
	hdr.Decode(d)
	if d.Err() != nil {
		c.log.Warn("closing connection: malformed request header", "err", d.Err())
		return false
	}
	// Copies for the closures below, which would otherwise move hdr to
	// the heap; and no log arguments built unless the level is on: each
	// costs an allocation per request.
	xid, op := hdr.Xid, hdr.Type
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("request", "xid", xid, "op", wire.OpName(op))
	}
	c.packetReceived(4 + len(frame))
	sid := c.sessionID.Load()
	alive, local := s.sessions.touch(sid)
	if !alive && op != wire.OpCloseSession && !c.readOnly {
		// Expired or closing: Apache answers SESSIONEXPIRED and drops the socket.
		c.enqueue(&slot{filled: true, frame: s.reply(xid, wire.CodeSessionExpired, nil), closeConn: true})
		return false
	}
	if s.peer != nil && !c.readOnly && !local {
		s.peer.TouchSessions([]int64{sid})
	}
	sl := &slot{op: op, start: time.Now()}
	if len(s.cfg.EnforceAuthSchemes) > 0 && op != wire.OpAuth && op != wire.OpSASL && !c.holdsScheme(s.cfg.EnforceAuthSchemes) {
		// AuthenticationHelper.enforceAuthentication, which Apache runs
		// on every request but auth and sasl, pings included.
		c.log.Warn("closing connection: it holds none of the ids enforce.auth.schemes asks for", "schemes", s.cfg.EnforceAuthSchemes)
		sl.filled, sl.frame, sl.closeConn = true, authReply(xid, wire.CodeSessionClosedRequireSASLAuth), true
		c.enqueue(sl)
		return false
	}
	if c.readOnly && refusedReadOnly(op) {
		// ReadOnlyRequestProcessor refuses writes, sync and check before
		// their bodies are read, and answers them itself: no latency and
		// no last op (cons) counted, as FinalRequestProcessor would.
		sl.start = time.Time{}
		sl.filled, sl.frame = true, s.reply(xid, wire.CodeNotReadOnly, nil)
		c.enqueue(sl)
		return true
	}
	if op != wire.OpPing {
		c.stats.lastCxid.Store(xid)
	}
	c.stats.lastOp.Store(op)

	switch op {
	case wire.OpPing:
		// Apache answers every ping with xid -2, whatever xid it came with.
		sl.read = func() []byte { return s.reply(wire.XidPing, wire.CodeOK, nil) }
		c.enqueue(sl)
		return true
	case wire.OpCheck:
		// Top-level check is only valid inside multi: Apache answers
		// UNIMPLEMENTED and closes the connection.
		sl.filled, sl.frame, sl.closeConn = true, s.reply(xid, wire.CodeUnimplemented, nil), true
		c.enqueue(sl)
		return false
	}
	body := newRequestBody(op)
	if body == nil {
		c.log.Warn("closing connection: unknown opcode", "op", op)
		sl.filled, sl.frame, sl.closeConn = true, s.reply(xid, wire.CodeUnimplemented, nil), true
		c.enqueue(sl)
		return false
	}
	body.Decode(d)
	if d.Err() != nil && op != wire.OpAuth {
		// Apache answers MARSHALLINGERROR and keeps the connection.
		c.log.Warn("malformed request", "op", wire.OpName(op), "err", d.Err())
		if isWrite(op) && op != wire.OpCloseSession && op != wire.OpReconfig && s.peer == nil {
			// A malformed write is an error txn in Apache and takes a
			// zxid: prep turns a write without a body into one.
			body = nil
		} else {
			sl.filled, sl.frame = true, s.reply(xid, wire.CodeMarshallingError, nil)
			c.enqueue(sl)
			return true
		}
	}
	if d.Err() != nil && op == wire.OpAuth {
		// A malformed auth packet: Apache closes without a reply (observed).
		c.log.Warn("closing connection: malformed request", "op", wire.OpName(op), "err", d.Err())
		sl.filled, sl.frame, sl.closeConn = true, nil, true
		c.enqueue(sl)
		return false
	}

	switch op {
	case wire.OpAuth:
		ap := body.(*wire.AuthPacket)
		if ap.Scheme == "ensemble" && s.cfg.EnsembleAuth {
			return s.ensembleAuth(c, sl, xid, ap.Auth)
		}
		ids, err := acl.Authenticate(ap.Scheme, ap.Auth, c.remote.Addr(),
			acl.DigestAuth{Algorithm: s.cfg.DigestAlg, Super: s.cfg.SuperDigest, Disabled: s.cfg.DigestAuthDisabled})
		if err != nil {
			c.log.Warn("authentication failed: closing connection", "scheme", ap.Scheme)
			s.stats.authFailed.Add(1)
			sl.filled, sl.frame, sl.closeConn = true, authReply(xid, wire.CodeAuthFailed), true
			c.enqueue(sl)
			return false
		}
		sl.read = func() []byte {
			c.addAuth(ids)
			return authReply(xid, wire.CodeOK)
		}
		c.enqueue(sl)
		return true
	case wire.OpSASL:
		return s.handleSASL(c, sl, xid, body.(*wire.SASLToken).Token)
	}

	if op == wire.OpCloseSession && (local || c.readOnly) {
		// A local session, or any on a read-only server, closes here
		// without a txn (Apache's local closeSession request).
		s.sessions.remove(sid)
		sl.filled, sl.frame, sl.closeConn = true, s.reply(xid, wire.CodeOK, nil), true
		c.enqueue(sl)
		return true
	}
	if local && !c.readOnly && createsEphemeral(op, body) {
		// QuorumZooKeeperServer.checkUpgradeSession: an ephemeral needs a
		// global session. With localSessionsUpgradingEnabled its
		// createSession txn goes first, on the same path as the create;
		// without, the create is refused.
		if !s.cfg.LocalSessionsUpgradingEnabled {
			sl.filled, sl.frame = true, s.reply(xid, wire.CodeEphemeralOnLocalSession, nil)
			c.enqueue(sl)
			return true
		}
		if timeout, ok := s.sessions.upgrade(sid); ok {
			s.log.Info("upgrading local session to global", "session_id", fmt.Sprintf("0x%x", sid))
			if !s.submit(&writeReq{req: txnRequest(sid, 0, wire.OpCreateSession, nil, nil, int32(timeout/time.Millisecond))}) {
				return false
			}
		}
	}
	if op == wire.OpSync && s.peer != nil {
		c.enqueue(sl)
		s.syncQuorum(c, xid, body.(*wire.PathRequest).Path, sl)
		return true
	}
	if !isWrite(op) {
		sl.readBody, sl.xid = body, xid
		c.enqueue(sl)
		return true
	}

	closing := op == wire.OpCloseSession
	if closing && !s.sessions.markClosing(sid) {
		sl.filled, sl.frame, sl.closeConn = true, s.reply(xid, wire.CodeOK, nil), true
		c.enqueue(sl)
		return false
	}
	c.enqueue(sl)
	// The txn keeps the ids the connection has now. c.auth only ever
	// grows by append, so a view capped at its length is a stable copy.
	c.mu.Lock()
	auth := c.auth[:len(c.auth):len(c.auth)]
	c.mu.Unlock()
	ok := s.submit(&writeReq{
		conn: c,
		req:  txnRequest(sid, xid, op, body, auth, 0),
		done: func(zxid int64, res txn.Result) {
			c.stats.lastZxid.Store(zxid)
			if s.audit != nil {
				s.audit.request(sid, auth, c.remote.Addr().Unmap().String(), s.providers(), op, body, res)
			}
			c.fill(sl, s.writeReply(xid, op, body, res))
			if closing {
				c.closeAfterFlush()
			}
		},
	})
	// Keep reading: the writer closes the socket once the reply is out.
	return ok
}

// handleSASL takes one token of a client's SASL login (DIGEST-MD5), as
// ZooKeeperServer.processSasl: the server's token goes back in the reply
// (with zxid 0); once the login completes, the connection holds
// sasl:<user>, and super too for a superUser. A failed login is answered
// AUTHFAILED (SESSIONCLOSEDREQUIRESASLAUTH when the sasl scheme is
// enforced) and the connection closes, unless allowSaslFailedClients keeps
// it. Without SASL users the server answers OK with no token and keeps the
// connection, as Apache does without a JAAS Server section (observed).
func (s *Server) handleSASL(c *conn, sl *slot, xid int32, token []byte) bool {
	if s.sasl == nil {
		sl.filled, sl.frame = true, saslReply(xid, wire.CodeOK, nil)
		c.enqueue(sl)
		return true
	}
	if c.sasl == nil {
		c.sasl = s.sasl.Start()
	}
	resp, err := c.sasl.Next(token)
	if err != nil {
		s.stats.authFailed.Add(1)
		required := slices.Contains(s.cfg.EnforceAuthSchemes, "sasl")
		if s.cfg.SASL.AllowFailedClients && !required {
			c.log.Warn("SASL authentication failed; keeping the connection (allowSaslFailedClients)", "err", err)
			sl.filled, sl.frame = true, saslReply(xid, wire.CodeOK, nil)
			c.enqueue(sl)
			return true
		}
		c.log.Warn("SASL authentication failed: closing connection", "err", err)
		code := wire.CodeAuthFailed
		if required {
			code = wire.CodeSessionClosedRequireSASLAuth
		}
		sl.filled, sl.frame, sl.closeConn = true, saslReply(xid, code, nil), true
		c.enqueue(sl)
		return false
	}
	var ids []wire.ID
	if c.sasl.Done() {
		id := c.sasl.AuthorizationID()
		ids = append(ids, wire.ID{Scheme: "sasl", ID: id})
		if s.cfg.SASL.IsSuper(id) {
			ids = append(ids, acl.Super)
		}
		c.log.Info("SASL authentication succeeded", "id", id, "super", len(ids) > 1)
	}
	sl.read = func() []byte {
		c.addAuth(ids)
		return saslReply(xid, wire.CodeOK, resp)
	}
	c.enqueue(sl)
	return true
}

// saslReply is a SASL packet's answer: Apache's header carries zxid 0 and,
// even with an error code, a token (null when there is none).
func saslReply(xid int32, code wire.Code, token []byte) []byte {
	e := wire.NewEncoder(make([]byte, 4, 32+len(token)))
	(&wire.ReplyHeader{Xid: xid, Zxid: 0, Err: code}).Encode(e)
	(&wire.SASLToken{Token: token}).Encode(e)
	return e.Bytes()
}

// createsEphemeral reports whether a create, create2 or multi creates an
// ephemeral znode (the requests checkUpgradeSession looks at).
func createsEphemeral(op int32, body wire.Record) bool {
	ephemeral := func(r *wire.CreateRequest) bool {
		return r.Flags == wire.ModeEphemeral || r.Flags == wire.ModeEphemeralSequential
	}
	switch op {
	case wire.OpCreate, wire.OpCreate2:
		r, ok := body.(*wire.CreateRequest)
		return ok && ephemeral(r)
	case wire.OpMulti:
		m, ok := body.(*wire.MultiRequest)
		if !ok {
			return false
		}
		for _, o := range m.Ops {
			if r, ok := o.Req.(*wire.CreateRequest); ok && (o.Type == wire.OpCreate || o.Type == wire.OpCreate2) && ephemeral(r) {
				return true
			}
		}
	}
	return false
}

func containsID(ids []wire.ID, id wire.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// ensembleAuth answers addauth ensemble NAME as Apache's
// EnsembleAuthenticationProvider does: no name, no ensembleAuthName, or one
// of its names is OK (and adds no id: the scheme is not one ACLs can
// name); another name closes the connection without an answer, so that
// the client tries another server rather than fail as refused.
func (s *Server) ensembleAuth(c *conn, sl *slot, xid int32, name []byte) bool {
	names := s.cfg.EnsembleAuthNames
	switch {
	case len(name) == 0 || names == nil:
		s.stats.ensembleAuthSkip.Add(1)
	case slices.Contains(names, string(name)):
		s.stats.ensembleAuthSuccess.Add(1)
	default:
		s.stats.ensembleAuthFail.Add(1)
		s.ensembleLog.warn("unexpected ensemble name: closing connection", "ensemble_name", string(name), "client_ip", c.remote.Addr().Unmap().String())
		sl.filled, sl.frame, sl.closeConn = true, nil, true
		c.enqueue(sl)
		return false
	}
	sl.filled, sl.frame = true, authReply(xid, wire.CodeOK)
	c.enqueue(sl)
	return true
}

// writeReply encodes the reply of an applied write; body is its request.
func (s *Server) writeReply(xid, op int32, body wire.Record, res txn.Result) []byte {
	if res.Type == txn.TypeError {
		return s.reply(xid, res.Err, nil)
	}
	switch op {
	case wire.OpCreate:
		return s.reply(xid, wire.CodeOK, &wire.CreateResponse{Path: res.Path})
	case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return s.reply(xid, wire.CodeOK, &wire.Create2Response{Path: res.Path, Stat: res.Stat})
	case wire.OpSetData, wire.OpSetACL:
		return s.reply(xid, wire.CodeOK, &wire.StatResponse{Stat: res.Stat})
	case wire.OpReconfig:
		return s.reply(xid, wire.CodeOK, &wire.GetDataResponse{Data: res.Data, Stat: res.Stat})
	case wire.OpMulti:
		mr := &wire.MultiResponse{Results: make([]wire.OpResult, len(res.Ops))}
		req, _ := body.(*wire.MultiRequest)
		for i, r := range res.Ops {
			mr.Results[i] = multiResult(r)
			if req != nil && i < len(req.Ops) && req.Ops[i].Type == wire.OpCreate2 && r.Type == txn.TypeCreate {
				// A create2 in a multi is answered with its Stat, as
				// since Apache 3.8.2 (ZOOKEEPER-4026); 3.8.0 answered
				// it as a create. Its txn is a create all the same.
				mr.Results[i] = wire.OpResult{Type: wire.OpCreate2, Resp: &wire.Create2Response{Path: r.Path, Stat: r.Stat}}
			}
		}
		return s.reply(xid, wire.CodeOK, mr)
	}
	return s.reply(xid, wire.CodeOK, nil)
}

func multiResult(r txn.Result) wire.OpResult {
	switch r.Type {
	case txn.TypeError:
		return wire.OpResult{Type: wire.OpError, Err: r.Err}
	case txn.TypeCreate:
		return wire.OpResult{Type: wire.OpCreate, Resp: &wire.CreateResponse{Path: r.Path}}
	case txn.TypeCreateContainer, txn.TypeCreateTTL:
		return wire.OpResult{Type: wire.OpCreate2, Resp: &wire.Create2Response{Path: r.Path, Stat: r.Stat}}
	case txn.TypeSetData:
		return wire.OpResult{Type: wire.OpSetData, Resp: &wire.StatResponse{Stat: r.Stat}}
	}
	return wire.OpResult{Type: r.Type}
}

// lookup returns a node; Apache's tree also answers the empty path with the root.
func (s *Server) lookup(path string) *tree.Node {
	if path == "" {
		path = "/"
	}
	return s.tree.Get(path)
}

func (s *Server) canRead(c *conn, n *tree.Node, perm int32) bool {
	return s.cfg.SkipACL || acl.Check(s.tree.ACL(n), perm, c.auth)
}

// read executes a read-only request in the connection's order. It runs
// with c.mu held (from flushLocked). Lists of children are sorted after
// the tree's read lock is given up, so that the applier does not wait for
// the sort of a large one.
func (s *Server) read(c *conn, op int32, body wire.Record) (wire.Record, wire.Code) {
	rec, code := s.readLocked(c, op, body)
	sortChildren(rec)
	return rec, code
}

// setsWatch reports whether a read request sets a watch (addWatch
// included: clients register a persistent watcher at its reply too).
func setsWatch(body wire.Record) bool {
	switch r := body.(type) {
	case *wire.PathWatchRequest:
		return r.Watch
	case *wire.AddWatchRequest:
		return true
	}
	return false
}

// readQueued answers a read that sets a watch and queues its reply while
// the tree is still read-locked. The applier queues notifications under
// the tree's write lock, so the watch's notification cannot go out ahead
// of the reply that set it. Clients register the watcher when that reply
// arrives (kazoo, go-zookeeper): a notification ahead of it was dropped,
// and the client waited for ever (kazoo's DoubleBarrier did in a CI run).
func (s *Server) readQueued(c *conn, xid, op int32, body wire.Record) []byte {
	s.tree.RLock()
	defer s.tree.RUnlock()
	rec, code := s.readTree(c, op, body)
	sortChildren(rec)
	frame := s.reply(xid, code, rec)
	c.queue(frame)
	return frame
}

// sortChildren sorts the lists of children in a read's reply.
func sortChildren(rec wire.Record) {
	switch r := rec.(type) {
	case *wire.ChildrenResponse:
		slices.Sort(r.Children)
	case *wire.Children2Response:
		slices.Sort(r.Children)
	case *wire.MultiResponse:
		for _, res := range r.Results {
			if cr, ok := res.Resp.(*wire.ChildrenResponse); ok {
				slices.Sort(cr.Children)
			}
		}
	}
}

// readLocked is read under the tree's read lock.
func (s *Server) readLocked(c *conn, op int32, body wire.Record) (wire.Record, wire.Code) {
	s.tree.RLock()
	defer s.tree.RUnlock()
	return s.readTree(c, op, body)
}

// readTree executes a read; the caller holds the tree's read lock.
func (s *Server) readTree(c *conn, op int32, body wire.Record) (wire.Record, wire.Code) {
	switch op {
	case wire.OpExists:
		r := body.(*wire.PathWatchRequest)
		if strings.IndexByte(r.Path, 0) >= 0 {
			// FinalRequestProcessor checks this for exists only.
			return nil, wire.CodeBadArguments
		}
		n := s.lookup(r.Path)
		if n == nil {
			if r.Watch {
				s.watches.Add(watch.Data, r.Path, c)
			}
			return nil, wire.CodeNoNode
		}
		// Apache checks READ on a znode that exists since 3.8.4
		// (ZOOKEEPER-2590): its Stat is not shown to a client that may
		// not read it, and no watch is set. A missing znode is no secret:
		// NONODE, and the watch for its creation, as before.
		if !s.canRead(c, n, wire.PermRead) {
			return nil, wire.CodeNoAuth
		}
		if r.Watch {
			s.watches.Add(watch.Data, r.Path, c)
		}
		return &wire.StatResponse{Stat: n.Stat()}, wire.CodeOK
	case wire.OpGetData:
		r := body.(*wire.PathWatchRequest)
		n := s.lookup(r.Path)
		if n == nil {
			return nil, wire.CodeNoNode
		}
		if !s.canRead(c, n, wire.PermRead) {
			return nil, wire.CodeNoAuth
		}
		if r.Watch {
			s.watches.Add(watch.Data, r.Path, c)
		}
		return &wire.GetDataResponse{Data: n.Data, Stat: n.Stat()}, wire.CodeOK
	case wire.OpGetChildren, wire.OpGetChildren2:
		r := body.(*wire.PathWatchRequest)
		n := s.lookup(r.Path)
		if n == nil {
			return nil, wire.CodeNoNode
		}
		if !s.canRead(c, n, wire.PermRead) {
			return nil, wire.CodeNoAuth
		}
		if r.Watch {
			s.watches.Add(watch.Child, r.Path, c)
		}
		if op == wire.OpGetChildren {
			return &wire.ChildrenResponse{Children: n.ChildNames()}, wire.CodeOK
		}
		return &wire.Children2Response{Children: n.ChildNames(), Stat: n.Stat()}, wire.CodeOK
	case wire.OpGetACL:
		r := body.(*wire.PathRequest)
		n := s.lookup(r.Path)
		if n == nil {
			return nil, wire.CodeNoNode
		}
		admin := s.canRead(c, n, wire.PermAdmin)
		if !admin && !s.canRead(c, n, wire.PermRead) {
			return nil, wire.CodeNoAuth
		}
		list := s.tree.ACL(n) // shared by every znode with this ACL: not to be changed
		if !admin {
			// Without ADMIN the digests are masked, as 3.8 does.
			masked := make([]wire.ACL, len(list))
			for i, a := range list {
				if a.ID.Scheme == "digest" {
					user, _, _ := strings.Cut(a.ID.ID, ":")
					a.ID.ID = user + ":x"
				}
				masked[i] = a
			}
			list = masked
		}
		return &wire.GetACLResponse{ACL: list, Stat: n.Stat()}, wire.CodeOK
	case wire.OpSync:
		r := body.(*wire.PathRequest)
		return &wire.PathResponse{Path: r.Path}, wire.CodeOK
	case wire.OpGetAllChildrenNumber:
		r := body.(*wire.PathRequest)
		n := s.lookup(r.Path)
		if n == nil {
			return nil, wire.CodeNoNode
		}
		if !s.canRead(c, n, wire.PermRead) {
			return nil, wire.CodeNoAuth
		}
		total := s.tree.CountDescendants(normRoot(r.Path))
		if r.Path == "" {
			// Apache counts the keys starting with "" + "/": the root's
			// "/" key too, one more than for "/".
			total++
		}
		return &wire.CountResponse{Total: int32(total)}, wire.CodeOK
	case wire.OpGetEphemerals:
		r := body.(*wire.PathRequest)
		var out []string
		// Apache tests prefixPath.trim(): Java's trim drops every char <= ' '.
		trimmed := strings.TrimFunc(r.Path, func(x rune) bool { return x <= ' ' })
		for _, p := range s.tree.Ephemerals(c.sessionID.Load()) {
			if trimmed == "" || trimmed == "/" || strings.HasPrefix(p, r.Path) {
				out = append(out, p)
			}
		}
		if out == nil {
			out = []string{}
		}
		return &wire.ChildrenResponse{Children: out}, wire.CodeOK
	case wire.OpWhoAmI:
		// As AuthUtil.getClientInfos: the user name, not the digest; ""
		// where Apache's getUser gives null.
		infos := make([]wire.ID, len(c.auth))
		for i, id := range acl.Ordered(c.auth) {
			infos[i] = wire.ID{Scheme: id.Scheme, ID: acl.UserName(id, s.providers())}
		}
		return &wire.WhoAmIResponse{Infos: infos}, wire.CodeOK
	case wire.OpAddWatch:
		r := body.(*wire.AddWatchRequest)
		switch r.Mode {
		case wire.AddWatchPersistent:
			s.watches.Add(watch.Persistent, r.Path, c)
		case wire.AddWatchPersistentRecursive:
			s.watches.Add(watch.PersistentRecursive, r.Path, c)
		default:
			// AddWatchMode.fromValue throws: Apache answers MARSHALLINGERROR.
			return nil, wire.CodeMarshallingError
		}
		return &wire.ErrorResponse{Err: wire.CodeOK}, wire.CodeOK
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		r := body.(*wire.WatchesRequest)
		if r.Type < wire.WatcherChildren || r.Type > wire.WatcherAny {
			// WatcherType.fromInt throws: Apache answers MARSHALLINGERROR.
			return nil, wire.CodeMarshallingError
		}
		if !s.watches.Remove(r.Path, c, r.Type, op == wire.OpRemoveWatches) {
			return nil, wire.CodeNoWatcher
		}
		return nil, wire.CodeOK
	case wire.OpSetWatches, wire.OpSetWatches2:
		s.setWatches(c, body.(*wire.SetWatches))
		return nil, wire.CodeOK
	case wire.OpMultiRead:
		mr := body.(*wire.MultiRequest)
		for _, op := range mr.Ops {
			if op.Type != wire.OpGetData && op.Type != wire.OpGetChildren {
				// A write in multiRead: Apache rejects the whole request.
				return nil, wire.CodeMarshallingError
			}
		}
		return s.multiRead(c, mr), wire.CodeOK
	}
	return nil, wire.CodeUnimplemented
}

func normRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// multiRead answers each getData/getChildren independently (not atomic).
func (s *Server) multiRead(c *conn, mr *wire.MultiRequest) wire.Record {
	resp := &wire.MultiResponse{}
	for _, op := range mr.Ops {
		r, ok := op.Req.(*wire.PathWatchRequest)
		if !ok || (op.Type != wire.OpGetData && op.Type != wire.OpGetChildren) {
			resp.Results = append(resp.Results, wire.OpResult{Type: wire.OpError, Err: wire.CodeBadArguments})
			continue
		}
		n := s.lookup(r.Path)
		switch {
		case n == nil:
			resp.Results = append(resp.Results, wire.OpResult{Type: wire.OpError, Err: wire.CodeNoNode})
		case !s.canRead(c, n, wire.PermRead):
			resp.Results = append(resp.Results, wire.OpResult{Type: wire.OpError, Err: wire.CodeNoAuth})
		case op.Type == wire.OpGetData:
			resp.Results = append(resp.Results, wire.OpResult{Type: wire.OpGetData, Resp: &wire.GetDataResponse{Data: n.Data, Stat: n.Stat()}})
		default:
			resp.Results = append(resp.Results, wire.OpResult{Type: wire.OpGetChildren, Resp: &wire.ChildrenResponse{Children: n.ChildNames()}})
		}
	}
	return resp
}

// setWatches re-registers a reconnecting client's watches and fires those
// that missed a change, as DataTree.setWatches does.
func (s *Server) setWatches(c *conn, sw *wire.SetWatches) {
	rel := sw.RelativeZxid
	for _, p := range sw.DataWatches {
		n := s.tree.Get(p)
		switch {
		case n == nil:
			c.Notify(wire.WatcherEvent{Type: wire.EventNodeDeleted, State: wire.StateSyncConnected, Path: p})
		case n.Mzxid > rel:
			c.Notify(wire.WatcherEvent{Type: wire.EventNodeDataChanged, State: wire.StateSyncConnected, Path: p})
		default:
			s.watches.Add(watch.Data, p, c)
		}
	}
	for _, p := range sw.ExistWatches {
		if s.tree.Get(p) != nil {
			c.Notify(wire.WatcherEvent{Type: wire.EventNodeCreated, State: wire.StateSyncConnected, Path: p})
		} else {
			s.watches.Add(watch.Data, p, c)
		}
	}
	for _, p := range sw.ChildWatches {
		n := s.tree.Get(p)
		switch {
		case n == nil:
			c.Notify(wire.WatcherEvent{Type: wire.EventNodeDeleted, State: wire.StateSyncConnected, Path: p})
		case n.Pzxid > rel:
			c.Notify(wire.WatcherEvent{Type: wire.EventNodeChildrenChanged, State: wire.StateSyncConnected, Path: p})
		default:
			s.watches.Add(watch.Child, p, c)
		}
	}
	for _, p := range sw.PersistentWatches {
		s.watches.Add(watch.Persistent, p, c)
	}
	for _, p := range sw.PersistentRecursive {
		s.watches.Add(watch.PersistentRecursive, p, c)
	}
}
