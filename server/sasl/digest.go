// Package sasl is ZooKeeper's SASL authentication with the DIGEST-MD5
// mechanism (RFC 2831), as a ZooKeeper 3.8 server offers it to clients
// (ZooKeeperSaslServer with Java's DIGEST-MD5 provider), and the JAAS login
// configuration file whose "Server" section lists the users.
//
// A client's exchange with the server is three SASL packets: an empty
// token, answered with the server's challenge; the client's digest
// response, answered with rspauth (the server's proof that it knows the
// password too); and nothing more: the client checks rspauth and is done.
// The server then holds the id sasl:<user>.
package sasl

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ZooKeeper's fixed protocol and server name for DIGEST-MD5
// (SecurityUtils.createSaslServer): the realm the server offers and the
// digest-uri a client must send are made of them.
const (
	Protocol   = "zookeeper"
	ServerName = "zk-sasl-md5"
)

// Service is the protocol and server name of an exchange: a client's
// login (the zero Service: Protocol, ServerName) or a member's login to
// another (Quorum).
type Service struct {
	Protocol, ServerName string
}

// Quorum is the service of the logins between members
// (QuorumAuth.QUORUM_SERVER_PROTOCOL_NAME and QUORUM_SERVER_SASL_DIGEST).
var Quorum = Service{Protocol: "zookeeper-quorum", ServerName: "zk-quorum-sasl-md5"}

func (s Service) protocol() string {
	if s.Protocol == "" {
		return Protocol
	}
	return s.Protocol
}

func (s Service) serverName() string {
	if s.ServerName == "" {
		return ServerName
	}
	return s.ServerName
}

// uri is the digest-uri a client sends: protocol/serverName.
func (s Service) uri() string { return s.protocol() + "/" + s.serverName() }

// ErrAuth is what a failed exchange wraps: wrong password, unknown user,
// a malformed or out-of-order token.
var ErrAuth = errors.New("DIGEST-MD5 authentication failed")

// Server is the DIGEST-MD5 side of a ZooKeeper server: who may log in.
type Server struct {
	// Password returns a user's password, false for an unknown user.
	Password func(user string) (string, bool)
	// Service is what the server is: a ZooKeeper server to its clients
	// (the zero value) or a member to the others (Quorum).
	Service Service
	// Realm, DigestURI and nonce are fixed for ZooKeeper (ServerName,
	// Protocol/ServerName and a random nonce); tests set them.
	realm, digestURI string
	nonce            func() string
}

// NewServer returns a server that looks passwords up with password.
func NewServer(password func(user string) (string, bool)) *Server {
	return &Server{Password: password}
}

func (s *Server) realmName() string {
	if s.realm != "" {
		return s.realm
	}
	return s.Service.serverName()
}

func (s *Server) uri() string {
	if s.digestURI != "" {
		return s.digestURI
	}
	return s.Service.uri()
}

func (s *Server) newNonce() string {
	if s.nonce != nil {
		return s.nonce()
	}
	var b [30]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// Exchange is one connection's DIGEST-MD5 exchange with the server.
type Exchange struct {
	s     *Server
	step  int // 0: expecting the empty token, 1: the response, 2: done
	nonce string
	authz string
	user  string // the authentication id, once Done
	asked string // the authzid the client sent, "" for none
}

// Start begins an exchange for one connection.
func (s *Server) Start() *Exchange { return &Exchange{s: s} }

// Done reports whether the client has authenticated.
func (x *Exchange) Done() bool { return x.step == 2 }

// AuthorizationID is the authenticated client's id (the user name, as
// Apache's SaslServerCallbackHandler makes it), once Done.
func (x *Exchange) AuthorizationID() string { return x.authz }

// User is the authenticated user name and Authzid the authorization id
// the client asked for ("" when it asked for none), once Done.
func (x *Exchange) User() string    { return x.user }
func (x *Exchange) Authzid() string { return x.asked }

// Next takes the client's token and returns the server's. An error ends
// the exchange: the client is not authenticated, and Apache closes its
// connection. A token after the exchange is done is an error too, as in
// Java's DIGEST-MD5 server.
func (x *Exchange) Next(token []byte) ([]byte, error) {
	switch x.step {
	case 0:
		if len(token) != 0 {
			x.step = 3
			return nil, fmt.Errorf("%w: DIGEST-MD5 has no initial response", ErrAuth)
		}
		x.nonce = x.s.newNonce()
		x.step = 1
		// The challenge Java's DigestMD5Server sends ZooKeeper's clients:
		// one realm, no qop (so auth only: no integrity or privacy
		// layer), UTF-8, md5-sess, and a nonce of 30 random bytes.
		return fmt.Appendf(nil, `realm="%s",nonce="%s",charset=utf-8,algorithm=md5-sess`, x.s.realmName(), x.nonce), nil
	case 1:
		rsp, err := x.verify(token)
		if err != nil {
			x.step = 3
			return nil, err
		}
		x.step = 2
		return rsp, nil
	case 2:
		x.step = 3
		return nil, fmt.Errorf("%w: the exchange is already complete", ErrAuth)
	}
	return nil, fmt.Errorf("%w: the exchange has failed", ErrAuth)
}

// verify checks the client's digest response and returns rspauth.
func (x *Exchange) verify(token []byte) ([]byte, error) {
	d, err := ParseDirectives(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuth, err)
	}
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrAuth}, args...)...)
	}
	utf8Names := false
	if cs, ok := d["charset"]; ok {
		if !strings.EqualFold(cs, "utf-8") {
			return fail("charset %q", cs)
		}
		utf8Names = true
	}
	user, ok := d["username"]
	if !ok || user == "" {
		return fail("no username")
	}
	if !utf8Names {
		user = latin1ToString(user)
	}
	realm, hasRealm := d["realm"]
	if hasRealm && realm != x.s.realmName() {
		return fail("realm %q is not %q", realm, x.s.realmName())
	}
	if d["nonce"] != x.nonce {
		return fail("nonce mismatch")
	}
	if nc := d["nc"]; nc != "00000001" {
		return fail("nonce count %q", nc)
	}
	cnonce := d["cnonce"]
	if cnonce == "" {
		return fail("no cnonce")
	}
	if q, ok := d["qop"]; ok && q != "auth" {
		return fail("qop %q was not offered", q)
	}
	uri := d["digest-uri"]
	if !strings.EqualFold(uri, x.s.uri()) {
		return fail("digest-uri %q is not %q", uri, x.s.uri())
	}
	resp := d["response"]
	if len(resp) != 32 {
		return fail("malformed response")
	}
	password, ok := x.s.Password(user)
	if !ok {
		return fail("unknown user %q", user)
	}
	authzid := d["authzid"]
	ha1 := a1(user, realm, password, x.nonce, cnonce, authzid, utf8Names)
	want := digestResponse(ha1, x.nonce, d["nc"], cnonce, "AUTHENTICATE:"+uri)
	if !strings.EqualFold(resp, want) {
		return fail("wrong password for %q", user)
	}
	x.authz = authorizationID(user, authzid)
	x.user, x.asked = user, authzid
	return []byte("rspauth=" + digestResponse(ha1, x.nonce, d["nc"], cnonce, ":"+uri)), nil
}

// authorizationID is the id Apache gives an authenticated user. Its
// SaslServerCallbackHandler sets it to the Kerberos short name of the
// authentication id: the name itself when it has no realm (no "@"); with a
// realm, the short-name rules fail without a Kerberos setup and Java keeps
// the id the client asked for.
func authorizationID(user, authzid string) string {
	if strings.Contains(user, "@") && authzid != "" {
		return authzid
	}
	return user
}

// a1 is HEX(H(A1)) for md5-sess: H(user:realm:password):nonce:cnonce[:authzid].
func a1(user, realm, password, nonce, cnonce, authzid string, utf8Names bool) string {
	var b bytes.Buffer
	b.Write(encodeName(user, utf8Names))
	b.WriteByte(':')
	b.Write(encodeName(realm, utf8Names))
	b.WriteByte(':')
	b.Write(encodeName(password, utf8Names))
	inner := md5.Sum(b.Bytes())
	b.Reset()
	b.Write(inner[:])
	b.WriteString(":" + nonce + ":" + cnonce)
	if authzid != "" {
		b.WriteString(":" + authzid)
	}
	sum := md5.Sum(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// digestResponse is KD(HEX(H(A1)), nonce:nc:cnonce:auth:HEX(H(A2))).
func digestResponse(ha1, nonce, nc, cnonce, a2 string) string {
	h2 := md5.Sum([]byte(a2))
	sum := md5.Sum([]byte(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + hex.EncodeToString(h2[:])))
	return hex.EncodeToString(sum[:])
}

// encodeName encodes a user, realm or password as RFC 2831 asks: ISO
// 8859-1 unless the exchange is in UTF-8 (charset=utf-8) or the string
// has a character outside Latin-1.
func encodeName(s string, utf8Names bool) []byte {
	if utf8Names {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		out = append(out, byte(r))
	}
	return out
}

// latin1ToString reads bytes a client sent in ISO 8859-1.
func latin1ToString(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// ParseDirectives parses a DIGEST-MD5 challenge or response:
// key=value or key="quoted value" pairs separated by commas, with
// backslash escapes inside quotes. A key given twice is an error, as RFC
// 2831 allows none of the directives zkgo reads more than once.
func ParseDirectives(b []byte) (map[string]string, error) {
	d := map[string]string{}
	s := string(b)
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			return d, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("malformed directive %q", truncate(s))
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var v strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("unterminated quoted value of %s", key)
			}
			val, s = v.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if _, dup := d[key]; dup {
			return nil, fmt.Errorf("directive %s given twice", key)
		}
		d[key] = val
		s = strings.TrimLeft(s, " \t")
		if s != "" && s[0] != ',' {
			return nil, fmt.Errorf("malformed directive list after %s", key)
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
