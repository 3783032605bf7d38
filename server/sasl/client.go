package sasl

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// Client is the client side of a DIGEST-MD5 exchange with a ZooKeeper
// server, as Java's client runs it (UTF-8, qop auth, digest-uri
// zookeeper/zk-sasl-md5). Tokens go in SASL packets (opcode 102): the
// first is empty, then each answers the server's last token, until Done.
type Client struct {
	User, Password string
	// Authzid, when set, asks for another authorization id.
	Authzid string
	// Service is whom the client logs in to: a ZooKeeper server (the zero
	// value) or another member (Quorum).
	Service Service

	step          int
	ha1, uri, rsp string
	nonce, cnonce string
	cnonceFunc    func() string // tests
}

// Done reports whether the server proved it knows the password too.
func (c *Client) Done() bool { return c.step == 3 }

// Next returns the token to send after the server's last one (nil for the
// first).
func (c *Client) Next(server []byte) ([]byte, error) {
	switch c.step {
	case 0:
		c.step = 1
		return []byte{}, nil
	case 1:
		d, err := ParseDirectives(server)
		if err != nil {
			return nil, fmt.Errorf("server challenge: %w", err)
		}
		c.nonce = d["nonce"]
		if c.nonce == "" {
			return nil, fmt.Errorf("server challenge has no nonce")
		}
		if q, ok := d["qop"]; ok && !containsToken(q, "auth") {
			return nil, fmt.Errorf("server offers qop %q, not auth", q)
		}
		realm := d["realm"]
		c.uri = c.Service.uri()
		if c.cnonceFunc != nil {
			c.cnonce = c.cnonceFunc()
		} else {
			var b [16]byte
			rand.Read(b[:])
			c.cnonce = hex.EncodeToString(b[:])
		}
		c.ha1 = a1(c.User, realm, c.Password, c.nonce, c.cnonce, c.Authzid, true)
		resp := digestResponse(c.ha1, c.nonce, "00000001", c.cnonce, "AUTHENTICATE:"+c.uri)
		c.rsp = digestResponse(c.ha1, c.nonce, "00000001", c.cnonce, ":"+c.uri)
		c.step = 2
		var b strings.Builder
		fmt.Fprintf(&b, `charset=utf-8,username=%s,realm=%s,nonce=%s,nc=00000001,cnonce=%s,digest-uri=%s,maxbuf=65536,response=%s,qop=auth`,
			quote(c.User), quote(realm), quote(c.nonce), quote(c.cnonce), quote(c.uri), resp)
		if c.Authzid != "" {
			fmt.Fprintf(&b, ",authzid=%s", quote(c.Authzid))
		}
		return []byte(b.String()), nil
	case 2:
		d, err := ParseDirectives(server)
		if err != nil {
			return nil, fmt.Errorf("server rspauth: %w", err)
		}
		if d["rspauth"] != c.rsp {
			return nil, fmt.Errorf("the server's rspauth does not match: it does not know the password")
		}
		c.step = 3
		return nil, nil
	}
	return nil, fmt.Errorf("the exchange is already complete")
}

func containsToken(list, tok string) bool {
	for f := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(f) == tok {
			return true
		}
	}
	return false
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
