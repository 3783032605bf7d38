package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/sasl"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

// SASL logins (DIGEST-MD5) and enforced authentication. With
// ZKGO_IT_APACHE=1 the same tests run against Apache 3.8, its JAAS file
// given as the JVM property java.security.auth.login.config; they check
// this package's DIGEST-MD5 client against Java's server as much as
// zkgo's server against the client.

const testJAAS = `Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"
       user_bob="bobsecret";
};
`

// saslOpts configures a server as a test wants it.
type saslOpts struct {
	noJAAS      bool     // no JAAS file: SASL logins off
	provider    bool     // authProvider.1 = SASLAuthenticationProvider
	superUser   string   // superUser
	require     bool     // sessionRequireClientSASLAuth
	allowFailed bool     // allowSaslFailedClients
	enforce     []string // enforce.auth.enabled with these schemes
}

func withSASL(t testing.TB, o saslOpts) servertest.Option {
	t.Helper()
	var users map[string]string
	path := ""
	if !o.noJAAS {
		path = filepath.Join(t.TempDir(), "jaas.conf")
		if err := os.WriteFile(path, []byte(testJAAS), 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := sasl.ReadJAAS(path)
		if err != nil {
			t.Fatal(err)
		}
		if users, err = j.Users("Server"); err != nil {
			t.Fatal(err)
		}
	}
	return servertest.WithConfig(func(c *config.Config) {
		c.SASL.JAASFile, c.SASL.Users = path, users
		c.SASL.Provider = o.provider
		if o.superUser != "" {
			c.SASL.SuperUsers = []string{o.superUser}
		}
		c.SASL.AllowFailedClients = o.allowFailed
		c.SessionRequireClientSASLAuth = o.require
		c.EnforceAuth = o.require || len(o.enforce) > 0
		c.EnforceAuthSchemes = o.enforce
		if o.require {
			c.EnforceAuthSchemes = []string{"sasl"}
		}
	})
}

// saslLogin runs a DIGEST-MD5 login on c and returns the error code of
// the first reply that is not OK (OK when the login succeeds). The first
// reply must carry Java's challenge: one realm, no qop (auth only),
// UTF-8, md5-sess.
func (c *rawConn) saslLogin(user, password string) wire.Code {
	c.t.Helper()
	cl := &sasl.Client{User: user, Password: password}
	var fromServer []byte
	for i := 0; !cl.Done(); i++ {
		tok, err := cl.Next(fromServer)
		if err != nil {
			c.t.Fatalf("SASL client: %v", err)
		}
		if cl.Done() {
			break
		}
		h, body := c.callRaw(wire.OpSASL, &wire.SASLToken{Token: tok})
		if h.Zxid != 0 {
			c.t.Fatalf("SASL reply zxid 0x%x, want 0 (Apache's processSasl)", h.Zxid)
		}
		if h.Err != wire.CodeOK {
			return h.Err
		}
		var r wire.SASLToken
		d := wire.NewDecoder(body)
		r.Decode(d)
		if d.Err() != nil {
			c.t.Fatalf("SASL reply: %v", d.Err())
		}
		if i == 0 {
			dirs, err := sasl.ParseDirectives(r.Token)
			if err != nil {
				c.t.Fatalf("challenge %q: %v", r.Token, err)
			}
			if dirs["realm"] != "zk-sasl-md5" || dirs["qop"] != "" || dirs["algorithm"] != "md5-sess" || dirs["charset"] != "utf-8" || dirs["nonce"] == "" {
				c.t.Fatalf("challenge %q is not Java's", r.Token)
			}
		}
		fromServer = r.Token
	}
	return wire.CodeOK
}

func (c *rawConn) whoAmI() []string {
	c.t.Helper()
	var r wire.WhoAmIResponse
	c.mustOK("whoAmI", c.call(wire.OpWhoAmI, nil, &r))
	var ids []string
	for _, id := range r.Infos {
		ids = append(ids, id.Scheme+":"+id.ID)
	}
	return ids
}

func saslACL(user string) []wire.ACL {
	return []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: user}}}
}

func TestSASLLogin(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{provider: true, superUser: "super"}))
	bob := rawSession(t, s.Addr())
	wantCode(t, "bob's login", bob.saslLogin("bob", "bobsecret"), wire.CodeOK)
	if ids := bob.whoAmI(); !slices.Contains(ids, "sasl:bob") || slices.Contains(ids, "super:") {
		t.Fatalf("whoAmI after bob's login: %v", ids)
	}
	bob.mustOK("create with a sasl ACL", bob.call(wire.OpCreate, &wire.CreateRequest{Path: "/bobs", Data: []byte("b"), ACL: saslACL("bob")}, &wire.CreateResponse{}))
	var got wire.GetDataResponse
	bob.mustOK("bob reads", bob.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/bobs"}, &got))
	// The auth scheme expands to the connection's sasl id.
	bob.mustOK("create with the auth scheme", bob.call(wire.OpCreate, &wire.CreateRequest{Path: "/auth", ACL: []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: "auth"}}}}, &wire.CreateResponse{}))
	var acl wire.GetACLResponse
	bob.mustOK("getACL", bob.call(wire.OpGetACL, &wire.PathRequest{Path: "/auth"}, &acl))
	if len(acl.ACL) != 1 || acl.ACL[0].ID != (wire.ID{Scheme: "sasl", ID: "bob"}) {
		t.Fatalf("auth ACL expanded to %+v, want sasl:bob", acl.ACL)
	}
	// A sasl id Apache's KerberosName cannot parse is an invalid ACL.
	wantCode(t, "create with sasl:a@b@c", bob.call(wire.OpCreate, &wire.CreateRequest{Path: "/bad", ACL: saslACL("a@b@c")}, nil), wire.CodeInvalidACL)

	anon := rawSession(t, s.Addr())
	wantCode(t, "an anonymous read", anon.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/bobs"}, nil), wire.CodeNoAuth)

	// superUser=super: the SASL user super may do anything.
	admin := rawSession(t, s.Addr())
	wantCode(t, "super's login", admin.saslLogin("super", "adminsecret"), wire.CodeOK)
	admin.mustOK("super reads", admin.call(wire.OpGetData, &wire.PathWatchRequest{Path: "/bobs"}, &got))
	if string(got.Data) != "b" {
		t.Fatalf("super read %q", got.Data)
	}
	if ids := admin.whoAmI(); !slices.Contains(ids, "sasl:super") || !slices.Contains(ids, "super:") {
		t.Fatalf("whoAmI after super's login: %v", ids)
	}
}

func TestSASLWrongPassword(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{provider: true}))
	for _, up := range [][2]string{{"nobody", "bobsecret"}, {"bob", "wrong"}} {
		c := rawSession(t, s.Addr())
		wantCode(t, up[0]+"/"+up[1], c.saslLogin(up[0], up[1]), wire.CodeAuthFailed)
		c.expectClosed()
	}
	rawSession(t, s.Addr()).ping()
}

// An unknown user is refused whatever the server looked up before. Apache
// 3.8's SaslServerCallbackHandler keeps the last user name it found in a
// field all connections share, and looks the password up under it when
// the name is unknown: once bob has tried to log in, "nobody" logs in
// with bob's password, as sasl:nobody. The Apache run checks that this is
// still so (a README difference).
func TestSASLUnknownUserAfterAnother(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{provider: true}))
	bob := rawSession(t, s.Addr())
	wantCode(t, "bob's login", bob.saslLogin("bob", "bobsecret"), wire.CodeOK)
	c := rawSession(t, s.Addr())
	got := c.saslLogin("nobody", "bobsecret")
	if apacheMode() {
		wantCode(t, "Apache: nobody with bob's password", got, wire.CodeOK)
		if ids := c.whoAmI(); !slices.Contains(ids, "sasl:nobody") {
			t.Fatalf("Apache: whoAmI %v", ids)
		}
		return
	}
	wantCode(t, "nobody with bob's password", got, wire.CodeAuthFailed)
	c.expectClosed()
}

func TestSASLAllowFailedClients(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{provider: true, allowFailed: true}))
	c := rawSession(t, s.Addr())
	// The failed step is answered OK with no token; the client's check of
	// the missing rspauth is its own business.
	h, body := c.callRaw(wire.OpSASL, &wire.SASLToken{Token: []byte{}})
	wantCode(t, "first token", h.Err, wire.CodeOK)
	var ch wire.SASLToken
	ch.Decode(wire.NewDecoder(body))
	dirs, _ := sasl.ParseDirectives(ch.Token)
	bad := `username="bob",realm="zk-sasl-md5",nonce="` + dirs["nonce"] + `",cnonce="x",nc=00000001,qop=auth,digest-uri="zookeeper/zk-sasl-md5",response=0123456789abcdef0123456789abcdef`
	h, body = c.callRaw(wire.OpSASL, &wire.SASLToken{Token: []byte(bad)})
	wantCode(t, "a wrong response", h.Err, wire.CodeOK)
	var r wire.SASLToken
	r.Decode(wire.NewDecoder(body))
	if r.Token != nil {
		t.Fatalf("token %q after a failed step, want none", r.Token)
	}
	if ids := c.whoAmI(); slices.ContainsFunc(ids, func(s string) bool { return strings.HasPrefix(s, "sasl:") }) {
		t.Fatalf("whoAmI after a failed login: %v", ids)
	}
}

// Without the SASL provider the login still works (the connection holds
// sasl:bob) but sasl is no valid ACL scheme.
func TestSASLWithoutProvider(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{}))
	c := rawSession(t, s.Addr())
	wantCode(t, "login", c.saslLogin("bob", "bobsecret"), wire.CodeOK)
	// whoAmI names no user for a scheme without a provider
	// (AuthUtil.getUser), as for super.
	if ids := c.whoAmI(); !slices.Contains(ids, "sasl:") {
		t.Fatalf("whoAmI: %v", ids)
	}
	wantCode(t, "create with a sasl ACL", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: saslACL("bob")}, nil), wire.CodeInvalidACL)
	wantCode(t, "create with the auth scheme", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth"}}}}, nil), wire.CodeInvalidACL)
}

// sessionRequireClientSASLAuth: a connection that has not logged in gets
// SESSIONCLOSEDREQUIRESASLAUTH for its first request and is closed; a
// failed login gets the same code.
func TestSASLRequired(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{provider: true, require: true}))
	for _, op := range []int32{wire.OpGetData, wire.OpPing, wire.OpCreate} {
		c := rawSession(t, s.Addr())
		var body wire.Record
		switch op {
		case wire.OpGetData:
			body = &wire.PathWatchRequest{Path: "/"}
		case wire.OpCreate:
			body = &wire.CreateRequest{Path: "/x", ACL: openACL}
		}
		xid := c.send(0, op, body)
		h, _, err := c.recv(xid)
		if err != nil {
			t.Fatalf("%s: %v", wire.OpName(op), err)
		}
		wantCode(t, wire.OpName(op)+" before logging in", h.Err, wire.CodeSessionClosedRequireSASLAuth)
		c.expectClosed()
	}
	c := rawSession(t, s.Addr())
	wantCode(t, "a wrong password", c.saslLogin("bob", "wrong"), wire.CodeSessionClosedRequireSASLAuth)
	c.expectClosed()
	c = rawSession(t, s.Addr())
	wantCode(t, "login", c.saslLogin("bob", "bobsecret"), wire.CodeOK)
	c.create("/after-login", nil, 0)
	c.ping()
}

// enforce.auth.schemes=digest: addauth digest first, then anything.
func TestEnforceAuthDigest(t *testing.T) {
	s := newServer(t, withSASL(t, saslOpts{noJAAS: true, enforce: []string{"digest"}}))
	c := rawSession(t, s.Addr())
	wantCode(t, "exists before addauth", c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/"}, nil), wire.CodeSessionClosedRequireSASLAuth)
	c.expectClosed()
	c = rawSession(t, s.Addr())
	c.mustOK("addauth", c.call(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")}, nil))
	c.stat("/")
}
