package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// TLSConfig is the TLS setting of the secure client port: the keys Apache
// 3.8's ClientX509Util reads as "zookeeper.ssl.*" system properties and
// X509AuthenticationProvider's, accepted in zoo.cfg with or without the
// "zookeeper." prefix. Only PEM key and trust stores are supported.
type TLSConfig struct {
	KeyStoreLocation       string // ssl.keyStore.location: PEM with the private key and the certificate chain
	KeyStorePassword       string // ssl.keyStore.password (encrypted keys are refused)
	KeyStorePasswordPath   string // ssl.keyStore.passwordPath
	KeyStoreType           string // ssl.keyStore.type: PEM, or "" (from the file name)
	TrustStoreLocation     string // ssl.trustStore.location: PEM with CA certificates
	TrustStorePassword     string // ssl.trustStore.password (unused for PEM)
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
	tlsStr := func(f func(*TLSConfig) *string) setter {
		return func(c *Config, v string) error {
			*f(&c.TLS) = strings.TrimSpace(v)
			return nil
		}
	}
	for k, s := range map[string]setter{
		"ssl.keyStore.location":       tlsStr(func(t *TLSConfig) *string { return &t.KeyStoreLocation }),
		"ssl.keyStore.password":       tlsStr(func(t *TLSConfig) *string { return &t.KeyStorePassword }),
		"ssl.keyStore.passwordPath":   tlsStr(func(t *TLSConfig) *string { return &t.KeyStorePasswordPath }),
		"ssl.keyStore.type":           storeType(func(t *TLSConfig) *string { return &t.KeyStoreType }),
		"ssl.trustStore.location":     tlsStr(func(t *TLSConfig) *string { return &t.TrustStoreLocation }),
		"ssl.trustStore.password":     tlsStr(func(t *TLSConfig) *string { return &t.TrustStorePassword }),
		"ssl.trustStore.passwordPath": tlsStr(func(t *TLSConfig) *string { return &t.TrustStorePasswordPath }),
		"ssl.trustStore.type":         storeType(func(t *TLSConfig) *string { return &t.TrustStoreType }),
		"ssl.clientAuth": func(c *Config, v string) error {
			switch m := strings.ToLower(strings.TrimSpace(v)); m {
			case "", "none", "want", "need":
				c.TLS.ClientAuth = m
				return nil
			}
			return fmt.Errorf("%q: choose none, want or need", v)
		},
		"ssl.protocol": func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if !tlsProtocols[v] {
				return fmt.Errorf("%q: zkgo serves TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or TLS", v)
			}
			c.TLS.Protocol = v
			return nil
		},
		"ssl.enabledProtocols": func(c *Config, v string) error {
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
			c.TLS.EnabledProtocols = ps
			return nil
		},
		"ssl.ciphersuites": func(c *Config, v string) error {
			var cs []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					cs = append(cs, s)
				}
			}
			if len(cs) == 0 {
				return fmt.Errorf("no cipher suite in %q", v)
			}
			c.TLS.CipherSuites = cs
			return nil
		},
		"ssl.authProvider": func(c *Config, v string) error {
			if v = strings.TrimSpace(v); v != "x509" {
				return fmt.Errorf("%q: zkgo authenticates TLS clients with x509 only", v)
			}
			c.TLS.AuthProvider = v
			return nil
		},
		"authProvider.x509": func(c *Config, v string) error {
			if strings.TrimSpace(v) != "org.apache.zookeeper.server.auth.X509AuthenticationProvider" {
				return fmt.Errorf("%q: zkgo has org.apache.zookeeper.server.auth.X509AuthenticationProvider only", v)
			}
			c.TLS.X509Provider = true
			return nil
		},
		"X509AuthenticationProvider.superUser": tlsStr(func(t *TLSConfig) *string { return &t.SuperUser }),
		// Accepted: the server never verifies client host names
		// (ClientX509Util.shouldVerifyClientHostname is false).
		"ssl.hostnameVerification": boolean(func(c *Config) *bool { b := false; return &b }),
		"ssl.crl": func(c *Config, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "true") {
				return warning("certificate revocation lists are not checked by zkgo")
			}
			return nil
		},
		"ssl.ocsp": func(c *Config, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "true") {
				return warning("OCSP is not checked by zkgo")
			}
			return nil
		},
		"ssl.handshakeDetectionTimeoutMillis": integer(func(c *Config) *int { var n int; return &n }, 1),
	} {
		keyTable[k] = s
	}
}

// storeType accepts PEM only: JKS, PKCS12 and BCFKS need Java's key
// stores, which zkgo does not read.
func storeType(f func(*TLSConfig) *string) setter {
	return func(c *Config, v string) error {
		switch t := strings.ToUpper(strings.TrimSpace(v)); t {
		case "", "PEM":
			*f(&c.TLS) = t
			return nil
		case "JKS", "PKCS12", "BCFKS":
			return fmt.Errorf("%s is not supported: zkgo reads PEM key and trust stores only (convert with openssl or keytool)", t)
		}
		return fmt.Errorf("%q: unknown store type (zkgo reads PEM)", v)
	}
}

// validateTLS checks the secure client port's settings.
func (p *parser) validateTLS() {
	c, f := p.c, p.file
	line := func(k string) int { return p.lines[k] }
	for _, k := range []string{"ssl.keyStore.location", "ssl.trustStore.location"} {
		loc, typ := c.TLS.KeyStoreLocation, c.TLS.KeyStoreType
		if k == "ssl.trustStore.location" {
			loc, typ = c.TLS.TrustStoreLocation, c.TLS.TrustStoreType
		}
		if loc == "" || typ != "" {
			continue
		}
		// Apache infers the type from the extension (KeyStoreFileType).
		switch strings.ToLower(filepath.Ext(loc)) {
		case ".jks", ".p12", ".pfx", ".bcfks":
			p.errorf(f, line(k), k, "%s: only PEM key and trust stores are supported by zkgo", loc)
		}
	}
	if c.SecureClientPort == 0 {
		return
	}
	if c.TLS.KeyStoreLocation == "" {
		p.errorf(f, line("secureClientPort"), "ssl.keyStore.location", "is not set (required with secureClientPort)")
	}
	if c.TLS.ClientAuthMode() != "none" && c.TLS.TrustStoreLocation == "" {
		p.warnf(f, line("secureClientPort"), "ssl.trustStore.location",
			"is not set: client certificates (ssl.clientAuth=%s) are verified against the system's CAs", c.TLS.ClientAuthMode())
	}
}
