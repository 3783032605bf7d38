package txn

import (
	"fmt"
	"slices"
	"sync"

	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// Request is a client write as the prep step sees it.
type Request struct {
	SessionID int64
	Cxid      int32
	Type      int32
	Body      wire.Record
	Auth      []wire.ID
	Timeout   int32 // createSession: negotiated timeout in ms
}

// Options are the prep step's settings.
type Options struct {
	ExtendedTypes   bool // TTL nodes allowed
	SkipACL         bool
	ReconfigEnabled bool
	// Providers: the x509 and sasl schemes are valid in ACLs (their
	// providers are registered).
	Providers acl.Providers
	// StandaloneEnabled (zoo.cfg standaloneEnabled, default true): a
	// reconfig must then leave at least 2 voters.
	StandaloneEnabled bool
	// Quorum answers reconfig's questions on the leader; nil on a
	// standalone server (reconfig is UNIMPLEMENTED there).
	Quorum Quorum
	// EnforceQuota (zoo.cfg enforceQuota): a create or setData that would
	// pass a quota's hard limit fails with QUOTAEXCEEDED, and passing a
	// limit is logged through QuotaLog (Apache's checkQuota; without it
	// quotas are only counted).
	EnforceQuota bool
	QuotaLog     func(msg string)
	// QuotaRefused is told the path of every write refused by a quota.
	QuotaRefused func(path string)
}

// nodeState is what prep knows of a node: the committed node or an
// in-flight change to it. exists=false records a pending delete.
type nodeState struct {
	exists      bool
	acl         []wire.ACL
	owner       int64
	version     int32
	cversion    int32
	aversion    int32
	numChildren int
	dataLen     int // for quota checks
	zxid        int64
}

// Changes are the in-flight changes of one prepped request; Commit records
// them under the zxid the txn finally got.
type Changes struct {
	o  *overlay // nil: nothing to commit
	ov overlay  // o's storage: a request's changes are one allocation
}

type pendingRef struct {
	zxid int64
	path string
}

// Prep is the prep step.
type Prep struct {
	mu      sync.Mutex
	tree    *tree.Tree
	opts    Options
	pending map[string]*nodeState
	order   []pendingRef // pending changes in zxid order, to clear on apply
	applied int64        // last zxid passed to Applied
}

// NewPrep returns a prep step over t.
func NewPrep(t *tree.Tree, opts Options) *Prep {
	return &Prep{tree: t, opts: opts, pending: make(map[string]*nodeState)}
}

// Applied drops the in-flight changes made by txns up to zxid: the tree has them now.
func (p *Prep) Applied(zxid int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if zxid > p.applied {
		p.applied = zxid
	}
	i := 0
	for ; i < len(p.order) && p.order[i].zxid <= zxid; i++ {
		r := p.order[i]
		if s := p.pending[r.path]; s != nil && s.zxid <= zxid {
			delete(p.pending, r.path)
		}
	}
	p.order = p.order[i:]
	if len(p.order) == 0 && cap(p.order) > 1024 {
		p.order = nil
	}
}

// Reset forgets every in-flight change (after a leader change or a restore).
func (p *Prep) Reset() {
	p.mu.Lock()
	p.pending = make(map[string]*nodeState)
	p.order = nil
	p.mu.Unlock()
}

// overlay collects the changes of one request; they reach Prep.pending only
// when the whole request (a multi's every op) succeeded.
type overlay struct {
	p *Prep
	// paths and states are the changed nodes in the order first changed.
	// Most requests change one or two (a node and its parent), so they
	// are searched in order; index takes over for a large multi.
	paths  []string
	states []*nodeState
	index  map[string]int
	// Inline room for what most requests need (a create reads its node
	// and parent and changes both), so that they allocate none of it.
	pathsBuf  [2]string
	statesBuf [2]*nodeState
	stateBuf  [3]nodeState
	nstates   int
}

// init readies an overlay of p in place.
func (o *overlay) init(p *Prep) {
	o.p = p
	o.paths = o.pathsBuf[:0]
	o.states = o.statesBuf[:0]
}

// newState returns a state holding s: from the inline room while it
// lasts. Committed states stay referenced by Prep.pending, which keeps
// the overlay alive until the txn is applied.
func (o *overlay) newState(s nodeState) *nodeState {
	if o.nstates < len(o.stateBuf) {
		p := &o.stateBuf[o.nstates]
		o.nstates++
		*p = s
		return p
	}
	p := new(nodeState)
	*p = s
	return p
}

// overlayIndexAt is the number of changed nodes from which an overlay
// keeps an index instead of searching its slice.
const overlayIndexAt = 16

// find returns the position of path among the changes, or -1.
func (o *overlay) find(path string) int {
	if o.index != nil {
		if i, ok := o.index[path]; ok {
			return i
		}
		return -1
	}
	for i, p := range o.paths {
		if p == path {
			return i
		}
	}
	return -1
}

func (o *overlay) get(path string) *nodeState {
	if path == "" {
		path = "/"
	}
	if i := o.find(path); i >= 0 {
		return o.states[i]
	}
	if s, ok := o.p.pending[path]; ok {
		return o.newState(*s)
	}
	n := o.p.tree.Get(path)
	if n == nil {
		return o.newState(nodeState{})
	}
	return o.newState(nodeState{exists: true, acl: o.p.tree.ACL(n), owner: n.Owner, version: n.Version,
		cversion: n.Cversion, aversion: n.Aversion, numChildren: n.NumChildren(), dataLen: len(n.Data)})
}

func (o *overlay) set(path string, s *nodeState) {
	if i := o.find(path); i >= 0 {
		o.states[i] = s
		return
	}
	o.paths = append(o.paths, path)
	o.states = append(o.states, s)
	switch {
	case o.index != nil:
		o.index[path] = len(o.paths) - 1
	case len(o.paths) >= overlayIndexAt:
		o.index = make(map[string]int, 2*len(o.paths))
		for i, p := range o.paths {
			o.index[p] = i
		}
	}
}

// remove records the deletion of path and its parent's lost child.
func (o *overlay) remove(path string) {
	parentPath := wire.Parent(path)
	parent := o.get(parentPath)
	o.set(path, o.newState(nodeState{}))
	parent.numChildren--
	o.set(parentPath, parent)
}

func (o *overlay) commit(zxid int64) {
	if zxid <= o.p.applied {
		return // already in the tree
	}
	for i, path := range o.paths {
		s := o.states[i]
		s.zxid = zxid
		o.p.pending[path] = s
		o.p.order = append(o.p.order, pendingRef{zxid: zxid, path: path})
	}
}

// Commit records a prepped request's changes as in flight under zxid, so
// that later requests are checked against them until Applied(zxid). The
// caller preps and commits requests one at a time, in zxid order.
func (p *Prep) Commit(c *Changes, zxid int64) {
	if c == nil || c.o == nil {
		return
	}
	p.mu.Lock()
	c.o.commit(zxid)
	p.mu.Unlock()
}

// Prep turns req into a txn (zxid not yet assigned) and the changes it
// makes. A request that fails its checks becomes an error txn, as in
// Apache: it still takes a zxid.
func (p *Prep) Prep(req *Request, now int64) (*Txn, *Changes) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tree.RLock()
	defer p.tree.RUnlock()

	hdr := Header{SessionID: req.SessionID, Cxid: req.Cxid, Time: now, Type: req.Type}
	ch := &Changes{}
	o := &ch.ov
	o.init(p)
	switch req.Type {
	case wire.OpMulti:
		t := &Txn{Header: hdr}
		mr, _ := req.Body.(*wire.MultiRequest)
		if mr == nil {
			return errorTxn(t, wire.CodeMarshallingError), ch
		}
		for _, op := range mr.Ops {
			if op.Type == wire.OpGetData || op.Type == wire.OpGetChildren {
				// Mixing reads into a multi: Apache rejects the whole
				// request with MARSHALLINGERROR (still an error txn).
				return errorTxn(t, wire.CodeMarshallingError), ch
			}
		}
		t.Ops = make([]Txn, 0, len(mr.Ops))
		failed := -1
		for i, op := range mr.Ops {
			typ, body, ok := multiCreate(op)
			if !ok {
				return errorTxn(t, wire.CodeMarshallingError), ch
			}
			sub, err := p.prepOp(o, req, typ, body)
			if err != nil {
				failed = i
				t.Ops = t.Ops[:0]
				for j := range mr.Ops {
					code := wire.CodeOK
					switch {
					case j == i:
						code = wire.CodeOf(err)
					case j > i:
						code = wire.CodeRuntimeInconsistency
					}
					t.Ops = append(t.Ops, Txn{Header: Header{Type: TypeError}, Err: code})
				}
				break
			}
			t.Ops = append(t.Ops, *sub)
		}
		if failed < 0 {
			ch.o = o
		}
		return t, ch
	case wire.OpCreateSession:
		t := &Txn{Header: hdr}
		t.Timeout = req.Timeout
		return t, ch
	case wire.OpReconfig:
		t := &Txn{Header: hdr}
		// reconfig needs an ensemble; standalone answers as Apache does.
		if !p.opts.ReconfigEnabled {
			return errorTxn(t, wire.CodeReconfigDisabled), ch
		}
		rt, err := p.prepReconfig(o, req, t)
		if err != nil {
			return errorTxn(t, wire.CodeOf(err)), ch
		}
		return rt, ch
	case wire.OpCloseSession:
		t := &Txn{Header: hdr}
		t.Paths = []string{}
		for _, path := range p.tree.Ephemerals(req.SessionID) {
			if s, ok := p.pending[path]; ok && (!s.exists || s.owner != req.SessionID) {
				continue // deleted (or replaced) by a txn not applied yet
			}
			o.remove(path)
			t.Paths = append(t.Paths, path)
		}
		for path, s := range p.pending {
			if !s.exists || s.owner != req.SessionID {
				continue
			}
			if n := p.tree.Get(path); n == nil || n.Owner != req.SessionID {
				// Created by a txn not applied yet: not among the tree's
				// ephemerals above. Its parent loses the child too, or a
				// delete of the parent would fail with NOTEMPTY until
				// the create is applied.
				o.remove(path)
				t.Paths = append(t.Paths, path)
			}
		}
		slices.Sort(t.Paths)
		ch.o = o
		return t, ch
	}
	sub, err := p.prepOp(o, req, req.Type, req.Body)
	if err != nil {
		return errorTxn(&Txn{Header: hdr}, wire.CodeOf(err)), ch
	}
	ch.o = o
	typ := sub.Type // the txn type (create2 is a create txn, as in Apache)
	sub.Header = hdr
	sub.Header.Type = typ
	return sub, ch
}

// multiCreate maps a create op of a multi as Apache's Op.create does when
// MultiOperationRecord reads it: the opcode follows the flags (unknown flags
// count as persistent), and a createTTL whose mode is not a TTL mode becomes
// a plain create (or createContainer), its TTL dropped. ok is false for TTL
// flags under create, create2 or createContainer: Apache then makes a
// createTTL op of a CreateRequest, prep's cast fails and the whole multi is
// answered MARSHALLINGERROR (observed on 3.8.0; found by the differential
// test).
func multiCreate(op wire.Op) (int32, wire.Record, bool) {
	mode := func(f int32) int32 {
		if f < wire.ModePersistent || f > wire.ModePersistentSequentialWithTTL {
			return wire.ModePersistent
		}
		return f
	}
	isTTL := func(m int32) bool {
		return m == wire.ModePersistentWithTTL || m == wire.ModePersistentSequentialWithTTL
	}
	opFor := func(m int32) int32 {
		if m == wire.ModeContainer {
			return wire.OpCreateContainer
		}
		return wire.OpCreate
	}
	switch r := op.Req.(type) {
	case *wire.CreateRequest:
		if op.Type != wire.OpCreate && op.Type != wire.OpCreate2 && op.Type != wire.OpCreateContainer {
			break
		}
		if isTTL(mode(r.Flags)) {
			return 0, nil, false
		}
		return opFor(mode(r.Flags)), r, true
	case *wire.CreateTTLRequest:
		if op.Type != wire.OpCreateTTL || isTTL(mode(r.Flags)) {
			break
		}
		return opFor(mode(r.Flags)), &wire.CreateRequest{Path: r.Path, Data: r.Data, ACL: r.ACL, Flags: r.Flags}, true
	}
	return op.Type, op.Req, true
}

func errorTxn(t *Txn, code wire.Code) *Txn {
	t.Type = TypeError
	t.Err = code
	return t
}

// checkQuota refuses, with enforceQuota on, a write that would take the
// quota over path past a hard limit. As in Apache it judges against the
// usage of the txns applied, not of those in flight, and the size of the
// data being replaced is that of the newest write to it, applied or not.
func (p *Prep) checkQuota(path string, bytesDiff, countDiff int) error {
	if !p.opts.EnforceQuota {
		return nil
	}
	msgs, refuse := p.tree.QuotaCheck(path, int64(bytesDiff), int64(countDiff))
	if p.opts.QuotaLog != nil {
		for _, m := range msgs {
			p.opts.QuotaLog(m)
		}
	}
	if refuse {
		if p.opts.QuotaRefused != nil {
			p.opts.QuotaRefused(path)
		}
		return wire.ErrQuotaExceeded
	}
	return nil
}

func (p *Prep) checkACL(s *nodeState, perm int32, req *Request) error {
	if p.opts.SkipACL || acl.Check(s.acl, perm, req.Auth) {
		return nil
	}
	return wire.ErrNoAuth
}

// existing validates path and returns its node after checking perm, the
// order of setData's and check's checks in PrepRequestProcessor.
func (p *Prep) existing(o *overlay, path string, perm int32, req *Request) (*nodeState, error) {
	if wire.ValidatePath(path) != nil {
		return nil, wire.ErrBadArguments
	}
	node := o.get(path)
	if !node.exists {
		return nil, wire.ErrNoNode
	}
	if err := p.checkACL(node, perm, req); err != nil {
		return nil, err
	}
	return node, nil
}

func checkVersion(current, expected int32) (int32, error) {
	if expected != -1 && current != expected {
		return 0, wire.ErrBadVersion
	}
	return current + 1, nil
}

// prepOp checks one operation and returns its txn body, recording its
// changes in o. Check order follows PrepRequestProcessor.pRequest2Txn.
func (p *Prep) prepOp(o *overlay, req *Request, op int32, body wire.Record) (*Txn, error) {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		var cr wire.CreateRequest
		ttl := int64(-1)
		switch r := body.(type) {
		case *wire.CreateRequest:
			cr = *r
		case *wire.CreateTTLRequest:
			cr = wire.CreateRequest{Path: r.Path, Data: r.Data, ACL: r.ACL, Flags: r.Flags}
			ttl = r.TTL
		default:
			return nil, wire.ErrMarshallingError
		}
		return p.prepCreate(o, req, op, &cr, ttl)
	case wire.OpDelete:
		r, ok := body.(*wire.PathVersionRequest)
		if !ok {
			return nil, wire.ErrMarshallingError
		}
		if r.Path == "" || r.Path[0] != '/' || tree.IsSystemPath(r.Path) || hasNUL(r.Path) {
			return nil, wire.ErrBadArguments
		}
		parentPath := wire.Parent(r.Path)
		parent := o.get(parentPath)
		if !parent.exists {
			return nil, wire.ErrNoNode
		}
		if err := p.checkACL(parent, wire.PermDelete, req); err != nil {
			return nil, err
		}
		node := o.get(r.Path)
		if !node.exists {
			return nil, wire.ErrNoNode
		}
		if _, err := checkVersion(node.version, r.Version); err != nil {
			return nil, err
		}
		if node.numChildren > 0 {
			return nil, wire.ErrNotEmpty
		}
		o.remove(r.Path)
		return &Txn{Header: Header{Type: TypeDelete}, Path: r.Path}, nil
	case wire.OpSetData:
		r, ok := body.(*wire.SetDataRequest)
		if !ok {
			return nil, wire.ErrMarshallingError
		}
		node, err := p.existing(o, r.Path, wire.PermWrite, req)
		if err != nil {
			return nil, err
		}
		if err := p.checkQuota(r.Path, len(r.Data)-node.dataLen, 0); err != nil {
			return nil, err
		}
		v, err := checkVersion(node.version, r.Version)
		if err != nil {
			return nil, err
		}
		node.version = v
		node.dataLen = len(r.Data)
		o.set(r.Path, node)
		return &Txn{Header: Header{Type: TypeSetData}, Path: r.Path, Data: r.Data, Version: v}, nil
	case wire.OpSetACL:
		r, ok := body.(*wire.SetACLRequest)
		if !ok {
			return nil, wire.ErrMarshallingError
		}
		if wire.ValidatePath(r.Path) != nil {
			return nil, wire.ErrBadArguments
		}
		list, err := acl.Fixup(r.ACL, req.Auth, p.opts.Providers)
		if err != nil {
			return nil, err
		}
		node := o.get(r.Path)
		if !node.exists {
			return nil, wire.ErrNoNode
		}
		if err := p.checkACL(node, wire.PermAdmin, req); err != nil {
			return nil, err
		}
		v, err := checkVersion(node.aversion, r.Version)
		if err != nil {
			return nil, err
		}
		node.aversion = v
		node.acl = list
		o.set(r.Path, node)
		return &Txn{Header: Header{Type: TypeSetACL}, Path: r.Path, ACL: list, Version: v}, nil
	case wire.OpCheck:
		r, ok := body.(*wire.PathVersionRequest)
		if !ok {
			return nil, wire.ErrMarshallingError
		}
		node, err := p.existing(o, r.Path, wire.PermRead, req)
		if err != nil {
			return nil, err
		}
		if _, err := checkVersion(node.version, r.Version); err != nil {
			return nil, err
		}
		return &Txn{Header: Header{Type: TypeCheck}, Path: r.Path, Version: node.version}, nil
	case wire.OpDeleteContainer:
		r, ok := body.(*wire.PathRequest)
		if !ok {
			return nil, wire.ErrMarshallingError
		}
		node := o.get(r.Path)
		if !node.exists {
			return nil, wire.ErrNoNode
		}
		_, isTTL := tree.IsTTL(node.owner)
		if node.owner != tree.ContainerOwner && !isTTL {
			return nil, wire.ErrBadArguments
		}
		if node.numChildren > 0 {
			return nil, wire.ErrNotEmpty
		}
		o.remove(r.Path)
		return &Txn{Header: Header{Type: TypeDeleteContainer}, Path: r.Path}, nil
	}
	return nil, wire.ErrUnimplemented
}

func hasNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func (p *Prep) prepCreate(o *overlay, req *Request, op int32, cr *wire.CreateRequest, ttl int64) (*Txn, error) {
	mode := cr.Flags
	if mode < wire.ModePersistent || mode > wire.ModePersistentSequentialWithTTL {
		return nil, wire.ErrBadArguments
	}
	isTTL := mode == wire.ModePersistentWithTTL || mode == wire.ModePersistentSequentialWithTTL
	isContainer := mode == wire.ModeContainer
	sequential := mode == wire.ModePersistentSequential || mode == wire.ModeEphemeralSequential || mode == wire.ModePersistentSequentialWithTTL
	ephemeral := mode == wire.ModeEphemeral || mode == wire.ModeEphemeralSequential
	// validateCreateRequest: TTL rules.
	if isTTL && !p.opts.ExtendedTypes {
		return nil, wire.ErrUnimplemented
	}
	if op == wire.OpCreateTTL {
		if !isTTL || ttl <= 0 || ttl > tree.MaxTTL {
			return nil, wire.ErrBadArguments
		}
	} else if isTTL {
		return nil, wire.ErrBadArguments
	}
	// createContainer with another mode is not refused: Apache creates the
	// node with that mode (only the flags decide the owner).
	// validatePathForCreate
	path := cr.Path
	if len(path) == 0 || path[0] != '/' || hasNUL(path) {
		return nil, wire.ErrBadArguments
	}
	list, err := acl.Fixup(cr.ACL, req.Auth, p.opts.Providers)
	if err != nil {
		return nil, err
	}
	parentPath := "/"
	if lastSlash := lastIndexSlash(path); lastSlash > 0 {
		parentPath = path[:lastSlash]
	}
	parent := o.get(parentPath)
	if !parent.exists {
		return nil, wire.ErrNoNode
	}
	if err := p.checkACL(parent, wire.PermCreate, req); err != nil {
		return nil, err
	}
	if sequential {
		path = fmt.Sprintf("%s%010d", path, parent.cversion)
	}
	if wire.ValidatePath(path) != nil {
		return nil, wire.ErrBadArguments
	}
	if o.get(path).exists {
		return nil, wire.ErrNodeExists
	}
	if tree.IsEphemeral(parent.owner) {
		return nil, wire.ErrNoChildrenForEphemerals
	}
	if err := p.checkQuota(path, len(cr.Data), 1); err != nil {
		return nil, err
	}
	parent.cversion++
	parent.numChildren++
	o.set(parentPath, parent)
	owner := int64(0)
	switch {
	case ephemeral:
		owner = req.SessionID
	case isContainer:
		owner = tree.ContainerOwner
	case isTTL:
		owner = tree.TTLOwner(ttl)
	}
	o.set(path, o.newState(nodeState{exists: true, acl: list, owner: owner, dataLen: len(cr.Data)}))
	typ := TypeCreate
	switch {
	case isContainer:
		typ = TypeCreateContainer
	case isTTL:
		typ = TypeCreateTTL
	}
	return &Txn{Header: Header{Type: typ}, Path: path, Data: cr.Data, ACL: list,
		EphemeralOwner: owner, ParentCVersion: parent.cversion}, nil
}

func lastIndexSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}
