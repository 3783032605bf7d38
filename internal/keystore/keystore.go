// Package keystore reads the key and trust stores Apache ZooKeeper's
// X509Util reads: PEM files, Java KeyStores (JKS) and PKCS#12 files, with
// the type named by ssl.*.type or, when that is unset, by the file's
// extension (KeyStoreFileType: .pem, .jks, .p12).
package keystore

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// The store types zkgo reads, named as Apache's KeyStoreFileType.
const (
	PEM    = "PEM"
	JKS    = "JKS"
	PKCS12 = "PKCS12"
)

// CheckType validates an ssl.*.type value: "" (from the file name), PEM,
// JKS or PKCS12, in any case. It returns the type upper-cased.
func CheckType(v string) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(v)); t {
	case "", PEM, JKS, PKCS12:
		return t, nil
	case "BCFKS":
		return "", errors.New("BCFKS (Bouncy Castle's FIPS key store) is not supported: zkgo reads PEM, JKS and PKCS12")
	default:
		return "", fmt.Errorf("%q: unknown store type (zkgo reads PEM, JKS and PKCS12)", v)
	}
}

// TypeOf is the type of the store at path: typ when set, else the one
// its extension names (.jks, .p12 or .pfx; anything else is read as PEM,
// where Apache refuses an extension it does not know).
func TypeOf(typ, path string) string {
	if typ != "" {
		return strings.ToUpper(typ)
	}
	switch {
	case strings.HasSuffix(path, ".jks"):
		return JKS
	case strings.HasSuffix(path, ".p12"), strings.HasSuffix(path, ".pfx"):
		return PKCS12
	}
	return PEM
}

// Password is the store password as X509Util reads it: the contents of
// passwordPath when that is set (less one trailing newline), else
// password.
func Password(password, passwordPath string) (string, error) {
	if passwordPath == "" {
		return password, nil
	}
	b, err := os.ReadFile(passwordPath)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// LoadKeyPair reads a key store: one private key and its certificate
// chain, leaf first. A JKS or PKCS#12 store is opened with password, which
// is also the key's password (as Apache's X509Util uses it); a JKS store
// with several private keys gives the first alias in sorted order.
func LoadKeyPair(path, typ, password string) (tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	var cert tls.Certificate
	switch TypeOf(typ, path) {
	case JKS:
		cert, err = jksKeyPair(b, password)
	case PKCS12:
		cert, err = p12KeyPair(b, password)
	default:
		cert, err = ParsePEM(b, password)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", path, err)
	}
	return cert, nil
}

// LoadTrust reads a trust store: the CA certificates peers' certificates
// are verified against. A JKS store gives its trusted certificates and the
// chains of its private key entries; a PKCS#12 store its certificates.
func LoadTrust(path, typ, password string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	switch TypeOf(typ, path) {
	case JKS:
		certs, err = jksTrust(b, password)
	case PKCS12:
		certs, err = p12Trust(b, password)
	default:
		certs, err = pemCerts(b)
	}
	if err == nil && len(certs) == 0 {
		err = errors.New("no certificate in the trust store")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParsePEM reads the contents of Apache's PEM key store: one private key
// (PKCS#8, encrypted with password when it says so, or PKCS#1 or SEC 1)
// and its certificate chain, in any order.
func ParsePEM(b []byte, password string) (tls.Certificate, error) {
	var certs, keys []byte
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch {
		case blk.Type == "CERTIFICATE":
			certs = append(certs, pem.EncodeToMemory(blk)...)
		case blk.Type == "ENCRYPTED PRIVATE KEY":
			der, err := decryptPKCS8(blk.Bytes, password)
			if err != nil {
				return tls.Certificate{}, err
			}
			keys = append(keys, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
		case blk.Headers["Proc-Type"] != "":
			return tls.Certificate{}, errors.New("OpenSSL's traditional encrypted keys (Proc-Type: 4,ENCRYPTED) are not read, as by Apache: convert the key to PKCS#8 (openssl pkcs8 -topk8)")
		case strings.HasSuffix(blk.Type, "PRIVATE KEY"):
			keys = append(keys, pem.EncodeToMemory(blk)...)
		}
	}
	if len(certs) == 0 {
		return tls.Certificate{}, errors.New("no CERTIFICATE in the PEM file")
	}
	if len(keys) == 0 {
		return tls.Certificate{}, errors.New("no PRIVATE KEY in the PEM file (a PEM key store is one file with the key and the certificate chain, as Apache's)")
	}
	return tls.X509KeyPair(certs, keys)
}

func pemCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE in the PEM file")
	}
	return certs, nil
}

// keyPair assembles a tls.Certificate from DER certificates (leaf first)
// and a parsed private key, checking that they belong together.
func keyPair(chain [][]byte, key any) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("the private key has no certificate")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	priv, ok2 := key.(crypto.Signer)
	if !ok || !ok2 {
		return tls.Certificate{}, fmt.Errorf("unsupported key type %T", key)
	}
	if !pub.Equal(priv.Public()) {
		return tls.Certificate{}, errors.New("the private key does not match its certificate")
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

func loadJKS(b []byte, password string) (jks.KeyStore, error) {
	ks := jks.New(jks.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(b), []byte(password)); err != nil {
		return ks, fmt.Errorf("JKS: %w (wrong ssl.*.password, or not a JKS file)", err)
	}
	return ks, nil
}

func jksKeyPair(b []byte, password string) (tls.Certificate, error) {
	ks, err := loadJKS(b, password)
	if err != nil {
		return tls.Certificate{}, err
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(password))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("JKS entry %q: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("JKS entry %q: %w", alias, err)
		}
		chain := make([][]byte, len(e.CertificateChain))
		for i, c := range e.CertificateChain {
			chain[i] = c.Content
		}
		return keyPair(chain, key)
	}
	return tls.Certificate{}, errors.New("no private key entry in the JKS key store")
}

func jksTrust(b []byte, password string) ([]*x509.Certificate, error) {
	ks, err := loadJKS(b, password)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	add := func(der []byte) error {
		c, err := x509.ParseCertificate(der)
		if err == nil {
			certs = append(certs, c)
		}
		return err
	}
	for _, alias := range ks.Aliases() {
		switch {
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err == nil {
				err = add(e.Certificate.Content)
			}
			if err != nil {
				return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
			}
		case ks.IsPrivateKeyEntry(alias):
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil {
				return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
			}
			for _, c := range chain {
				if err := add(c.Content); err != nil {
					return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
				}
			}
		}
	}
	return certs, nil
}

func p12KeyPair(b []byte, password string) (tls.Certificate, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("PKCS12: %w (wrong ssl.*.password, or not a PKCS12 file)", err)
	}
	chain := [][]byte{leaf.Raw}
	for _, c := range cas {
		chain = append(chain, c.Raw)
	}
	return keyPair(chain, key)
}

// p12Trust reads a PKCS#12 trust store: Java's (keytool -importcert),
// whose certificates carry the trusted-key-usage attribute, or any other
// PKCS#12 file's certificates.
func p12Trust(b []byte, password string) ([]*x509.Certificate, error) {
	certs, err := pkcs12.DecodeTrustStore(b, password)
	if err == nil {
		return certs, nil
	}
	_, leaf, cas, err2 := pkcs12.DecodeChain(b, password)
	if err2 != nil {
		return nil, fmt.Errorf("PKCS12: %w (wrong ssl.*.password, or not a PKCS12 file)", err)
	}
	return append([]*x509.Certificate{leaf}, cas...), nil
}
