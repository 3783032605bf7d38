package sasl

import (
	"errors"
	"strings"
	"testing"
)

// The example exchange of RFC 2831, section 4: user chris, password
// secret, with the RFC's realm, digest-uri, nonce and cnonce.
func TestRFC2831Example(t *testing.T) {
	s := NewServer(func(u string) (string, bool) { return "secret", u == "chris" })
	s.realm, s.digestURI = "elwood.innosoft.com", "imap/elwood.innosoft.com"
	s.nonce = func() string { return "OA6MG9tEQGm2hh" }
	x := s.Start()
	ch, err := x.Next(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDirectives(ch)
	if err != nil {
		t.Fatal(err)
	}
	if d["realm"] != "elwood.innosoft.com" || d["nonce"] != "OA6MG9tEQGm2hh" || d["qop"] != "" || d["algorithm"] != "md5-sess" {
		t.Fatalf("challenge %s", ch)
	}
	rsp, err := x.Next([]byte(`charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth`))
	if err != nil {
		t.Fatal(err)
	}
	if string(rsp) != "rspauth=ea40f60335c427b5527b84dbabcdfffd" {
		t.Fatalf("rspauth: %s", rsp)
	}
	if !x.Done() || x.AuthorizationID() != "chris" {
		t.Fatalf("done %v, authorization id %q", x.Done(), x.AuthorizationID())
	}
	if _, err := x.Next(nil); !errors.Is(err, ErrAuth) {
		t.Fatalf("a token after the exchange: %v, want ErrAuth", err)
	}
}

func users(u string) (string, bool) {
	p, ok := map[string]string{"bob": "bobsecret", "zoë": "pässwörd", "kafka@EXAMPLE.COM": "k"}[u]
	return p, ok
}

// exchange runs a client against a server and returns the server's
// exchange and the first error.
func exchange(c *Client) (*Exchange, error) {
	x := NewServer(users).Start()
	var fromServer []byte
	for !c.Done() {
		tok, err := c.Next(fromServer)
		if err != nil {
			return x, err
		}
		if c.Done() {
			break
		}
		if fromServer, err = x.Next(tok); err != nil {
			return x, err
		}
	}
	return x, nil
}

func TestClientAndServer(t *testing.T) {
	for _, tc := range []struct {
		c     Client
		authz string
	}{
		{Client{User: "bob", Password: "bobsecret"}, "bob"},
		{Client{User: "zoë", Password: "pässwörd"}, "zoë"},
		// Apache's callback handler gives a plain name its own id, whatever
		// the client asked for; a name with a realm keeps the asked-for id.
		{Client{User: "bob", Password: "bobsecret", Authzid: "alice"}, "bob"},
		{Client{User: "kafka@EXAMPLE.COM", Password: "k", Authzid: "kafka"}, "kafka"},
	} {
		x, err := exchange(&tc.c)
		if err != nil {
			t.Fatalf("%s: %v", tc.c.User, err)
		}
		if !x.Done() || x.AuthorizationID() != tc.authz {
			t.Fatalf("%s: done %v, authorization id %q, want %q", tc.c.User, x.Done(), x.AuthorizationID(), tc.authz)
		}
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []Client{
		{User: "bob", Password: "wrong"},
		{User: "nobody", Password: "bobsecret"},
		{User: "bob", Password: ""},
	} {
		x, err := exchange(&c)
		if !errors.Is(err, ErrAuth) || x.Done() {
			t.Fatalf("%s/%s: %v, done %v; want ErrAuth", c.User, c.Password, err, x.Done())
		}
	}
}

// TestBadResponses: every field the server checks, each wrong on its own.
func TestBadResponses(t *testing.T) {
	good := func(x *Exchange) map[string]string {
		c := &Client{User: "bob", Password: "bobsecret"}
		c.Next(nil)
		ch, _ := x.Next(nil)
		tok, err := c.Next(ch)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseDirectives(tok)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	encode := func(d map[string]string) []byte {
		var parts []string
		for k, v := range d {
			parts = append(parts, k+"="+quote(v))
		}
		return []byte(strings.Join(parts, ","))
	}
	for _, tc := range []struct{ key, val string }{
		{"realm", "other"},
		{"nonce", "stale"},
		{"nc", "00000002"},
		{"cnonce", ""},
		{"qop", "auth-int"},
		{"digest-uri", "zookeeper/other-host"},
		{"response", "0123456789abcdef0123456789abcdef"},
		{"response", "short"},
		{"charset", "latin1"},
		{"username", ""},
	} {
		x := NewServer(users).Start()
		d := good(x)
		d[tc.key] = tc.val
		if _, err := x.Next(encode(d)); !errors.Is(err, ErrAuth) || x.Done() {
			t.Errorf("%s=%q: %v, done %v; want ErrAuth", tc.key, tc.val, err, x.Done())
		}
	}
	// The unchanged response passes, so each failure above is its field's.
	x := NewServer(users).Start()
	if _, err := x.Next(encode(good(x))); err != nil || !x.Done() {
		t.Fatalf("unchanged response: %v", err)
	}
	// An initial response is refused: DIGEST-MD5 starts with the server.
	if _, err := NewServer(users).Start().Next([]byte("x")); !errors.Is(err, ErrAuth) {
		t.Fatalf("initial response: %v", err)
	}
}

// A client without charset=utf-8 (kazoo's pure-sasl) hashes its names in
// ISO 8859-1.
func TestLatin1Client(t *testing.T) {
	x := NewServer(users).Start()
	ch, _ := x.Next(nil)
	d, _ := ParseDirectives(ch)
	cnonce := "abc"
	latin := func(s string) string { return string(encodeName(s, false)) }
	ha1 := a1("zoë", ServerName, "pässwörd", d["nonce"], cnonce, "", false)
	resp := digestResponse(ha1, d["nonce"], "00000001", cnonce, "AUTHENTICATE:zookeeper/zk-sasl-md5")
	tok := `username="` + latin("zoë") + `",realm="zk-sasl-md5",nonce="` + d["nonce"] + `",cnonce="abc",nc=00000001,qop=auth,digest-uri="zookeeper/zk-sasl-md5",response=` + resp
	if _, err := x.Next([]byte(tok)); err != nil || x.AuthorizationID() != "zoë" {
		t.Fatalf("%v, id %q", err, x.AuthorizationID())
	}
}

func TestParseDirectives(t *testing.T) {
	d, err := ParseDirectives([]byte(` a=1, b="x,\"y\"" ,c = bare ,`))
	if err != nil || d["a"] != "1" || d["b"] != `x,"y"` || d["c"] != "bare" || len(d) != 3 {
		t.Fatalf("%v %q", err, d)
	}
	for _, bad := range []string{`a`, `a="x`, `a=1,a=2`, `=1`, `a="x"b`} {
		if _, err := ParseDirectives([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseJAAS(t *testing.T) {
	j, err := ParseJAAS(`
// the server's users
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"   /* the super user */
       user_bob='bob"secret'
       debug=true;
};
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="bob"
       password="bobsecret";
};
`)
	if err != nil {
		t.Fatal(err)
	}
	u, err := j.Users("Server")
	if err != nil || len(u) != 2 || u["super"] != "adminsecret" || u["bob"] != `bob"secret` {
		t.Fatalf("%v %q", err, u)
	}
	if c := j["Client"]; len(c) != 1 || c[0].Options["username"] != "bob" || c[0].Flag != "required" {
		t.Fatalf("client section %+v", c)
	}
	if u, err := j.Users("Other"); u != nil || err != nil {
		t.Fatalf("a missing section: %v %v", u, err)
	}
	k, err := ParseJAAS("Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\"; };")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Users("Server"); err == nil || !strings.Contains(err.Error(), "Kerberos") {
		t.Fatalf("Kerberos section: %v", err)
	}
	for _, bad := range []string{
		"Server { m required a=1 }; ",   // no ';' after the module
		"Server { m always; };",         // bad flag
		"Server { m required a=; };",    // no value
		"Server { m required a=\"x; };", // unterminated
		"Server { m required; }",        // no ';' after the section
		"Server m required; };",         // no '{'
		"Server { m required; }; Server { m required; };",
		"/* open",
	} {
		if _, err := ParseJAAS(bad); err == nil {
			t.Errorf("%q parsed", bad)
		} else if !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("%q: %v: no line number", bad, err)
		}
	}
}
