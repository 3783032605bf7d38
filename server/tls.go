package server

// The secure client port (secureClientPort): the same client protocol and
// four-letter words over TLS, as Apache 3.8's NettyServerCnxnFactory
// serves them, with client certificates checked per ssl.clientAuth and
// authenticated as x509:<subject DN> (X509AuthenticationProvider).

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// handshakeTimeout bounds a TLS handshake, so that a client that connects
// and says nothing does not hold a goroutine forever.
const handshakeTimeout = 10 * time.Second

// apacheCiphers is X509Util's default cipher list (Java 9+ order: GCM
// first), restricted to what crypto/tls implements.
var apacheCiphers = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
}

var tlsVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// ServerTLSConfig builds the TLS configuration of the secure client port
// from the ssl.* keys: the PEM key store (private key and certificate
// chain in one file, as Apache's PEM key store), the PEM trust store (CA
// certificates for client certificates), ssl.clientAuth, the protocols and
// cipher suites.
func ServerTLSConfig(cfg *config.Config) (*tls.Config, error) {
	t := cfg.TLS
	if t.KeyStoreLocation == "" {
		return nil, errors.New("ssl.keyStore.location is not set")
	}
	cert, err := loadKeyStore(t.KeyStoreLocation)
	if err != nil {
		return nil, fmt.Errorf("ssl.keyStore.location: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	if t.TrustStoreLocation != "" {
		pool, err := LoadTrustStore(t.TrustStoreLocation)
		if err != nil {
			return nil, fmt.Errorf("ssl.trustStore.location: %w", err)
		}
		tc.ClientCAs = pool
	}
	switch t.ClientAuthMode() {
	case "none":
		tc.ClientAuth = tls.NoClientCert
	case "want":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	protocols := t.EnabledProtocols
	if len(protocols) == 0 {
		p := t.Protocol
		if p == "" {
			p = "TLSv1.2" // X509Util.DEFAULT_PROTOCOL
		}
		protocols = []string{p}
	}
	for _, p := range protocols {
		lo, hi := tlsVersions[p], tlsVersions[p]
		if p == "TLS" {
			lo, hi = tls.VersionTLS12, tls.VersionTLS13
		}
		if tc.MinVersion == 0 || lo < tc.MinVersion {
			tc.MinVersion = lo
		}
		if hi > tc.MaxVersion {
			tc.MaxVersion = hi
		}
	}
	names := t.CipherSuites
	if names == nil {
		names = apacheCiphers
	}
	ids := map[string]uint16{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids[cs.Name] = cs.ID
	}
	var unknown []string
	for _, n := range names {
		switch {
		case ids[n] != 0:
			tc.CipherSuites = append(tc.CipherSuites, ids[n])
		case strings.HasPrefix(n, "TLS_AES_") || strings.HasPrefix(n, "TLS_CHACHA20_"):
			// TLS 1.3 suites: crypto/tls always enables them.
		default:
			unknown = append(unknown, n)
		}
	}
	if t.CipherSuites != nil && len(unknown) > 0 {
		return nil, fmt.Errorf("ssl.ciphersuites: %s not supported by zkgo (Go's crypto/tls)", strings.Join(unknown, ", "))
	}
	return tc, nil
}

// loadKeyStore reads a PEM key store: one private key and its certificate
// chain (leaf first), in any order in the file.
func loadKeyStore(path string) (tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, err
	}
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
		case blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] != "":
			return tls.Certificate{}, fmt.Errorf("%s: encrypted private keys are not supported by zkgo; store the key unencrypted (openssl pkcs8 -nocrypt)", path)
		case strings.HasSuffix(blk.Type, "PRIVATE KEY"):
			keys = append(keys, pem.EncodeToMemory(blk)...)
		}
	}
	if len(certs) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s: no CERTIFICATE in the PEM file", path)
	}
	if len(keys) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s: no PRIVATE KEY in the PEM file (zkgo's key store is one PEM file with the key and the certificate chain, as Apache's)", path)
	}
	cert, err := tls.X509KeyPair(certs, keys)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", path, err)
	}
	return cert, nil
}

// LoadTrustStore reads a PEM trust store: one or more CA certificates.
func LoadTrustStore(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no CERTIFICATE in the PEM file", path)
	}
	return pool, nil
}

// ListenSecure opens the secure client port. Accept returns connections
// whose TLS handshake has completed (each handshake runs on its own
// goroutine, bounded by handshakeTimeout); failed handshakes are logged
// and dropped, as Netty's CertificateVerifier closes them.
func ListenSecure(cfg *config.Config, log *slog.Logger) (net.Listener, error) {
	tc, err := ServerTLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.SecureClientPortAddress, strconv.Itoa(cfg.SecureClientPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("secure client port %s: %w", addr, err)
	}
	return newSecureListener(ln, tc, log), nil
}

type secureListener struct {
	net.Listener
	tc    *tls.Config
	log   *slog.Logger
	ready chan net.Conn
	done  chan struct{}
	once  sync.Once
	err   error // set before done is closed
}

func newSecureListener(ln net.Listener, tc *tls.Config, log *slog.Logger) *secureListener {
	l := &secureListener{Listener: ln, tc: tc, log: log, ready: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *secureListener) acceptLoop() {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.once.Do(func() { l.err = err; close(l.done) })
			return
		}
		go l.handshake(nc)
	}
}

func (l *secureListener) handshake(nc net.Conn) {
	tc := tls.Server(nc, l.tc)
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		l.log.Warn("unsuccessful TLS handshake: closing connection", "remote", nc.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	tc.SetDeadline(time.Time{})
	select {
	case l.ready <- tc:
	case <-l.done:
		tc.Close()
	}
}

// Accept returns the next client whose handshake has completed.
func (l *secureListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.ready:
		return nc, nil
	case <-l.done:
		return nil, l.err
	}
}

// Close stops accepting; handshakes in flight are dropped.
func (l *secureListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { l.err = net.ErrClosed; close(l.done) })
	return err
}

// startSecure opens the secure client port beside the plain one and
// accepts on it until the server closes. The caller holds s.mu (as for
// startLoops). Nothing to do without a secureClientPort, or when Serve's
// own listener is the secure one (no plain clientPort).
func (s *Server) startSecure() error {
	if s.cfg.SecureClientPort == 0 {
		return nil
	}
	if _, ok := s.ln.(*secureListener); ok {
		return nil
	}
	ln, err := ListenSecure(s.cfg, s.log)
	if err != nil {
		return err
	}
	s.log.Info("serving TLS clients", "addr", ln.Addr().String(), "clientAuth", s.cfg.TLS.ClientAuthMode())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-s.quit
		ln.Close()
	}()
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				select {
				case <-s.quit:
				default:
					s.fail(fmt.Errorf("secure client port: %w", err))
				}
				return
			}
			if c := s.admit(nc); c != nil {
				go c.serve()
			}
		}
	}()
	return nil
}

// certIDs returns the ids a TLS client's verified certificate gives, as
// X509AuthenticationProvider.handleAuthentication: x509:<subject DN> and,
// when that DN is X509AuthenticationProvider.superUser, super:<DN>. A
// plain connection, or one without a verified certificate, gets none.
func (s *Server) certIDs(nc net.Conn) []wire.ID {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return nil
	}
	dn, err := SubjectDN(st.PeerCertificates[0].RawSubject)
	if err != nil {
		s.log.Warn("client certificate subject unreadable: not authenticated", "err", err)
		return nil
	}
	var ids []wire.ID
	if su := s.cfg.TLS.SuperUser; su != "" && dn == su {
		ids = append(ids, wire.ID{Scheme: "super", ID: dn})
	}
	return append(ids, wire.ID{Scheme: "x509", ID: dn})
}

type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

type rawRDNSET []rawATV

// rfc2253Keywords are the attribute keywords Java's X500Principal.getName()
// emits (AVAKeyword entries that are RFC 2253 compliant); other attributes
// are written as dotted OIDs with a #hex value.
var rfc2253Keywords = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID",
}

// SubjectDN renders a DER-encoded X.500 name as Java's
// X500Principal.getName() (RFC 2253 form) does, which is the id Apache's
// X509AuthenticationProvider gives a client: RDNs last to first, joined by
// ','; multi-valued RDNs joined by '+'; values escaped as sun.security.x509.AVA
// does (",=+<>#;\"\\" backslash-escaped, leading and trailing spaces too).
func SubjectDN(raw []byte) (string, error) {
	var rdns []rawRDNSET
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", errors.New("trailing data after the name")
	}
	parts := make([]string, 0, len(rdns))
	for _, rdn := range slices.Backward(rdns) {
		avas := make([]string, 0, len(rdn))
		for _, ava := range rdn {
			avas = append(avas, avaString(ava))
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ","), nil
}

func avaString(ava rawATV) string {
	oid := ava.Type.String()
	kw, known := rfc2253Keywords[oid]
	if !known {
		kw = oid
	}
	v := ava.Value
	var s string
	isString := v.Class == asn1.ClassUniversal
	switch {
	case !isString:
	case v.Tag == asn1.TagPrintableString, v.Tag == asn1.TagT61String, v.Tag == asn1.TagIA5String,
		v.Tag == asn1.TagUTF8String, v.Tag == 27: // GeneralString
		s = string(v.Bytes)
	case v.Tag == asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			isString = false
			break
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		s = string(utf16.Decode(u))
	default:
		isString = false
	}
	if !known || !isString {
		return kw + "=#" + hex.EncodeToString(v.FullBytes)
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			b.WriteString("\\00")
		default:
			b.WriteRune(r)
		}
	}
	esc := []rune(b.String())
	lead := 0
	for lead < len(esc) && (esc[lead] == ' ' || esc[lead] == '\r') {
		lead++
	}
	trail := len(esc) - 1
	for trail >= 0 && (esc[trail] == ' ' || esc[trail] == '\r') {
		trail--
	}
	var out strings.Builder
	out.WriteString(kw + "=")
	for i, r := range esc {
		if i < lead || i > trail {
			out.WriteByte('\\')
		}
		out.WriteRune(r)
	}
	return out.String()
}
