// Package tlsnet turns the ssl.* and ssl.quorum.* settings of zoo.cfg into
// TLS configurations, as Apache ZooKeeper's X509Util does, and accepts TLS
// connections without letting a slow handshake hold up the others.
package tlsnet

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/internal/admit"
	"github.com/zkgo/zkgo/internal/keystore"
	"github.com/zkgo/zkgo/server/config"
)

// HandshakeTimeout bounds a TLS handshake, so that a peer that connects
// and says nothing does not hold a goroutine forever.
const HandshakeTimeout = 10 * time.Second

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

// ServerConfig builds the configuration of the accepting end from one
// prefix's keys (prefix names them in errors: "ssl." or "ssl.quorum."):
// the key store, the trust store that peers' certificates are checked
// against, clientAuth, the protocols and the cipher suites.
func ServerConfig(t config.TLSConfig, prefix string) (*tls.Config, error) {
	tc, err := ClientConfig(t, prefix)
	if err != nil {
		return nil, err
	}
	return accepting(tc, t), nil
}

// accepting turns a dialing configuration (ClientConfig's) into the accepting
// one: the trust store checks client certificates, as clientAuth says.
func accepting(dialing *tls.Config, t config.TLSConfig) *tls.Config {
	tc := dialing.Clone()
	tc.ClientCAs, tc.RootCAs = tc.RootCAs, nil
	switch t.ClientAuthMode() {
	case "none":
		tc.ClientAuth = tls.NoClientCert
	case "want":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc
}

// ClientConfig builds the configuration of the dialing end, which holds
// what both ends share: it presents the key store's certificate and checks
// the other end's against the trust store (RootCAs). Dial checks the name.
func ClientConfig(t config.TLSConfig, prefix string) (*tls.Config, error) {
	if t.KeyStoreLocation == "" {
		return nil, fmt.Errorf("%skeyStore.location is not set", prefix)
	}
	pw, err := keystore.Password(t.KeyStorePassword, t.KeyStorePasswordPath)
	if err != nil {
		return nil, fmt.Errorf("%skeyStore.passwordPath: %w", prefix, err)
	}
	cert, err := keystore.LoadKeyPair(t.KeyStoreLocation, t.KeyStoreType, pw)
	if err != nil {
		return nil, fmt.Errorf("%skeyStore.location: %w", prefix, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	if t.TrustStoreLocation != "" {
		pw, err := keystore.Password(t.TrustStorePassword, t.TrustStorePasswordPath)
		if err != nil {
			return nil, fmt.Errorf("%strustStore.passwordPath: %w", prefix, err)
		}
		tc.RootCAs, err = keystore.LoadTrust(t.TrustStoreLocation, t.TrustStoreType, pw)
		if err != nil {
			return nil, fmt.Errorf("%strustStore.location: %w", prefix, err)
		}
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
		return nil, fmt.Errorf("%sciphersuites: %s not supported by zkgo (Go's crypto/tls)", prefix, strings.Join(unknown, ", "))
	}
	return tc, nil
}

// verifyName reports whether cert names the peer: the address it was
// reached at or came from (an IP address), or host, a name from the
// configuration — as Apache's ZKTrustManager tries the address first and
// then the host name.
func verifyName(cert *x509.Certificate, addr net.Addr, host string) error {
	var ip string
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.IP.String()
		if cert.VerifyHostname(ip) == nil {
			return nil
		}
	}
	if host != "" && host != ip {
		if err := cert.VerifyHostname(host); err == nil {
			return nil
		}
	}
	return fmt.Errorf("certificate of %s (%s) does not name it: hostname verification failed", addr, cert.Subject)
}

// PeerNames is what Accepting checks of a peer's certificate.
type PeerNames int

const (
	// AnyName: nothing (hostnameVerification=false).
	AnyName PeerNames = iota
	// AddressName: the certificate names the address the peer connects
	// from (allowReverseDnsLookup=false).
	AddressName
	// AddressOrReverseName: that address, or a name it resolves back to
	// (reverse DNS), as Apache's quorum TLS does by default. A reverse
	// lookup trusts whoever answers for the address's PTR record
	// (CVE-2026-24281), so Apache's client TLS no longer does it.
	AddressOrReverseName
)

// Accepting is the configuration a listener hands every connection: the
// one current returns at its ClientHello (so that reloaded stores apply to
// the next connection) and a check that the peer's certificate names it as
// names asks (Apache's quorum hostname verification of clients).
func Accepting(current func() *tls.Config, names PeerNames) *tls.Config {
	return &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c := current()
		if names == AnyName {
			return c, nil
		}
		c = c.Clone()
		remote := hello.Conn.RemoteAddr()
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil // clientAuth none or want: nothing to check
			}
			cert := cs.PeerCertificates[0]
			err := verifyName(cert, remote, "")
			if err == nil || names != AddressOrReverseName {
				return err
			}
			if ta, ok := remote.(*net.TCPAddr); ok {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				hosts, _ := net.DefaultResolver.LookupAddr(ctx, ta.IP.String())
				cancel()
				for _, n := range hosts {
					if cert.VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
						return nil
					}
				}
			}
			return err
		}
		return c, nil
	}}
}

// Dial connects to addr (host:port) over TLS and completes the handshake
// before ctx ends. The other end's certificate must chain to tc's RootCAs
// and, with verifyNames, name host or the address reached.
func Dial(ctx context.Context, tc *tls.Config, addr string, verifyNames bool) (*tls.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := tc.Clone()
	// Chains are checked here rather than by crypto/tls, which would
	// also match the name against host only.
	c.InsecureSkipVerify = true
	remote := nc.RemoteAddr()
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		leaf := cs.PeerCertificates[0]
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: tc.RootCAs, Intermediates: inter}); err != nil {
			return err
		}
		if verifyNames {
			return verifyName(leaf, remote, host)
		}
		return nil
	}
	conn := tls.Client(nc, c)
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return conn, nil
}

// Listener accepts connections and hands them out once their TLS
// handshake has completed; each handshake runs on its own goroutine,
// bounded by HandshakeTimeout. Failed handshakes are logged and dropped,
// as Netty's and Apache's quorum listeners close them. With Unified set
// it also hands out plain connections, told apart by their first byte
// (Apache's portUnification).
type Listener struct {
	*admit.Listener[net.Conn]
	tc      *tls.Config
	log     *slog.Logger
	unified bool
	failed  atomic.Int64
}

// Failures is how many TLS handshakes have failed on the listener, not
// counting connections closed before the handshake ended.
func (l *Listener) Failures() int64 { return l.failed.Load() }

// NewListener starts accepting on ln.
func NewListener(ln net.Listener, tc *tls.Config, unified bool, log *slog.Logger) *Listener {
	l := &Listener{tc: tc, log: log, unified: unified}
	l.Listener = admit.New(ln, l.handshake)
	return l
}

// peekedConn is a plain connection whose first bytes were read to tell
// it from a TLS one.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (l *Listener) handshake(nc net.Conn) (net.Conn, bool) {
	nc.SetDeadline(time.Now().Add(HandshakeTimeout))
	var out net.Conn
	if l.unified {
		r := bufio.NewReader(nc)
		b, err := r.Peek(1)
		if err != nil {
			nc.Close()
			return nil, false
		}
		if b[0] != 0x16 { // not a TLS handshake record
			out = &peekedConn{Conn: nc, r: r}
		} else {
			nc = &peekedConn{Conn: nc, r: r}
		}
	}
	if out == nil {
		tc := tls.Server(nc, l.tc)
		if err := tc.Handshake(); err != nil {
			if !errors.Is(err, io.EOF) {
				// Not a peer that connected and closed without a
				// handshake (a port check).
				l.failed.Add(1)
			}
			l.log.Warn("unsuccessful TLS handshake: closing connection", "remote", nc.RemoteAddr().String(), "err", err)
			tc.Close()
			return nil, false
		}
		out = tc
	}
	nc.SetDeadline(time.Time{})
	return out, true
}

// Unified reports whether the listener also hands out plain connections.
func (l *Listener) Unified() bool { return l.unified }

// Stores holds one prefix's server and client configurations and, when
// watched, builds them again whenever the key or trust store file changes
// (sslQuorumReloadCertFiles, as Apache's X509Util.enableCertFileReloading):
// connections made after the change present and accept the new
// certificates; those already open keep theirs.
type Stores struct {
	t      config.TLSConfig
	prefix string
	log    *slog.Logger
	cur    atomic.Pointer[built]
}

type built struct {
	server, client *tls.Config
	sig            string // the store files' sizes and modification times
}

// NewStores reads the stores once.
func NewStores(t config.TLSConfig, prefix string, log *slog.Logger) (*Stores, error) {
	s := &Stores{t: t, prefix: prefix, log: log}
	b, err := s.build(s.signature())
	if err != nil {
		return nil, err
	}
	s.cur.Store(b)
	return s, nil
}

// Server is the current accepting configuration.
func (s *Stores) Server() *tls.Config { return s.cur.Load().server }

// Client is the current dialing configuration.
func (s *Stores) Client() *tls.Config { return s.cur.Load().client }

// build reads the stores once for both ends.
func (s *Stores) build(sig string) (*built, error) {
	cli, err := ClientConfig(s.t, s.prefix)
	if err != nil {
		return nil, err
	}
	return &built{server: accepting(cli, s.t), client: cli, sig: sig}, nil
}

// signature changes when a store file is replaced or rewritten.
func (s *Stores) signature() string {
	var b strings.Builder
	for _, f := range []string{s.t.KeyStoreLocation, s.t.TrustStoreLocation, s.t.KeyStorePasswordPath, s.t.TrustStorePasswordPath} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s %d %d;", f, fi.Size(), fi.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&b, "%s missing;", f)
		}
	}
	return b.String()
}

// Watch looks at the store files every interval until done is closed and
// reloads them when they changed. A change that does not load (a file
// half written, a wrong password) keeps the configurations in use and is
// logged once; the next change is tried again.
func (s *Stores) Watch(done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	tried := s.cur.Load().sig
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		sig := s.signature()
		if sig == tried {
			continue
		}
		tried = sig
		b, err := s.build(sig)
		if err != nil {
			s.log.Warn("TLS stores changed but cannot be read: keeping the ones in use", "prefix", s.prefix, "err", err)
			continue
		}
		s.cur.Store(b)
		s.log.Info("TLS stores reloaded", "prefix", s.prefix, "keyStore", s.t.KeyStoreLocation, "trustStore", s.t.TrustStoreLocation)
	}
}
