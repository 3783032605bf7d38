package tlsnet_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/testcerts"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/internal/tlsnet"
	"github.com/zkgo/zkgo/server/config"
)

// member is the ssl.quorum.* setting of one member with pair's
// certificate and ca's trust store.
func member(t *testing.T, pair testcerts.Pair, ca *testcerts.CA) (srv, cli *tls.Config) {
	t.Helper()
	qc := config.TLSConfig{KeyStoreLocation: pair.File, TrustStoreLocation: ca.CertFile}
	srv, err := tlsnet.ServerConfig(qc, "ssl.quorum.")
	if err != nil {
		t.Fatal(err)
	}
	cli, err = tlsnet.ClientConfig(qc, "ssl.quorum.")
	if err != nil {
		t.Fatal(err)
	}
	return srv, cli
}

// echoListener accepts on 127.0.0.1 and echoes one line per connection;
// it returns the address.
func echoListener(t *testing.T, tc *tls.Config, unified bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := tlsnet.NewListener(ln, tc, unified, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				c.Write(buf[:n])
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes a message longer than a TLS record header and reads
// the echo.
func roundTrip(c net.Conn) error {
	const msg = "hello, member"
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(c, int64(len(msg))))
	if err != nil {
		return err
	}
	if string(b) != msg {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func dial(t *testing.T, cli *tls.Config, addr string, verifyNames bool) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tlsnet.Dial(ctx, cli, addr, verifyNames)
	if err != nil {
		return err
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate shows on the first read.
	return roundTrip(c)
}

func TestMembersAuthenticateEachOther(t *testing.T) {
	ca := testcerts.NewCA(t, "ensemble CA")
	srv, _ := member(t, ca.Peer("zk1"), ca)
	_, cli := member(t, ca.Peer("zk2"), ca)
	addr := echoListener(t, tlsnet.Accepting(func() *tls.Config { return srv }, tlsnet.AddressOrReverseName), false)
	if err := dial(t, cli, addr, true); err != nil {
		t.Fatalf("a member with a certificate of the ensemble's CA: %v", err)
	}

	// A certificate of another CA is refused at either end.
	stranger := testcerts.NewCA(t, "other CA")
	_, strangerCli := member(t, stranger.Peer("intruder"), ca)
	if err := dial(t, strangerCli, addr, true); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	strangerSrv, _ := member(t, stranger.Peer("intruder"), stranger)
	if err := dial(t, cli, echoListener(t, strangerSrv, false), true); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("dialing a server with a certificate of another CA: %v, want unknown authority", err)
	}

	// No client certificate at all: refused (clientAuth need).
	bare := cli.Clone()
	bare.Certificates = nil
	if err := dial(t, bare, addr, true); err == nil {
		t.Error("a client without a certificate was accepted")
	}

	// A plain client gets nothing from a TLS-only port.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if roundTrip(nc) == nil {
		t.Error("a plain connection was served by a TLS-only port")
	}
}

// A member whose certificate names it only by the name its address
// resolves back to (localhost, not 127.0.0.1) is let in by a reverse
// lookup, unless ssl.quorum.allowReverseDnsLookup=false.
func TestReverseDNSLookup(t *testing.T) {
	hosts, err := net.LookupAddr("127.0.0.1")
	if err != nil || !slices.ContainsFunc(hosts, func(h string) bool { return strings.TrimSuffix(h, ".") == "localhost" }) {
		t.Skipf("127.0.0.1 does not resolve back to localhost here (%v, %v)", hosts, err)
	}
	ca := testcerts.NewCA(t, "ensemble CA")
	srv, _ := member(t, ca.Peer("zk1"), ca)
	_, byName := member(t, ca.PeerFor("zk2", "localhost"), ca)
	reverse := echoListener(t, tlsnet.Accepting(func() *tls.Config { return srv }, tlsnet.AddressOrReverseName), false)
	if err := dial(t, byName, reverse, true); err != nil {
		t.Errorf("a certificate naming localhost, reverse lookups allowed: %v", err)
	}
	strict := echoListener(t, tlsnet.Accepting(func() *tls.Config { return srv }, tlsnet.AddressName), false)
	if err := dial(t, byName, strict, true); err == nil {
		t.Error("a certificate naming localhost only was accepted from 127.0.0.1 without reverse lookups")
	}
}

func TestHostnameVerification(t *testing.T) {
	ca := testcerts.NewCA(t, "ensemble CA")
	// Certificates that name another address than the one used.
	elsewhere := ca.PeerFor("zk9", "10.255.0.9", "zk9.invalid")
	srvOK, cliOK := member(t, ca.Peer("zk1"), ca)
	srvElse, cliElse := member(t, elsewhere, ca)

	// Dialing: the server's certificate must name 127.0.0.1.
	addr := echoListener(t, srvElse, false)
	if err := dial(t, cliOK, addr, true); err == nil || !strings.Contains(err.Error(), "hostname verification failed") {
		t.Errorf("server certificate for another address, verification on: %v", err)
	}
	if err := dial(t, cliOK, addr, false); err != nil {
		t.Errorf("the same with ssl.quorum.hostnameVerification=false: %v", err)
	}

	// Accepting: the client's certificate must name the address it comes
	// from (127.0.0.1, or what it resolves to).
	strict := echoListener(t, tlsnet.Accepting(func() *tls.Config { return srvOK }, tlsnet.AddressOrReverseName), false)
	if err := dial(t, cliElse, strict, true); err == nil {
		t.Error("a client certificate for another address was accepted with verification on")
	}
	lax := echoListener(t, srvOK, false)
	if err := dial(t, cliElse, lax, true); err != nil {
		t.Errorf("the same with verification off: %v", err)
	}
}

// TestPortUnification: a unified port serves TLS and plain connections,
// as Apache's UnifiedServerSocket does during a rolling switch to
// sslQuorum.
func TestPortUnification(t *testing.T) {
	ca := testcerts.NewCA(t, "ensemble CA")
	srv, cli := member(t, ca.Peer("zk1"), ca)
	addr := echoListener(t, srv, true)
	if err := dial(t, cli, addr, true); err != nil {
		t.Errorf("TLS on a unified port: %v", err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := roundTrip(nc); err != nil {
		t.Errorf("plain on a unified port: %v (its first bytes must not be lost)", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pair := ca.Peer("zk1")
	for _, tc := range []struct {
		name string
		qc   config.TLSConfig
		want string
	}{
		{"no key store", config.TLSConfig{}, "ssl.quorum.keyStore.location is not set"},
		{"wrong password", config.TLSConfig{KeyStoreLocation: pair.PKCS12("right"), KeyStorePassword: "wrong"}, "ssl.quorum.keyStore.location: "},
		{"missing password file", config.TLSConfig{KeyStoreLocation: pair.JKS("pw"), KeyStorePasswordPath: "/nonexistent/pw"}, "ssl.quorum.keyStore.passwordPath: password file: open /nonexistent/pw"},
		{"trust store of the wrong type", config.TLSConfig{KeyStoreLocation: pair.File, TrustStoreLocation: ca.CertFile, TrustStoreType: "JKS"}, "ssl.quorum.trustStore.location: "},
	} {
		_, err := tlsnet.ServerConfig(tc.qc, "ssl.quorum.")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// presented dials addr and returns the common name of the certificate the
// listener presents ("" when the handshake fails).
func presented(t *testing.T, addr string, cli *tls.Config) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr,
		&tls.Config{Certificates: cli.Certificates, RootCAs: cli.RootCAs, ServerName: "127.0.0.1"})
	if err != nil {
		return ""
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestStoresReload: with sslQuorumReloadCertFiles a rewritten key store
// is presented by the next connection; one that cannot be read leaves the
// last good one in use.
func TestStoresReload(t *testing.T) {
	ca := testcerts.NewCA(t, "ensemble CA")
	first, rotated := ca.Peer("zk1"), ca.Peer("zk1-rotated")
	dir := t.TempDir()
	keyStore := filepath.Join(dir, "zk1.pem")
	copyFile(t, first.File, keyStore)
	var logs testwait.Buffer
	stores, err := tlsnet.NewStores(config.TLSConfig{KeyStoreLocation: keyStore, TrustStoreLocation: ca.CertFile},
		"ssl.quorum.", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	go stores.Watch(done, 10*time.Millisecond)
	addr := echoListener(t, tlsnet.Accepting(stores.Server, tlsnet.AnyName), false)
	_, cli := member(t, ca.Peer("zk2"), ca)
	if cn := presented(t, addr, cli); cn != "zk1" {
		t.Fatalf("presents %q, want zk1", cn)
	}

	copyFile(t, rotated.File, keyStore)
	testwait.For(t, "the rotated certificate", func() bool { return presented(t, addr, cli) == "zk1-rotated" })
	if c := stores.Client().Certificates[0].Leaf.Subject.CommonName; c != "zk1-rotated" {
		t.Errorf("dialing presents %q after the reload, want zk1-rotated", c)
	}

	if err := os.WriteFile(keyStore, []byte("-----BEGIN PRIVATE KEY-----\nhalf a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the unreadable store to be logged", func() bool { return strings.Contains(logs.String(), "cannot be read") })
	if cn := presented(t, addr, cli); cn != "zk1-rotated" {
		t.Errorf("after an unreadable rewrite the listener presents %q, want the last good zk1-rotated", cn)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
