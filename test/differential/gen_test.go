package differential

import (
	"fmt"
	"math/rand"
	"strings"

	"github.com/zkgo/zkgo/internal/quota"
	"github.com/zkgo/zkgo/server/acl"
	"github.com/zkgo/zkgo/server/wire"
)

// Three clients per seed. Clients 0 and 1 set standard watches; client 2
// sets only persistent watches (addWatch). Mask: zkgo keeps a standard and
// a persistent watch of one connection on one path side by side (as 3.9
// does), where 3.8 lets the later replace the earlier (README, "Where zkgo
// differs": Watches), so no client mixes the two kinds.
const nClients = 3

// Digest users: client 0 authenticates as u1, client 1 as u2, client 2 not.
var users = []string{"u1:p1", "u2:p2"}

// maxBuffer is jute.maxbuffer on both servers.
const maxBuffer = 0xfffff

// step is one operation of a sequence.
type step struct {
	client int
	op     int32 // an opcode, or one of the pseudo-ops below
	req    wire.Record
	raw    []byte // body of an oversize request
	back   int    // setWatches: relative to the zxid the client had seen this many steps ago
	desc   string
}

// Pseudo-ops.
const (
	opReopen int32 = -1000 - iota // close the session, open a new one
	opAddAuth
	opMove // drop the connection, resume the session on the next member (standalone: the same server)
)

// gen produces a random operation sequence; it learns the names servers
// give (sequential znodes) from the reference's replies.
type gen struct {
	r     *rand.Rand
	root  string
	known []string
	isKn  map[string]bool
	quota bool // the root has a quota: reads of its stats znode are steps too
}

func newGen(seed int64, root string) *gen {
	g := &gen{r: rand.New(rand.NewSource(seed)), root: root, isKn: map[string]bool{}}
	g.learn(root)
	return g
}

func (g *gen) learn(p string) {
	if !g.isKn[p] {
		g.isKn[p] = true
		g.known = append(g.known, p)
	}
}

var names = []string{"a", "b", "c", "d"}

var specialPaths = []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}

// Not here: invalid UTF-8. Apache decodes every string as Java does
// (malformed bytes become U+FFFD), zkgo keeps the bytes; a known
// difference reported to the lead, not yet fixed or listed in the README.
var invalidPaths = []string{"", "a", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a\x00b", "/ \u0001", "/\u00e9\u4e2d", "/\U0001F600"}

// path picks a path: mostly one believed to exist, or a child of one
// (which may or may not exist).
func (g *gen) path() string {
	switch x := g.r.Intn(100); {
	case x < 45:
		return g.known[g.r.Intn(len(g.known))]
	case x < 90:
		p := g.known[g.r.Intn(len(g.known))]
		if strings.Count(p, "/") > 5 {
			p = g.root
		}
		return p + "/" + names[g.r.Intn(len(names))]
	case x < 95:
		return g.root + "/" + names[g.r.Intn(len(names))] + "/" + names[g.r.Intn(len(names))] + "/x"
	default:
		return specialPaths[g.r.Intn(len(specialPaths))]
	}
}

func (g *gen) data() []byte {
	switch x := g.r.Intn(100); {
	case x < 5:
		return nil
	case x < 10:
		return []byte{}
	case x < 11:
		// Large but within jute.maxbuffer.
		b := make([]byte, 500000+g.r.Intn(maxBuffer-500000-1000))
		g.r.Read(b)
		return b
	default:
		b := make([]byte, g.r.Intn(24))
		g.r.Read(b)
		return b
	}
}

func (g *gen) version() int32 {
	if g.r.Intn(3) == 0 {
		return -1
	}
	return int32(g.r.Intn(4)) - 1 + int32(g.r.Intn(2))
}

func digestID(user string) string { return acl.Digest(user) }

// acl picks an ACL, sometimes one Apache refuses (InvalidACL).
func (g *gen) acl() ([]wire.ACL, string) {
	world := func(p int32) wire.ACL { return wire.ACL{Perms: p, ID: wire.ID{Scheme: "world", ID: "anyone"}} }
	switch x := g.r.Intn(100); {
	case x < 55:
		return []wire.ACL{world(wire.PermAll)}, "open"
	case x < 62:
		return []wire.ACL{world(wire.PermRead)}, "read-only"
	case x < 68:
		p := int32(g.r.Intn(32))
		return []wire.ACL{world(p)}, fmt.Sprintf("world:%d", p)
	case x < 75:
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}}}, "creator-all"
	case x < 82:
		u := g.r.Intn(2)
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: digestID(users[u])}}}, "digest-u" + fmt.Sprint(u+1)
	case x < 88:
		return []wire.ACL{world(wire.PermRead | wire.PermCreate),
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: digestID(users[1])}}}, "read+u2"
	case x < 92:
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "127.0.0.1"}}}, "ip"
	case x < 94:
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "10.0.0.0/8"}}}, "ip-other"
	case x < 95:
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "nosuch", ID: "x"}}}, "bad-scheme"
	case x < 96:
		// Ids and perms at the edges of what the providers take.
		odd := []wire.ACL{
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "300.1.1.1"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "127.0.0.1/33"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "127.0.0.1/0"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "::1"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: ""}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "bob"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "x509", ID: "CN=a"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "u"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "super", ID: "x"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: "u:"}},
			{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: ":h"}},
			{Perms: 0, ID: wire.ID{Scheme: "world", ID: "anyone"}},
			{Perms: 64, ID: wire.ID{Scheme: "world", ID: "anyone"}},
			{Perms: -1, ID: wire.ID{Scheme: "world", ID: "anyone"}},
		}
		a := odd[g.r.Intn(len(odd))]
		return []wire.ACL{a}, fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms)
	case x < 98:
		return []wire.ACL{}, "empty"
	default:
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "digest", ID: "nocolon"}}}, "bad-digest"
	}
}

var createModes = []int32{wire.ModePersistent, wire.ModeEphemeral, wire.ModePersistentSequential, wire.ModeEphemeralSequential}

func (g *gen) ttl() int64 {
	switch x := g.r.Intn(10); {
	case x == 0:
		return 0
	case x == 1:
		return -5
	case x == 2:
		return 1 << 45 // over the TTL maximum
	default:
		return int64(600000 + g.r.Intn(600000))
	}
}

// createOp returns one create request of any kind and its opcode.
func (g *gen) createOp(inMulti bool) (int32, wire.Record, string) {
	p := g.path()
	if g.r.Intn(40) == 0 {
		p = invalidPaths[g.r.Intn(len(invalidPaths))]
	}
	a, an := g.acl()
	d := g.data()
	if inMulti && len(d) > 1000 {
		d = d[:100]
	}
	// No sequential znodes at the top level (a sequential create of /diffN
	// or /zookeeper would make one): seeds share the servers, and what a
	// seed leaves under / must go with the cleanup of its own root.
	topLevel := p == "/" || wire.Parent(p) == "/"
	x := g.r.Intn(100)
	switch {
	case x < 50:
		m := createModes[g.r.Intn(len(createModes))]
		if topLevel {
			m &^= 2 // not sequential
		}
		op := wire.OpCreate
		if g.r.Intn(2) == 0 {
			op = wire.OpCreate2
		}
		return op, &wire.CreateRequest{Path: p, Data: d, ACL: a, Flags: m}, fmt.Sprintf("%s %q mode=%d acl=%s len=%d", wire.OpName(op), p, m, an, len(d))
	case x < 65:
		return wire.OpCreateContainer, &wire.CreateRequest{Path: p, Data: d, ACL: a, Flags: wire.ModeContainer},
			fmt.Sprintf("createContainer %q acl=%s", p, an)
	case x < 85:
		m := wire.ModePersistentWithTTL
		if g.r.Intn(3) == 0 && !topLevel {
			m = wire.ModePersistentSequentialWithTTL
		}
		ttl := g.ttl()
		return wire.OpCreateTTL, &wire.CreateTTLRequest{Path: p, Data: d, ACL: a, Flags: m, TTL: ttl},
			fmt.Sprintf("createTTL %q mode=%d ttl=%d acl=%s", p, m, ttl, an)
	case x < 92:
		// Modes that do not go with the opcode.
		modes := []int32{wire.ModeContainer, wire.ModePersistentWithTTL, 7, -1}
		m := modes[g.r.Intn(len(modes))]
		return wire.OpCreate, &wire.CreateRequest{Path: p, Data: d, ACL: a, Flags: m}, fmt.Sprintf("create %q mode=%d (mismatched)", p, m)
	default:
		m := createModes[g.r.Intn(len(createModes))]
		if topLevel {
			m &^= 2
		}
		ttl := g.ttl()
		if ttl < 0 {
			// Mask: Apache 3.8.0 dies on createTTL with a non-TTL mode and
			// a negative TTL (the server process exits; observed).
			ttl = 0
		}
		return wire.OpCreateTTL, &wire.CreateTTLRequest{Path: p, Data: d, ACL: a, Flags: m, TTL: ttl},
			fmt.Sprintf("createTTL %q mode=%d ttl=%d (non-TTL mode)", p, m, ttl)
	}
}

func (g *gen) multiOp() (wire.Op, string) {
	p := g.path()
	switch x := g.r.Intn(100); {
	case x < 35:
		op, req, d := g.createOp(true)
		if op == wire.OpCreate2 {
			op = wire.OpCreate
		}
		return wire.Op{Type: op, Req: req}, d
	case x < 55:
		v := g.version()
		return wire.Op{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: p, Version: v}}, fmt.Sprintf("delete %q v=%d", p, v)
	case x < 80:
		v := g.version()
		d := g.data()
		if len(d) > 1000 {
			d = d[:100]
		}
		return wire.Op{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: p, Data: d, Version: v}}, fmt.Sprintf("setData %q v=%d", p, v)
	default:
		v := g.version()
		return wire.Op{Type: wire.OpCheck, Req: &wire.PathVersionRequest{Path: p, Version: v}}, fmt.Sprintf("check %q v=%d", p, v)
	}
}

// next returns the next step.
func (g *gen) next() step {
	c := g.r.Intn(nClients)
	watch := c != 2 && g.r.Intn(2) == 0
	p := g.path()
	if g.r.Intn(30) == 0 {
		p = invalidPaths[g.r.Intn(len(invalidPaths))]
	}
	s := step{client: c}
	switch x := g.r.Intn(1000); {
	case x < 260:
		s.op, s.req, s.desc = g.createOp(false)
	case x < 360:
		v := g.version()
		s.op, s.req, s.desc = wire.OpDelete, &wire.PathVersionRequest{Path: p, Version: v}, fmt.Sprintf("delete %q v=%d", p, v)
	case x < 460:
		v := g.version()
		d := g.data()
		s.op, s.req, s.desc = wire.OpSetData, &wire.SetDataRequest{Path: p, Data: d, Version: v}, fmt.Sprintf("setData %q v=%d len=%d", p, v, len(d))
	case x < 540:
		if g.quota && g.r.Intn(4) == 0 {
			p = quota.StatPath(g.root) // rewritten in place: no watch fires
		}
		s.op, s.req, s.desc = wire.OpGetData, &wire.PathWatchRequest{Path: p, Watch: watch}, fmt.Sprintf("getData %q watch=%v", p, watch)
	case x < 600:
		s.op, s.req, s.desc = wire.OpExists, &wire.PathWatchRequest{Path: p, Watch: watch}, fmt.Sprintf("exists %q watch=%v", p, watch)
	case x < 640:
		s.op, s.req, s.desc = wire.OpGetChildren, &wire.PathWatchRequest{Path: p, Watch: watch}, fmt.Sprintf("getChildren %q watch=%v", p, watch)
	case x < 690:
		s.op, s.req, s.desc = wire.OpGetChildren2, &wire.PathWatchRequest{Path: p, Watch: watch}, fmt.Sprintf("getChildren2 %q watch=%v", p, watch)
	case x < 770:
		n := 1 + g.r.Intn(4)
		if g.r.Intn(10) == 0 {
			n = 5 + g.r.Intn(30) // a bigger batch: its ops see each other's changes
		}
		m := &wire.MultiRequest{}
		var ds []string
		for i := 0; i < n; i++ {
			op, d := g.multiOp()
			m.Ops = append(m.Ops, op)
			ds = append(ds, d)
		}
		s.op, s.req, s.desc = wire.OpMulti, m, "multi["+strings.Join(ds, "; ")+"]"
	case x < 790:
		n := 1 + g.r.Intn(3)
		m := &wire.MultiRequest{}
		var ds []string
		for i := 0; i < n; i++ {
			q := g.path()
			op := wire.OpGetData
			if g.r.Intn(2) == 0 {
				op = wire.OpGetChildren
			}
			m.Ops = append(m.Ops, wire.Op{Type: op, Req: &wire.PathWatchRequest{Path: q}})
			ds = append(ds, fmt.Sprintf("%s %q", wire.OpName(op), q))
		}
		s.op, s.req, s.desc = wire.OpMultiRead, m, "multiRead["+strings.Join(ds, "; ")+"]"
	case x < 830:
		a, an := g.acl()
		v := g.version()
		s.op, s.req, s.desc = wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: a, Version: v}, fmt.Sprintf("setACL %q acl=%s v=%d", p, an, v)
	case x < 860:
		s.op, s.req, s.desc = wire.OpGetACL, &wire.PathRequest{Path: p}, fmt.Sprintf("getACL %q", p)
	case x < 875:
		s.op, s.req, s.desc = wire.OpSync, &wire.PathRequest{Path: p}, fmt.Sprintf("sync %q", p)
	case x < 895:
		q := p
		if g.r.Intn(3) == 0 {
			q = ""
		}
		s.op, s.req, s.desc = wire.OpGetEphemerals, &wire.PathRequest{Path: q}, fmt.Sprintf("getEphemerals %q", q)
	case x < 915:
		s.op, s.req, s.desc = wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: p}, fmt.Sprintf("getAllChildrenNumber %q", p)
	case x < 945:
		s.client = 2
		// One mode per path: zkgo keeps a persistent and a recursive watch
		// of one connection on one path side by side as 3.9 does, where
		// 3.8 lets the later replace the earlier (README, "Where zkgo
		// differs": Watches).
		m := int32(len(p) % 2)
		if g.r.Intn(20) == 0 {
			m = 7
		}
		s.op, s.req, s.desc = wire.OpAddWatch, &wire.AddWatchRequest{Path: p, Mode: m}, fmt.Sprintf("addWatch %q mode=%d", p, m)
	case x < 965:
		s.client = g.r.Intn(2)
		t := int32(1 + g.r.Intn(3))
		s.op, s.req, s.desc = wire.OpRemoveWatches, &wire.WatchesRequest{Path: p, Type: t}, fmt.Sprintf("removeWatches %q type=%d", p, t)
	case x < 968:
		s.op, s.desc = wire.OpWhoAmI, "whoAmI"
	case x < 970:
		// reconfigEnabled is off on both: the answer, whoever asks and
		// whatever the request holds.
		r := &wire.ReconfigRequest{CurConfigID: -1}
		switch g.r.Intn(3) {
		case 0:
			r.JoiningServers = "server.9=127.0.0.1:1:2;3"
		case 1:
			r.LeavingServers = "1"
		default:
			r.NewMembers = "server.1=127.0.0.1:1:2;3"
		}
		s.op, s.req, s.desc = wire.OpReconfig, r, fmt.Sprintf("reconfig %+v", *r)
	case x < 980:
		// setWatches (what a client sends after a reconnect), on clients
		// with standard watches only; relative to a zxid seen up to 20
		// steps ago, so that some fire at once. Lists are empty, never
		// null as no client sends them: Apache iterates a null list and
		// answers MARSHALLINGERROR halfway through (observed), zkgo takes
		// it as empty.
		s.client = g.r.Intn(2)
		sw := &wire.SetWatches{DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{}}
		for i := g.r.Intn(3); i > 0; i-- {
			sw.DataWatches = append(sw.DataWatches, g.path())
		}
		for i := g.r.Intn(3); i > 0; i-- {
			sw.ExistWatches = append(sw.ExistWatches, g.path())
		}
		for i := g.r.Intn(3); i > 0; i-- {
			sw.ChildWatches = append(sw.ChildWatches, g.path())
		}
		s.back = g.r.Intn(20)
		s.op, s.req = wire.OpSetWatches, sw
		s.desc = fmt.Sprintf("setWatches back=%d data=%q exist=%q child=%q", s.back, sw.DataWatches, sw.ExistWatches, sw.ChildWatches)
		if g.r.Intn(3) == 0 {
			// setWatches2 (a 3.6+ client with persistent watches), on the
			// client with persistent watches only: one mode per path, as
			// for addWatch.
			s.client = 2
			sw = &wire.SetWatches{DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
				PersistentWatches: []string{}, PersistentRecursive: []string{}, V2: true}
			for i := 1 + g.r.Intn(3); i > 0; i-- {
				if q := g.path(); len(q)%2 == 0 {
					sw.PersistentWatches = append(sw.PersistentWatches, q)
				} else {
					sw.PersistentRecursive = append(sw.PersistentRecursive, q)
				}
			}
			s.op, s.req = wire.OpSetWatches2, sw
			s.desc = fmt.Sprintf("setWatches2 back=%d persistent=%q recursive=%q", s.back, sw.PersistentWatches, sw.PersistentRecursive)
		}
	case x < 983:
		s.op, s.desc = opReopen, "close the session and open a new one"
	case x < 987:
		s.op, s.desc = opMove, "drop the connection, resume the session on the next member"
	case x < 992:
		u := users[g.r.Intn(len(users))]
		switch g.r.Intn(4) {
		case 0:
			u = "u1:wrong"
		case 1:
			u = "nocolon" // Apache takes it: id "nocolon:<sha1>"
		}
		scheme := "digest"
		if g.r.Intn(5) == 0 {
			// ip takes the connection's address whatever the bytes;
			// schemes without a provider fail the auth.
			scheme = []string{"ip", "ip", "world", "super", "nosuch", "x509"}[g.r.Intn(6)]
		}
		s.op, s.req, s.desc = opAddAuth, &wire.AuthPacket{Scheme: scheme, Auth: []byte(u)}, "addauth "+scheme+" "+u
	default:
		// A frame over jute.maxbuffer: both servers close the connection.
		e := wire.NewEncoder(nil)
		e.String(g.root)
		e.Buffer(make([]byte, maxBuffer+16))
		e.Int(-1)
		s.op, s.raw, s.desc = wire.OpSetData, e.Bytes(), fmt.Sprintf("setData %q with %d bytes (over jute.maxbuffer)", g.root, maxBuffer+16)
	}
	s.desc = fmt.Sprintf("c%d %s", s.client, s.desc)
	return s
}
