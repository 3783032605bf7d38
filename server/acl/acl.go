// Package acl checks ZooKeeper ACLs and authenticates the schemes zkgo
// supports: world, auth, digest (Apache's SHA-1 digest), ip and super.
// It imports only wire.
package acl

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"strings"

	"github.com/zkgo/zkgo/server/wire"
)

// Digest returns the digest id for user:password as Apache's
// DigestAuthenticationProvider.generateDigest does: user:base64(sha1(user:password)).
func Digest(idPassword string) string {
	user, _, _ := strings.Cut(idPassword, ":")
	sum := sha1.Sum([]byte(idPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Super is the id a connection holds once it authenticated as the super user.
var Super = wire.ID{Scheme: "super", ID: ""}

// Authenticate handles an auth packet (addauth). It returns the ids to add to
// the connection, or wire.ErrAuthFailed for an unknown scheme or bad
// credentials. superDigest is "user:base64sha1" or "".
func Authenticate(scheme string, auth []byte, remote netip.Addr, superDigest string) ([]wire.ID, error) {
	switch scheme {
	case "digest":
		s := string(auth)
		if !strings.Contains(s, ":") {
			return nil, wire.ErrAuthFailed
		}
		id := Digest(s)
		ids := []wire.ID{{Scheme: "digest", ID: id}}
		if superDigest != "" && id == superDigest {
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
			default:
				if id.ID == a.ID.ID {
					return true
				}
			}
		}
	}
	return false
}

// ipMatches reports whether addr lies in pattern ("a.b.c.d" or "addr/bits").
func ipMatches(pattern, addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if p, err := netip.ParsePrefix(pattern); err == nil {
		return p.Contains(a)
	}
	if p, err := netip.ParseAddr(pattern); err == nil {
		return p.Unmap() == a
	}
	return false
}

func validIP(pattern string) bool {
	if _, err := netip.ParsePrefix(pattern); err == nil {
		return true
	}
	_, err := netip.ParseAddr(pattern)
	return err == nil
}

// Fixup validates a create/setACL ACL list and expands the auth scheme
// into the caller's authenticated ids, as PrepRequestProcessor.fixupACL
// does. It returns wire.ErrInvalidACL for an empty or invalid list.
func Fixup(acl []wire.ACL, ids []wire.ID) ([]wire.ACL, error) {
	if len(acl) == 0 {
		return nil, wire.ErrInvalidACL
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
			added := false
			for _, id := range ids {
				if id.Scheme == "digest" || id.Scheme == "super" {
					out = append(out, wire.ACL{Perms: a.Perms, ID: id})
					added = true
				}
			}
			if !added {
				return nil, wire.ErrInvalidACL
			}
		case "digest":
			if !strings.Contains(a.ID.ID, ":") {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case "ip":
			if !validIP(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case "super":
			out = append(out, a)
		default:
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
