// Package acl checks ZooKeeper ACLs and authenticates the schemes zkgo
// supports: world, auth, digest (Apache's digests, SHA-1 unless
// DigestAuthenticationProvider.digestAlg names another), ip, x509 (ids
// from TLS client certificates, added by the server), sasl (ids of SASL
// logins, added by the server) and super.
// It imports only wire.
package acl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/zkgo/zkgo/server/wire"
)

// Digest returns the digest id for user:password as Apache's
// DigestAuthenticationProvider.generateDigest does with its default
// algorithm: user:base64(sha1(user:password)).
func Digest(idPassword string) string {
	user, _, _ := strings.Cut(idPassword, ":")
	sum := sha1.Sum([]byte(idPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// DigestAlgorithm is a digest algorithm Apache's
// DigestAuthenticationProvider.digestAlg may name: Java's MessageDigest
// names (case-insensitive), those Go's standard library has.
type DigestAlgorithm struct {
	Name string
	new  func() hash.Hash
}

var digestAlgorithms = map[string]func() hash.Hash{
	"SHA1": sha1.New, "SHA-1": sha1.New, "SHA": sha1.New,
	"SHA-224": sha256.New224, "SHA-256": sha256.New,
	"SHA-384": sha512.New384, "SHA-512": sha512.New,
	"SHA-512/224": sha512.New512_224, "SHA-512/256": sha512.New512_256,
	"SHA3-224": func() hash.Hash { return sha3.New224() }, "SHA3-256": func() hash.Hash { return sha3.New256() },
	"SHA3-384": func() hash.Hash { return sha3.New384() }, "SHA3-512": func() hash.Hash { return sha3.New512() },
	"MD5": md5.New,
}

// ParseDigestAlgorithm returns the algorithm named, or an error as
// Apache's ("don't support this ACL digest algorithm: MD2").
func ParseDigestAlgorithm(name string) (DigestAlgorithm, error) {
	if f, ok := digestAlgorithms[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return DigestAlgorithm{Name: strings.TrimSpace(name), new: f}, nil
	}
	return DigestAlgorithm{}, fmt.Errorf("don't support this ACL digest algorithm: %s", strings.TrimSpace(name))
}

// Digest is generateDigest with the algorithm: user:base64(H(user:password));
// the zero DigestAlgorithm is SHA-1.
func (a DigestAlgorithm) Digest(idPassword string) string {
	if a.new == nil {
		return Digest(idPassword)
	}
	h := a.new()
	h.Write([]byte(idPassword))
	user, _, _ := strings.Cut(idPassword, ":")
	return user + ":" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// DigestAuth is how the digest scheme authenticates (Apache's
// DigestAuthenticationProvider system properties): Algorithm (digestAlg),
// Super (superDigest, "user:base64digest" or ""), Disabled
// (DigestAuthenticationProvider.enabled=false: the scheme is not
// registered, so addauth digest fails).
type DigestAuth struct {
	Algorithm DigestAlgorithm
	Super     string
	Disabled  bool
}

// Super is the id a connection holds once it authenticated as the super user.
var Super = wire.ID{Scheme: "super", ID: ""}

// Authenticate handles an auth packet (addauth). It returns the ids to add to
// the connection, or wire.ErrAuthFailed for an unknown scheme or bad
// credentials.
func Authenticate(scheme string, auth []byte, remote netip.Addr, d DigestAuth) ([]wire.ID, error) {
	switch scheme {
	case "digest":
		if d.Disabled {
			return nil, wire.ErrAuthFailed
		}
		// Apache takes any bytes: "blah" without a colon authenticates as
		// digest "blah:<sha1 of blah>" (go-zookeeper's GetSetACL test does it).
		id := d.Algorithm.Digest(string(auth))
		ids := []wire.ID{{Scheme: "digest", ID: id}}
		if d.Super != "" && id == d.Super {
			ids = append(ids, Super)
		}
		return ids, nil
	case "ip":
		if remote.IsValid() {
			return []wire.ID{{Scheme: "ip", ID: remote.Unmap().String()}}, nil
		}
		return nil, wire.ErrAuthFailed
	}
	return nil, wire.ErrAuthFailed
}

// Check reports whether the ids may perform perm on a node with the acl,
// as ZooKeeperServer.checkACL does.
func Check(acl []wire.ACL, perm int32, ids []wire.ID) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		for _, id := range ids {
			if id.Scheme != a.ID.Scheme {
				continue
			}
			switch id.Scheme {
			case "ip":
				if ipMatches(a.ID.ID, id.ID) {
					return true
				}
			case "sasl":
				// SASLAuthenticationProvider.matches: a SASL user named
				// super matches every sasl ACL.
				if id.ID == a.ID.ID || id.ID == "super" {
					return true
				}
			default:
				if id.ID == a.ID.ID {
					return true
				}
			}
		}
	}
	return false
}

// ipMatches reports whether addr lies in pattern ("a.b.c.d" or
// "a.b.c.d/bits"), as Apache 3.8's IPAuthenticationProvider.matches: IPv4
// only (its addr2Bytes has no IPv6 half, so an IPv6 pattern or client
// never matches), the address bits past the mask ignored on both sides.
func ipMatches(pattern, addr string) bool {
	acl, bits, ok := ipPattern(pattern)
	if !ok {
		return false
	}
	remote, ok := v4Bytes(addr)
	if !ok {
		return false
	}
	return mask(acl, bits) == mask(remote, bits)
}

// validIP is IPAuthenticationProvider.isValid: what ipMatches can parse.
func validIP(pattern string) bool {
	_, _, ok := ipPattern(pattern)
	return ok
}

// ipPattern parses "a.b.c.d[/bits]" (bits 0 to 32).
func ipPattern(pattern string) (addr [4]byte, bits int, ok bool) {
	host, suffix, hasBits := strings.Cut(pattern, "/")
	if addr, ok = v4Bytes(host); !ok {
		return addr, 0, false
	}
	bits = 32
	if hasBits {
		if bits, ok = javaInt(suffix); !ok || bits < 0 || bits > 32 {
			return addr, 0, false
		}
	}
	return addr, bits, true
}

// v4Bytes is v4addr2Bytes: exactly four dot-separated numbers, each read
// as Integer.parseInt reads it (a sign and leading zeros allowed) and in
// 0..255.
func v4Bytes(s string) (b [4]byte, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return b, false
	}
	for i, p := range parts {
		v, ok := javaInt(p)
		if !ok || v < 0 || v > 255 {
			return b, false
		}
		b[i] = byte(v)
	}
	return b, true
}

// javaInt parses a decimal int as Java's Integer.parseInt: an optional
// sign, then ASCII digits, within int32.
func javaInt(s string) (int, bool) {
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 32)
	return int(v), err == nil
}

// mask keeps the first bits bits of b.
func mask(b [4]byte, bits int) [4]byte {
	for i := range b {
		switch keep := bits - 8*i; {
		case keep <= 0:
			b[i] = 0
		case keep < 8:
			b[i] &= byte(0xff << (8 - keep))
		}
	}
	return b
}

// validDigestID is DigestAuthenticationProvider.isValid: the id splits on
// ":" into exactly two parts, as Java's String.split counts them
// (trailing empty parts dropped: "u:" is one part, ":h" two).
func validDigestID(id string) bool {
	parts := strings.Split(id, ":")
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 1 && parts[0] == "" && id != "" {
		parts = nil // ":" alone splits into nothing
	}
	return len(parts) == 2
}

// Providers are the schemes registered besides world and ip, as Apache's
// ProviderRegistry has them: digest unless NoDigest
// (DigestAuthenticationProvider.enabled=false), x509 when a secure client
// port is configured or authProvider.N names X509AuthenticationProvider,
// sasl when authProvider.N names SASLAuthenticationProvider. An ACL of a
// scheme without a provider is invalid.
type Providers struct {
	X509, SASL bool
	NoDigest   bool
}

// UserName is Apache's AuthUtil.getUser: the user an id stands for (a
// digest id's user name, any other id itself), or "" for a scheme without
// a provider (super, and sasl unless it is registered). whoAmI and the
// audit log show it.
func UserName(id wire.ID, p Providers) string {
	switch id.Scheme {
	case "digest":
		user, _, _ := strings.Cut(id.ID, ":")
		return user
	case "super":
		return ""
	case "sasl":
		if !p.SASL {
			return ""
		}
	}
	return id.ID
}

// Fixup validates a create/setACL ACL list and expands the auth scheme
// into the caller's authenticated ids, as PrepRequestProcessor.fixupACL
// does. It returns wire.ErrInvalidACL for an empty or invalid list.
func Fixup(acl []wire.ACL, ids []wire.ID, p Providers) ([]wire.ACL, error) {
	if len(acl) == 0 {
		return nil, wire.ErrInvalidACL
	}
	if len(acl) == 1 && acl[0].ID == (wire.ID{Scheme: "world", ID: "anyone"}) {
		return acl, nil // the usual list, valid as it is: no copy
	}
	out := make([]wire.ACL, 0, len(acl))
	for _, a := range acl {
		switch a.ID.Scheme {
		case "world":
			if a.ID.ID != "anyone" {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case "auth":
			// The ids of providers whose isAuthenticated() is true: digest,
			// x509 and sasl (when registered). ip is not; super has no
			// provider (Apache logs "Missing AuthenticationProvider for
			// super" and skips it). Apache iterates the connection's id
			// set in hash order.
			added := false
			for _, id := range Ordered(ids) {
				if id.Scheme == "digest" || id.Scheme == "x509" || (id.Scheme == "sasl" && p.SASL) {
					out = append(out, wire.ACL{Perms: a.Perms, ID: id})
					added = true
				}
			}
			if !added {
				return nil, wire.ErrInvalidACL
			}
		case "digest":
			if p.NoDigest || !validDigestID(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case "ip":
			if !validIP(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case "x509":
			if !p.X509 || !ValidDN(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case "sasl":
			if !p.SASL || !validKerberosName(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		default:
			// Including "super": it is an id a connection holds, not a
			// scheme with a provider, so Apache refuses it in an ACL.
			return nil, wire.ErrInvalidACL
		}
	}
	// Drop duplicates, as Apache's removeDuplicates does.
	uniq := out[:0]
	seen := make(map[wire.ACL]bool, len(out))
	for _, a := range out {
		if !seen[a] {
			seen[a] = true
			uniq = append(uniq, a)
		}
	}
	return uniq, nil
}

// Ordered returns ids (given in the order a connection acquired them) in
// the order Apache iterates a connection's authInfo, a set backed by a
// ConcurrentHashMap: by bin index of the jute Id's hashCode, then in
// insertion order. whoAmI and the auth scheme's expansion show this order.
// (Past 12 ids Java resizes the table while filling it, which may reorder
// a bin; zkgo sizes the table for the final count.)
func Ordered(ids []wire.ID) []wire.ID {
	if len(ids) < 2 {
		return ids
	}
	n := 16
	for len(ids) >= n-n/4 {
		n *= 2
	}
	out := slices.Clone(ids)
	bin := func(id wire.ID) int {
		h := int32(17)
		h = 37*h + javaStringHash(id.Scheme)
		h = 37*h + javaStringHash(id.ID)
		u := uint32(h)
		spread := (u ^ u>>16) & 0x7fffffff
		return int(spread) & (n - 1)
	}
	slices.SortStableFunc(out, func(a, b wire.ID) int { return bin(a) - bin(b) })
	return out
}

// javaStringHash is Java's String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// ValidDN reports whether s parses as an X.500 distinguished name in the
// RFC 2253 / RFC 1779 string form javax.security.auth.x500.X500Principal
// accepts: attribute=value pairs separated by ',', ';' or '+', with a
// keyword or dotted OID as the attribute; the empty name is valid.
func ValidDN(s string) bool {
	if strings.TrimSpace(s) == "" {
		return true
	}
	var avas []string
	var cur strings.Builder
	inQuote, esc := false, false
	for _, r := range s {
		switch {
		case esc:
			esc = false
			cur.WriteRune(r)
		case r == '\\':
			esc = true
			cur.WriteRune(r)
		case r == '"':
			inQuote = !inQuote
			cur.WriteRune(r)
		case !inQuote && (r == ',' || r == ';' || r == '+'):
			avas = append(avas, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if inQuote || esc {
		return false
	}
	avas = append(avas, cur.String())
	for _, ava := range avas {
		typ, _, ok := strings.Cut(ava, "=")
		typ = strings.TrimSpace(typ)
		if !ok || typ == "" {
			return false
		}
		for i, r := range typ {
			letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			digit := r >= '0' && r <= '9'
			if !(letter || digit || (i > 0 && (r == '-' || r == '.'))) {
				return false
			}
		}
	}
	return true
}

// validKerberosName is SASLAuthenticationProvider.isValid: what Apache's
// KerberosName parses. A name without "@" is taken whole; one with "@"
// must be service[/host]@realm with no other "/" or "@".
func validKerberosName(id string) bool {
	at := strings.IndexByte(id, '@')
	if at < 0 {
		return true
	}
	princ, realm := id[:at], id[at+1:]
	if strings.ContainsAny(realm, "/@") {
		return false
	}
	service, host, _ := strings.Cut(princ, "/")
	return !strings.ContainsAny(service, "/@") && !strings.ContainsAny(host, "/@")
}
