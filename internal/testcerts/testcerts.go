// Package testcerts makes a throw-away certificate authority and
// certificates for TLS tests: PEM files in a test's temporary directory,
// never committed. Production code never imports it.
package testcerts

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// CA is a certificate authority that signs test certificates.
type CA struct {
	t    testing.TB
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertFile is the CA certificate (a PEM trust store).
	CertFile string
	serial   int64
}

// NewCA creates a CA named cn in a new temporary directory.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	ca := &CA{t: t, dir: t.TempDir(), cert: cert, key: key, serial: 1}
	ca.CertFile = filepath.Join(ca.dir, "ca.pem")
	writePEM(t, ca.CertFile, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return ca
}

// Pair is a signed certificate and its key.
type Pair struct {
	// File holds the private key and the certificate (Apache's PEM key
	// store); KeyFile and CertFile hold them separately.
	File, KeyFile, CertFile string
	Cert                    tls.Certificate

	t     testing.TB
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate // the certificate, then the CA's
}

// PKCS12 writes the key and its chain as a PKCS#12 key store (as Java 17's
// keytool makes them: AES-256 and SHA-256) and returns its path.
func (p Pair) PKCS12(password string) string {
	p.t.Helper()
	b, err := pkcs12.Modern.Encode(p.key, p.chain[0], p.chain[1:], password)
	if err != nil {
		p.t.Fatalf("testcerts: %v", err)
	}
	return writeFile(p.t, strings.TrimSuffix(p.File, ".pem")+".p12", b)
}

// JKS writes the key and its chain as a Java KeyStore and returns its path.
func (p Pair) JKS(password string) string {
	p.t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(p.key)
	if err != nil {
		p.t.Fatalf("testcerts: %v", err)
	}
	e := jks.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: kder}
	for _, c := range p.chain {
		e.CertificateChain = append(e.CertificateChain, jks.Certificate{Type: "X509", Content: c.Raw})
	}
	ks := jks.New()
	if err := ks.SetPrivateKeyEntry("key", e, []byte(password)); err != nil {
		p.t.Fatalf("testcerts: %v", err)
	}
	return writeStore(p.t, strings.TrimSuffix(p.File, ".pem")+".jks", ks, password)
}

// TrustPKCS12 writes the CA certificate as a PKCS#12 trust store (keytool
// -importcert -storetype PKCS12) and returns its path.
func (ca *CA) TrustPKCS12(password string) string {
	ca.t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.cert}, password)
	if err != nil {
		ca.t.Fatalf("testcerts: %v", err)
	}
	return writeFile(ca.t, filepath.Join(ca.dir, "ca.p12"), b)
}

// TrustJKS writes the CA certificate as a JKS trust store and returns its
// path.
func (ca *CA) TrustJKS(password string) string {
	ca.t.Helper()
	ks := jks.New()
	e := jks.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: jks.Certificate{Type: "X509", Content: ca.cert.Raw}}
	if err := ks.SetTrustedCertificateEntry("ca", e); err != nil {
		ca.t.Fatalf("testcerts: %v", err)
	}
	return writeStore(ca.t, filepath.Join(ca.dir, "ca.jks"), ks, password)
}

func writeStore(t testing.TB, path string, ks jks.KeyStore, password string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	return writeFile(t, path, buf.Bytes())
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	return path
}

func mustParse(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	return c
}

// Server issues a server certificate for 127.0.0.1 and localhost.
func (ca *CA) Server(name string) Pair {
	return ca.issue(name, pkix.Name{CommonName: "localhost"}, x509.ExtKeyUsageServerAuth)
}

// Client issues a client certificate with the given subject.
func (ca *CA) Client(name string, subject pkix.Name) Pair {
	return ca.issue(name, subject, x509.ExtKeyUsageClientAuth)
}

// Peer issues a certificate for 127.0.0.1 and localhost that serves as
// both ends of a connection, as an ensemble member's does.
func (ca *CA) Peer(name string) Pair {
	return ca.PeerFor(name, "127.0.0.1", "localhost")
}

// PeerFor is Peer for the given host names and IP addresses only.
func (ca *CA) PeerFor(name string, hosts ...string) Pair {
	return ca.issueFor(name, pkix.Name{CommonName: name}, hosts, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
}

func (ca *CA) issue(name string, subject pkix.Name, usage ...x509.ExtKeyUsage) Pair {
	var hosts []string
	if slices.Contains(usage, x509.ExtKeyUsageServerAuth) {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	return ca.issueFor(name, subject, hosts, usage...)
}

func (ca *CA) issueFor(name string, subject pkix.Name, hosts []string, usage ...x509.ExtKeyUsage) Pair {
	t := ca.t
	t.Helper()
	key := newKey(t)
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	certBlock := &pem.Block{Type: "CERTIFICATE", Bytes: der}
	keyBlock := &pem.Block{Type: "PRIVATE KEY", Bytes: kder}
	p := Pair{
		t:        t,
		key:      key,
		chain:    []*x509.Certificate{mustParse(t, der), ca.cert},
		File:     filepath.Join(ca.dir, name+".pem"),
		KeyFile:  filepath.Join(ca.dir, name+".key"),
		CertFile: filepath.Join(ca.dir, name+".crt"),
	}
	writePEM(t, p.File, keyBlock, certBlock)
	writePEM(t, p.KeyFile, keyBlock)
	writePEM(t, p.CertFile, certBlock)
	p.Cert, err = tls.X509KeyPair(pem.EncodeToMemory(certBlock), pem.EncodeToMemory(keyBlock))
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	return p
}

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	return key
}

func writePEM(t testing.TB, path string, blocks ...*pem.Block) {
	t.Helper()
	var b []byte
	for _, blk := range blocks {
		b = append(b, pem.EncodeToMemory(blk)...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("testcerts: %v", err)
	}
}
