package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/keystore"
)

// TLSConfig is the TLS setting of the secure client port (the keys Apache
// 3.8's ClientX509Util reads as "zookeeper.ssl.*" system properties, and
// X509AuthenticationProvider's) or of the connections between members
// ("zookeeper.ssl.quorum.*", QuorumX509Util's), accepted in zoo.cfg with
// or without the "zookeeper." prefix. Key and trust stores are PEM, JKS or
// PKCS12 (package keystore).
type TLSConfig struct {
	KeyStoreLocation       string // ssl.keyStore.location: the private key and its certificate chain
	KeyStorePassword       string // ssl.keyStore.password (JKS, PKCS12, an encrypted PEM key)
	KeyStorePasswordPath   string // ssl.keyStore.passwordPath
	KeyStoreType           string // ssl.keyStore.type: PEM, JKS, PKCS12, or "" (from the file name)
	TrustStoreLocation     string // ssl.trustStore.location: CA certificates
	TrustStorePassword     string // ssl.trustStore.password (JKS, PKCS12)
	TrustStorePasswordPath string // ssl.trustStore.passwordPath
	TrustStoreType         string // ssl.trustStore.type
	// ClientAuth is ssl.clientAuth: "none", "want" or "need" (the
	// default, as X509Util.ClientAuth.fromPropertyValue).
	ClientAuth string
	// Protocol is ssl.protocol, default TLSv1.2; EnabledProtocols is
	// ssl.enabledProtocols, default [Protocol] (SSLContextAndOptions).
	Protocol         string
	EnabledProtocols []string
	// CipherSuites is ssl.ciphersuites (IANA names); nil = Apache's
	// default list (ECDHE with AES-GCM, then AES-CBC).
	CipherSuites []string
	// NoHostnameVerification is hostnameVerification=false: members do
	// not check that the other end's certificate names its address.
	NoHostnameVerification bool
	// NoReverseDNS is allowReverseDnsLookup=false: a member's certificate
	// must name the address it connects from, not only a name that
	// address resolves back to. Apache 3.8.6's default is true between
	// members and false on the client port, which verifies no client's
	// name anyway.
	NoReverseDNS bool
	// AuthProvider is ssl.authProvider, the scheme TLS clients are
	// authenticated with: only x509.
	AuthProvider string
	// SuperUser is X509AuthenticationProvider.superUser: a client whose
	// certificate's subject DN equals it is super.
	SuperUser string
	// X509Provider: authProvider.x509 names X509AuthenticationProvider,
	// which makes the x509 scheme valid in ACLs even without a secure port.
	X509Provider bool
}

// ClientAuthMode returns ClientAuth with its default applied.
func (t *TLSConfig) ClientAuthMode() string {
	if t.ClientAuth == "" {
		return "need"
	}
	return t.ClientAuth
}

// X509Enabled reports whether the x509 scheme is registered, as Apache's
// ProviderRegistry has it: a secure client port configures it
// (QuorumPeerConfig.configureSSLAuth), authProvider.x509 names it.
func (c *Config) X509Enabled() bool {
	return c.SecureClientPort != 0 || c.TLS.X509Provider
}

// tlsProtocols are the ssl.protocol / ssl.enabledProtocols names zkgo
// serves (crypto/tls has no SSLv3).
var tlsProtocols = map[string]bool{"TLSv1": true, "TLSv1.1": true, "TLSv1.2": true, "TLSv1.3": true, "TLS": true}

func init() {
	// The keys X509Util reads under both prefixes: ssl.* for the secure
	// client port (ClientX509Util), ssl.quorum.* for the connections
	// between members (QuorumX509Util).
	for prefix, get := range map[string]func(*Config) *TLSConfig{
		"ssl.":        func(c *Config) *TLSConfig { return &c.TLS },
		"ssl.quorum.": func(c *Config) *TLSConfig { return &c.QuorumTLS },
	} {
		for k, s := range storeKeys(get) {
			keyTable[prefix+k] = s
		}
	}
	tlsStr := func(f func(*TLSConfig) *string) setter {
		return func(c *Config, v string) error {
			*f(&c.TLS) = strings.TrimSpace(v)
			return nil
		}
	}
	for k, s := range map[string]setter{
		"ssl.authProvider": func(c *Config, v string) error {
			if v = strings.TrimSpace(v); v != "x509" {
				return fmt.Errorf("%q: zkgo authenticates TLS clients with x509 only", v)
			}
			c.TLS.AuthProvider = v
			return nil
		},
		"X509AuthenticationProvider.superUser": tlsStr(func(t *TLSConfig) *string { return &t.SuperUser }),
		"sslQuorum":                            boolean(func(c *Config) *bool { return &c.SSLQuorum }),
		"client.portUnification":               boolean(func(c *Config) *bool { return &c.ClientPortUnification }),
		"portUnification":                      boolean(func(c *Config) *bool { return &c.PortUnification }),
		"sslQuorumReloadCertFiles":             boolean(func(c *Config) *bool { return &c.SSLQuorumReloadCertFiles }),
	} {
		keyTable[k] = s
	}
}

// storeKeys are the setters of one prefix's keys.
func storeKeys(get func(*Config) *TLSConfig) map[string]setter {
	str := func(f func(*TLSConfig) *string) setter {
		return func(c *Config, v string) error {
			*f(get(c)) = strings.TrimSpace(v)
			return nil
		}
	}
	// off sets a No… field: the key turns on (true) or off (false) a
	// check that is on by default.
	off := func(f func(*TLSConfig) *bool) setter {
		return func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q: want true or false", v)
			}
			*f(get(c)) = !b
			return nil
		}
	}
	storeType := func(f func(*TLSConfig) *string) setter {
		return func(c *Config, v string) error {
			t, err := keystore.CheckType(v)
			if err != nil {
				return err
			}
			*f(get(c)) = t
			return nil
		}
	}
	return map[string]setter{
		"keyStore.location":       str(func(t *TLSConfig) *string { return &t.KeyStoreLocation }),
		"keyStore.password":       str(func(t *TLSConfig) *string { return &t.KeyStorePassword }),
		"keyStore.passwordPath":   str(func(t *TLSConfig) *string { return &t.KeyStorePasswordPath }),
		"keyStore.type":           storeType(func(t *TLSConfig) *string { return &t.KeyStoreType }),
		"trustStore.location":     str(func(t *TLSConfig) *string { return &t.TrustStoreLocation }),
		"trustStore.password":     str(func(t *TLSConfig) *string { return &t.TrustStorePassword }),
		"trustStore.passwordPath": str(func(t *TLSConfig) *string { return &t.TrustStorePasswordPath }),
		"trustStore.type":         storeType(func(t *TLSConfig) *string { return &t.TrustStoreType }),
		"clientAuth": func(c *Config, v string) error {
			switch m := strings.ToLower(strings.TrimSpace(v)); m {
			case "", "none", "want", "need":
				get(c).ClientAuth = m
				return nil
			}
			return fmt.Errorf("%q: choose none, want or need", v)
		},
		"protocol": func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if !tlsProtocols[v] {
				return fmt.Errorf("%q: zkgo serves TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or TLS", v)
			}
			get(c).Protocol = v
			return nil
		},
		"enabledProtocols": func(c *Config, v string) error {
			var ps []string
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if !tlsProtocols[p] {
					return fmt.Errorf("%q: zkgo serves TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3", p)
				}
				ps = append(ps, p)
			}
			if len(ps) == 0 {
				return fmt.Errorf("no protocol in %q", v)
			}
			get(c).EnabledProtocols = ps
			return nil
		},
		"ciphersuites": func(c *Config, v string) error {
			var cs []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					cs = append(cs, s)
				}
			}
			if len(cs) == 0 {
				return fmt.Errorf("no cipher suite in %q", v)
			}
			get(c).CipherSuites = cs
			return nil
		},
		// The secure client port never verifies client host names
		// (ClientX509Util.shouldVerifyClientHostname is false); between
		// members both ends verify the other's (QuorumX509Util).
		"hostnameVerification":  off(func(t *TLSConfig) *bool { return &t.NoHostnameVerification }),
		"allowReverseDnsLookup": off(func(t *TLSConfig) *bool { return &t.NoReverseDNS }),
		"crl": func(c *Config, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "true") {
				return warning("certificate revocation lists are not checked by zkgo")
			}
			return nil
		},
		"ocsp": func(c *Config, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "true") {
				return warning("OCSP is not checked by zkgo")
			}
			return nil
		},
		"handshakeDetectionTimeoutMillis": integer(func(c *Config) *int { var n int; return &n }, 1),
	}
}

// validateTLS checks the secure client port's and the quorum's settings.
func (p *parser) validateTLS() {
	c, f := p.c, p.file
	line := func(k string) int { return p.lines[k] }
	if c.ClientPortUnification && c.TLS.KeyStoreLocation == "" {
		p.errorf(f, line("client.portUnification"), "ssl.keyStore.location", "is not set (required with client.portUnification: the client port takes TLS clients too)")
	}
	if c.SecureClientPort != 0 {
		if c.TLS.KeyStoreLocation == "" {
			p.errorf(f, line("secureClientPort"), "ssl.keyStore.location", "is not set (required with secureClientPort)")
		}
		if c.TLS.ClientAuthMode() != "none" && c.TLS.TrustStoreLocation == "" {
			p.warnf(f, line("secureClientPort"), "ssl.trustStore.location",
				"is not set: client certificates (ssl.clientAuth=%s) are verified against the system's CAs", c.TLS.ClientAuthMode())
		}
	}
	if !c.SSLQuorum && !c.PortUnification {
		return
	}
	if len(c.Servers) == 0 {
		p.warnf(f, line("sslQuorum"), "sslQuorum", "has no effect on a standalone server")
		return
	}
	for _, store := range []struct{ key, loc string }{
		{"ssl.quorum.keyStore.location", c.QuorumTLS.KeyStoreLocation},
		{"ssl.quorum.trustStore.location", c.QuorumTLS.TrustStoreLocation},
	} {
		if store.loc == "" {
			p.errorf(f, line("sslQuorum"), store.key, "is not set (required with sslQuorum or portUnification: members authenticate each other)")
		}
	}
}
