package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/testcerts"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

func init() { zk.DefaultLogger = log.New(io.Discard, "", 0) }

type tlsEnv struct {
	ca                *testcerts.CA
	srv               *servertest.Server
	secure            string // 127.0.0.1:secureClientPort
	alice, bob, admin testcerts.Pair
	aliceDN, bobDN    string
	adminDN           string
	stranger          testcerts.Pair // signed by another CA
}

// startTLS starts a server with a secure client port beside the plain one.
func startTLS(t *testing.T, clientAuth string) *tlsEnv {
	t.Helper()
	e := &tlsEnv{ca: testcerts.NewCA(t, "zkgo test CA")}
	srvPair := e.ca.Server("server")
	e.alice = e.ca.Client("alice", pkix.Name{CommonName: "alice", Organization: []string{"zkgo"}, Country: []string{"DE"}})
	e.bob = e.ca.Client("bob", pkix.Name{CommonName: "bob", OrganizationalUnit: []string{"ops, east"}})
	e.admin = e.ca.Client("admin", pkix.Name{CommonName: "admin"})
	e.aliceDN, e.bobDN, e.adminDN = "CN=alice,O=zkgo,C=DE", `CN=bob,OU=ops\, east`, "CN=admin"
	e.stranger = testcerts.NewCA(t, "other CA").Client("alice", pkix.Name{CommonName: "alice", Organization: []string{"zkgo"}, Country: []string{"DE"}})
	port := servertest.FreePorts(t, 1)[0]
	e.srv = servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.SecureClientPort = port
		c.SecureClientPortAddress = "127.0.0.1"
		c.TLS.KeyStoreLocation = srvPair.File
		c.TLS.TrustStoreLocation = e.ca.CertFile
		c.TLS.ClientAuth = clientAuth
		c.TLS.SuperUser = e.adminDN
	}))
	e.secure = fmt.Sprintf("127.0.0.1:%d", port)
	// Serve opens the secure port on its own goroutine: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", e.secure, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("secure port %s not open: %v", e.secure, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

func (e *tlsEnv) clientConfig(cert *testcerts.Pair) *tls.Config {
	tc := &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1"}
	if cert != nil {
		// Sent whatever CAs the server names, so that an untrusted
		// certificate reaches the server's verification.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.Cert, nil }
	}
	return tc
}

// connectTLS opens a go-zookeeper session over TLS.
func (e *tlsEnv) connectTLS(t *testing.T, cert *testcerts.Pair) *zk.Conn {
	t.Helper()
	tc := e.clientConfig(cert)
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, tc)
	}
	c, ev, err := zk.Connect([]string{e.secure}, 4*time.Second, zk.WithDialer(dialer), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-ev:
			if ev.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatalf("no TLS session with %s", e.secure)
		}
	}
}

func connectPlain(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for e := range ev {
		if e.State == zk.StateHasSession {
			break
		}
	}
	return c
}

// handshake dials the secure port and runs the TLS handshake plus one
// round trip (ruok), which is where a TLS 1.2 server's refusal shows.
func (e *tlsEnv) handshake(cert *testcerts.Pair) error {
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.secure, e.clientConfig(cert))
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte("ruok")); err != nil {
		return err
	}
	b, err := io.ReadAll(nc)
	if err != nil {
		return err
	}
	if string(b) != "imok" {
		return fmt.Errorf("ruok answered %q", b)
	}
	return nil
}

func TestTLSClientAuthNeed(t *testing.T) {
	e := startTLS(t, "")
	if err := e.handshake(nil); err == nil {
		t.Fatal("clientAuth need: a client without a certificate was accepted")
	}
	if err := e.handshake(&e.stranger); err == nil {
		t.Fatal("a certificate of an unknown CA was accepted")
	}
	// Both count in mntr's zk_auth_failed_count, as Apache's Netty
	// factory counts failed handshakes.
	testwait.For(t, "two failed handshakes in zk_auth_failed_count", func() bool {
		m, err := servertest.Mntr(e.srv.Addr())
		return err == nil && m["zk_auth_failed_count"] == "2"
	})
	// Four-letter words are served over TLS.
	if err := e.handshake(&e.alice); err != nil {
		t.Fatalf("ruok over TLS: %v", err)
	}
	c := e.connectTLS(t, &e.alice)
	if _, err := c.Create("/hello", []byte("tls"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// The plain port serves beside it, same tree.
	p := connectPlain(t, e.srv.Addr())
	if b, _, err := p.Get("/hello"); err != nil || string(b) != "tls" {
		t.Fatalf("plain get: %q %v", b, err)
	}
}

func TestTLSClientAuthWant(t *testing.T) {
	e := startTLS(t, "want")
	if err := e.handshake(nil); err != nil {
		t.Fatalf("clientAuth want refused a client without a certificate: %v", err)
	}
	if err := e.handshake(&e.stranger); err == nil {
		t.Fatal("clientAuth want accepted a certificate of an unknown CA")
	}
	owner := e.connectTLS(t, &e.alice)
	if _, err := owner.Create("/a", []byte("x"), 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "x509", ID: e.aliceDN}}); err != nil {
		t.Fatal(err)
	}
	anon := e.connectTLS(t, nil)
	if _, _, err := anon.Get("/a"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous TLS client read an x509 node: %v", err)
	}
	if _, _, err := owner.Get("/a"); err != nil {
		t.Fatalf("alice reads her node: %v", err)
	}
}

func TestTLSClientAuthNone(t *testing.T) {
	e := startTLS(t, "none")
	if err := e.handshake(nil); err != nil {
		t.Fatalf("clientAuth none: %v", err)
	}
	// The certificate is not asked for, so it authenticates nobody.
	c := e.connectTLS(t, &e.alice)
	_, err := c.Create("/n", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth", ID: ""}})
	if !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("auth ACL without an x509 id: %v", err)
	}
}

func TestTLSX509ACL(t *testing.T) {
	e := startTLS(t, "need")
	alice := e.connectTLS(t, &e.alice)
	bob := e.connectTLS(t, &e.bob)
	admin := e.connectTLS(t, &e.admin)

	// The auth scheme expands to the x509 id.
	if _, err := alice.Create("/mine", []byte("m"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth", ID: ""}}); err != nil {
		t.Fatal(err)
	}
	acl, _, err := alice.GetACL("/mine")
	if err != nil || len(acl) != 1 || acl[0].Scheme != "x509" || acl[0].ID != e.aliceDN {
		t.Fatalf("auth ACL of a TLS client: %+v %v", acl, err)
	}
	if _, _, err := bob.Get("/mine"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("bob reads alice's node: %v", err)
	}
	if _, err := bob.Set("/mine", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("bob writes alice's node: %v", err)
	}
	// An ACL naming bob's escaped DN grants bob.
	if _, err := alice.Create("/shared", nil, 0, []zk.ACL{
		{Perms: zk.PermAll, Scheme: "x509", ID: e.aliceDN},
		{Perms: zk.PermRead, Scheme: "x509", ID: e.bobDN},
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.Get("/shared"); err != nil {
		t.Fatalf("bob reads /shared: %v", err)
	}
	if _, err := bob.Set("/shared", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("bob writes /shared: %v", err)
	}
	// Notifications go to connections that may read the node: bob's
	// x509 id does.
	_, _, wch, err := bob.GetW("/shared")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Set("/shared", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-wch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/shared" {
			t.Fatalf("bob's watch: %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's watch on /shared did not fire")
	}
	// The superUser DN is super: everything, whatever the ACL.
	if b, _, err := admin.Get("/mine"); err != nil || string(b) != "m" {
		t.Fatalf("super reads /mine: %q %v", b, err)
	}
	if _, err := admin.SetACL("/mine", zk.WorldACL(zk.PermRead), -1); err != nil {
		t.Fatalf("super setACL: %v", err)
	}
	if _, _, err := bob.Get("/mine"); err != nil {
		t.Fatalf("bob after super opened /mine: %v", err)
	}
	// The plain port knows the x509 scheme (the secure port registers
	// it), but a plain client never matches it.
	p := connectPlain(t, e.srv.Addr())
	if _, err := p.Create("/px", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: e.aliceDN}}); err != nil {
		t.Fatalf("x509 ACL from a plain client: %v", err)
	}
	if _, _, err := p.Get("/px"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("plain client reads an x509 node: %v", err)
	}
	if _, _, err := alice.Get("/px"); err != nil {
		t.Fatalf("alice reads /px: %v", err)
	}
	if _, err := p.Create("/bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "not a dn"}}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("x509 ACL that is not a DN: %v", err)
	}
}

// TestTLSOnly: secureClientPort without clientPort; the secure listener
// is Serve's own.
func TestTLSOnly(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srvPair := ca.Server("server")
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DataLogDir = cfg.DataDir
	cfg.ClientPort = 0
	cfg.SecureClientPort = servertest.FreePorts(t, 1)[0]
	cfg.SecureClientPortAddress = "127.0.0.1"
	cfg.TLS.KeyStoreLocation = srvPair.File
	cfg.TLS.ClientAuth = "none"
	cfg.AdminEnableServer = false
	cfg.ForceSync = false
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := server.ListenSecure(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(t.Context(), ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	e := &tlsEnv{ca: ca, secure: ln.Addr().String()}
	c := e.connectTLS(t, nil)
	if _, err := c.Create("/only", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// A plain client on the secure port gets nowhere.
	nc, err := net.DialTimeout("tcp", e.secure, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	nc.Write([]byte("ruok"))
	nc.(*net.TCPConn).CloseWrite()
	if b, _ := io.ReadAll(nc); string(b) == "imok" {
		t.Fatal("plain ruok answered on the secure port")
	}
}

// TestClientPortUnification: with client.portUnification the plain
// client port takes TLS clients too (authenticated by their certificate),
// plain ones and plain four-letter words, and a secure port beside it
// still opens.
func TestClientPortUnification(t *testing.T) {
	e := &tlsEnv{ca: testcerts.NewCA(t, "zkgo test CA")}
	srvPair := e.ca.Server("server")
	alice := e.ca.Client("alice", pkix.Name{CommonName: "alice"})
	securePort := servertest.FreePorts(t, 1)[0]
	srv := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.ClientPortUnification = true
		c.SecureClientPort = securePort
		c.SecureClientPortAddress = "127.0.0.1"
		c.TLS.KeyStoreLocation = srvPair.File
		c.TLS.TrustStoreLocation = e.ca.CertFile
	}))
	e.secure = srv.Addr() // TLS on the plain port

	c := e.connectTLS(t, &alice)
	if _, err := c.Create("/unified", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// The certificate authenticates: an auth ACL names it.
	if _, err := c.Create("/alices", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}}); err != nil {
		t.Fatal(err)
	}
	acl, _, err := c.GetACL("/alices")
	if err != nil || len(acl) != 1 || acl[0].Scheme != "x509" || acl[0].ID != "CN=alice" {
		t.Errorf("ACL of a TLS client's auth node: %v, %v; want x509:CN=alice", acl, err)
	}
	p := connectPlain(t, srv.Addr())
	if got, _, err := p.Get("/unified"); err != nil || string(got) != "x" {
		t.Errorf("plain client on the unified port: %q, %v", got, err)
	}
	if err := e.handshake(&alice); err != nil {
		t.Errorf("ruok over TLS on the unified port: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := fourletter.Query(ctx, srv.Addr(), "ruok"); err != nil || out != "imok" {
		t.Errorf("plain ruok on the unified port: %q, %v", out, err)
	}
	e.secure = fmt.Sprintf("127.0.0.1:%d", securePort)
	waitUntilOpen(t, e.secure)
	if err := e.handshake(&alice); err != nil {
		t.Errorf("the secure port beside a unified client port: %v", err)
	}
}

// waitUntilOpen waits until addr accepts connections.
func waitUntilOpen(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not open: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerTLSConfigErrors(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pair := ca.Server("server")
	for _, tc := range []struct {
		name string
		set  func(c *config.Config)
		want string
	}{
		{"missing key store", func(c *config.Config) { c.TLS.KeyStoreLocation = "/nonexistent.pem" }, "ssl.keyStore.location: open /nonexistent.pem"},
		{"certificate without key", func(c *config.Config) { c.TLS.KeyStoreLocation = pair.CertFile }, "no PRIVATE KEY"},
		{"key without certificate", func(c *config.Config) { c.TLS.KeyStoreLocation = pair.KeyFile }, "no CERTIFICATE"},
		{"trust store without certificates", func(c *config.Config) { c.TLS.TrustStoreLocation = pair.KeyFile }, "ssl.trustStore.location"},
		{"unknown cipher", func(c *config.Config) { c.TLS.CipherSuites = []string{"TLS_DHE_DSS_WITH_RC4"} }, "TLS_DHE_DSS_WITH_RC4 not supported"},
	} {
		cfg := config.Default()
		cfg.TLS.KeyStoreLocation = pair.File
		tc.set(cfg)
		_, err := server.ServerTLSConfig(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	cfg := config.Default()
	cfg.TLS.KeyStoreLocation = pair.File
	tc, err := server.ServerTLSConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Apache's defaults: TLSv1.2 only, clientAuth need.
	if tc.MinVersion != tls.VersionTLS12 || tc.MaxVersion != tls.VersionTLS12 || tc.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("defaults: min %x max %x clientAuth %v", tc.MinVersion, tc.MaxVersion, tc.ClientAuth)
	}
}

// The DN strings are what Java 17's X500Principal.getName() prints for
// the same DER names (checked with OpenJDK 17.0.15).
func TestSubjectDN(t *testing.T) {
	uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	email := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	o := asn1.ObjectIdentifier{2, 5, 4, 10}
	for _, tc := range []struct {
		name pkix.RDNSequence
		want string
	}{
		{pkix.Name{CommonName: "alice", Organization: []string{"zkgo"}, Country: []string{"DE"}}.ToRDNSequence(), "CN=alice,O=zkgo,C=DE"},
		{pkix.Name{CommonName: "bob", OrganizationalUnit: []string{"ops, east"}}.ToRDNSequence(), `CN=bob,OU=ops\, east`},
		{pkix.Name{CommonName: " a=b+c#d;<e>\"f\\ "}.ToRDNSequence(), `CN=\ a\=b\+c\#d\;\<e\>\"f\\\ `},
		{pkix.Name{CommonName: "x", Locality: []string{"Berlin"}, Province: []string{"BE"}, StreetAddress: []string{"Main 1"}, SerialNumber: "42"}.ToRDNSequence(),
			"2.5.4.5=#13023432,CN=x,STREET=Main 1,L=Berlin,ST=BE"},
		{pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: uid, Value: "u1"}, {Type: email, Value: "a@b.c"}, {Type: dc, Value: "example"}}}.ToRDNSequence(),
			"DC=example,1.2.840.113549.1.9.1=#0c056140622e63,UID=u1"},
		{pkix.Name{CommonName: "Jürgen"}.ToRDNSequence(), "CN=Jürgen"},
		{pkix.Name{CommonName: "#lead"}.ToRDNSequence(), `CN=\#lead`},
		{pkix.RDNSequence{{{Type: cn, Value: "m"}, {Type: uid, Value: "u2"}}, {{Type: o, Value: "org"}}}, "O=org,CN=m+UID=u2"},
	} {
		raw, err := asn1.Marshal(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := server.SubjectDN(raw)
		if err != nil || got != tc.want {
			t.Errorf("SubjectDN(%v) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
