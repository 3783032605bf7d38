package acl

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

func TestDigestMatchesApache(t *testing.T) {
	// Example from Apache's zookeeperProgrammers.md / zookeeperAdmin.md.
	if got, want := Digest("user1:12345"), "user1:+owfoSBn/am19roBPzR1/MfCblE="; got != want {
		t.Fatalf("Digest = %q, want %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	digest := wire.ID{Scheme: "digest", ID: Digest("u:p")}
	acl := []wire.ACL{{Perms: wire.PermRead, ID: digest}, {Perms: wire.PermAll, ID: wire.ID{Scheme: "ip", ID: "10.0.0.0/8"}}}
	tests := []struct {
		name string
		perm int32
		ids  []wire.ID
		want bool
	}{
		{"digest read", wire.PermRead, []wire.ID{digest}, true},
		{"digest write denied", wire.PermWrite, []wire.ID{digest}, false},
		{"ip in range", wire.PermWrite, []wire.ID{{Scheme: "ip", ID: "10.1.2.3"}}, true},
		{"ip out of range", wire.PermWrite, []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}}, false},
		{"super", wire.PermAdmin, []wire.ID{Super}, true},
		{"nobody", wire.PermRead, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Check(acl, tc.perm, tc.ids); got != tc.want {
				t.Fatalf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFixup(t *testing.T) {
	digest := wire.ID{Scheme: "digest", ID: Digest("u:p")}
	if _, err := Fixup(nil, nil, Providers{}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("empty acl: %v", err)
	}
	if _, err := Fixup([]wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "auth"}}}, []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}}, Providers{}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("auth without digest: %v", err)
	}
	got, err := Fixup([]wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "auth"}}}, []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}, digest}, Providers{})
	if err != nil || len(got) != 1 || got[0].ID != digest {
		t.Fatalf("auth expansion = %v, %v", got, err)
	}
	if _, err := Fixup([]wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "foo", ID: "x"}}}, nil, Providers{}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("unknown scheme: %v", err)
	}
	if _, err := Authenticate("foo", []byte("x"), netip.Addr{}, DigestAuth{}); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("unknown auth scheme: %v", err)
	}
	// DigestAuthenticationProvider.enabled=false: no digest scheme.
	if _, err := Fixup([]wire.ACL{{Perms: 31, ID: digest}}, nil, Providers{NoDigest: true}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("digest ACL without the digest provider: %v", err)
	}
	if _, err := Authenticate("digest", []byte("u:p"), netip.Addr{}, DigestAuth{Disabled: true}); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("addauth digest without the digest provider: %v", err)
	}
}

// DigestAuthenticationProvider.digestAlg: the ids of Java's MessageDigest
// algorithms (known answers from Python's hashlib), names taken in any
// case, unknown ones refused as Apache refuses them.
func TestDigestAlgorithms(t *testing.T) {
	for name, want := range map[string]string{
		"SHA-256":  "bob:huAluaVu3uER4LIpielGv9Qqk5x3YVDr6I2R/mXf2wE=",
		"sha3-256": "bob:ukO6WgYOvbjGYGRnCevsZ2T9tQ3ynirMDLl7Q45X6Rc=",
		"SHA-512":  "bob:MON49O1q1UU4gzHRH8XFfdstQyTRtQRoDT+8dvk+qrZdXJegJxeoYDJfch4LeWUjXjSWIiqnKXpFYZi7tC1AZw==",
		"SHA1":     "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=",
		"MD5":      "bob:pasriMfeJxH/y5wk/opUWg==",
	} {
		a, err := ParseDigestAlgorithm(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := a.Digest("bob:secret"); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
		ids, err := Authenticate("digest", []byte("bob:secret"), netip.Addr{}, DigestAuth{Algorithm: a, Super: want})
		if err != nil || len(ids) != 2 || ids[0].ID != want || ids[1] != Super {
			t.Errorf("%s: addauth gives %v, %v; want %s and super", name, ids, err, want)
		}
	}
	if (DigestAlgorithm{}).Digest("bob:secret") != "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=" {
		t.Error("the default is not SHA-1")
	}
	if _, err := ParseDigestAlgorithm("MD2"); err == nil || err.Error() != "don't support this ACL digest algorithm: MD2" {
		t.Errorf("MD2: %v", err)
	}
}

func TestValidDN(t *testing.T) {
	for dn, want := range map[string]bool{
		"":                      true,
		"CN=client":             true,
		"CN=client,O=zkgo,C=DE": true,
		`CN=a\,b,O=x`:           true,
		`CN="a,b";O=x`:          true,
		"CN=x+UID=3":            true,
		"2.5.4.3=x":             true,
		"client":                false,
		"CN=x,client":           false,
		`CN="open`:              false,
		"=x":                    false,
		"C N=x":                 false,
	} {
		if got := ValidDN(dn); got != want {
			t.Errorf("ValidDN(%q) = %v, want %v", dn, got, want)
		}
	}
}

func TestFixupX509AndSuper(t *testing.T) {
	x := wire.ACL{Perms: 31, ID: wire.ID{Scheme: "x509", ID: "CN=client"}}
	if _, err := Fixup([]wire.ACL{x}, nil, Providers{}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("x509 without a secure port: %v", err)
	}
	if got, err := Fixup([]wire.ACL{x}, nil, Providers{X509: true}); err != nil || len(got) != 1 || got[0] != x {
		t.Fatalf("x509 ACL: %v %v", got, err)
	}
	if _, err := Fixup([]wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "x509", ID: "nodn"}}}, nil, Providers{X509: true}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("x509 ACL that is not a DN: %v", err)
	}
	if _, err := Fixup([]wire.ACL{{Perms: 31, ID: Super}}, []wire.ID{Super}, Providers{X509: true}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("super ACL: %v", err)
	}
	// auth expands to x509 and digest ids, never super or ip.
	ids := []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "super", ID: "CN=admin"}, {Scheme: "x509", ID: "CN=admin"}}
	got, err := Fixup([]wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "auth"}}}, ids, Providers{X509: true})
	if err != nil || len(got) != 1 || got[0].ID != ids[2] {
		t.Fatalf("auth with x509: %v %v", got, err)
	}
}

// What Apache 3.8's providers take as ids (isValid) and how an ip ACL
// matches (IPAuthenticationProvider: IPv4 only, Integer.parseInt numbers;
// DigestAuthenticationProvider: id.split(":").length == 2).
func TestProviderIDRules(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"127.0.0.1", true}, {"10.0.0.0/8", true}, {"127.0.0.1/0", true}, {"127.0.0.1/32", true},
		{"127.000.0.01", true}, {"+127.0.0.1", true}, {"127.0.0.1/+8", true},
		{"127.0.0.1/33", false}, {"127.0.0.1/-1", false}, {"300.1.1.1", false}, {"1.2.3", false},
		{"1.2.3.4.5", false}, {"1..2.3", false}, {"::1", false}, {"", false}, {"a.b.c.d", false},
		{"127.0.0.1/", false}, {"127.0.0.1/8/8", false}, {"-1.0.0.0", false}, {"+-1.0.0.0", false},
	} {
		if got := validIP(tc.id); got != tc.want {
			t.Errorf("validIP(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	for _, tc := range []struct {
		pattern, addr string
		want          bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"10.1.0.0/16", "10.1.200.3", true},
		{"10.1.0.0/16", "10.2.0.3", false},
		{"10.1.2.3/12", "10.15.0.0", true}, // bits past the mask ignored on both sides
		{"0.0.0.0/0", "192.168.1.1", true},
		{"127.000.000.001", "127.0.0.1", true},
		{"::1", "::1", false}, // no IPv6 in 3.8
		{"127.0.0.1", "::1", false},
	} {
		if got := ipMatches(tc.pattern, tc.addr); got != tc.want {
			t.Errorf("ipMatches(%q, %q) = %v, want %v", tc.pattern, tc.addr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"u:h", true}, {":h", true}, {"u:", false}, {"u::", false}, {"u:h:x", false}, {"u::h", false},
		{":", false}, {"::", false}, {"", false}, {"nocolon", false},
	} {
		if got := validDigestID(tc.id); got != tc.want {
			t.Errorf("validDigestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestSASLScheme(t *testing.T) {
	bob := wire.ACL{Perms: wire.PermRead, ID: wire.ID{Scheme: "sasl", ID: "bob"}}
	if _, err := Fixup([]wire.ACL{bob}, nil, Providers{}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("sasl ACL without the provider: %v", err)
	}
	if got, err := Fixup([]wire.ACL{bob}, nil, Providers{SASL: true}); err != nil || len(got) != 1 || got[0] != bob {
		t.Fatalf("sasl ACL: %v %v", got, err)
	}
	for id, valid := range map[string]bool{
		"bob": true, "bob/host": true, "kafka/h.example.com@EXAMPLE.COM": true, "kafka@EXAMPLE.COM": true, "@R": true,
		"a@b@c": false, "a/b/c@R": false, "a@R/x": false,
	} {
		_, err := Fixup([]wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "sasl", ID: id}}}, nil, Providers{SASL: true})
		if (err == nil) != valid {
			t.Errorf("sasl:%s: %v, valid %v", id, err, valid)
		}
	}
	// auth expands to the sasl id only with the provider.
	ids := []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "sasl", ID: "bob"}}
	auth := []wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "auth"}}}
	if _, err := Fixup(auth, ids, Providers{}); !errors.Is(err, wire.ErrInvalidACL) {
		t.Fatalf("auth without the provider: %v", err)
	}
	if got, err := Fixup(auth, ids, Providers{SASL: true}); err != nil || len(got) != 1 || got[0] != bob {
		t.Fatalf("auth: %v %v", got, err)
	}
	// SASLAuthenticationProvider.matches: the same id, or a SASL user named super.
	for id, ok := range map[string]bool{"bob": true, "super": true, "alice": false} {
		if got := Check([]wire.ACL{bob}, wire.PermRead, []wire.ID{{Scheme: "sasl", ID: id}}); got != ok {
			t.Errorf("sasl:%s reads: %v", id, got)
		}
	}
}
