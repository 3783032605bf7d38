package main

import (
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/testcerts"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// TestTLSOneShot runs the zk binary against a server's secureClientPort
// (clientAuth need): -tls with a client certificate works end to end and
// authenticates as x509; without a certificate, or without the CA, zk
// fails with one line.
func TestTLSOneShot(t *testing.T) {
	ca := testcerts.NewCA(t, "zk e2e CA")
	srvPair := ca.Server("server")
	client := ca.Client("client", pkix.Name{CommonName: "zk-cli", Organization: []string{"zkgo"}})
	port := servertest.FreePorts(t, 1)[0]
	servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.SecureClientPort = port
		c.SecureClientPortAddress = "127.0.0.1"
		c.TLS.KeyStoreLocation = srvPair.File
		c.TLS.TrustStoreLocation = ca.CertFile
	}))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("secure port not open: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Options before the command, key and certificate in separate files.
	r := runZk(t, nil, "", "-server", addr, "-tls", "-tls-ca", ca.CertFile, "-tls-cert", client.CertFile, "-tls-key", client.KeyFile,
		"create", "/tls", "over tls")
	if r.code != 0 {
		t.Fatalf("create over TLS: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Options after the arguments; one PEM with key and certificate
	// (-tls-cert implies -tls).
	r = runZk(t, nil, "", "get", "/tls", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File)
	if r.code != 0 || r.stdout != "over tls\n" {
		t.Fatalf("get over TLS: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The certificate is an x509 identity: the auth scheme names it.
	r = runZk(t, nil, "", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File, "create", "/mine", "x", "auth::cdrwa")
	if r.code != 0 {
		t.Fatalf("create with auth ACL: %d %q", r.code, r.stderr)
	}
	r = runZk(t, nil, "", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File, "getAcl", "/mine")
	if r.code != 0 || !strings.Contains(r.stdout, "'x509,'O=zkgo,CN=zk-cli") && !strings.Contains(r.stdout, "'x509,'CN=zk-cli,O=zkgo") {
		t.Fatalf("getAcl: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Interactive shell over TLS.
	r = runZk(t, nil, "get /tls\n", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File)
	if r.code != 0 || !strings.Contains(r.stdout, "over tls") {
		t.Fatalf("shell over TLS: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// No client certificate: the server refuses the handshake.
	r = runZk(t, nil, "", "-server", addr, "-timeout", "2000", "-tls-ca", ca.CertFile, "get", "/tls")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "zk: cannot connect to ") || !strings.Contains(r.stderr, "-tls-cert") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("without a client certificate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Without the CA the server's certificate is not trusted...
	r = runZk(t, nil, "", "-server", addr, "-timeout", "2000", "-tls-cert", client.File, "get", "/tls")
	if r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("without the CA: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// ... unless -tls-insecure.
	r = runZk(t, nil, "", "-server", addr, "-tls-insecure", "-tls-cert", client.File, "get", "/tls")
	if r.code != 0 || r.stdout != "over tls\n" {
		t.Fatalf("-tls-insecure: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A plain client on the secure port gets no session.
	r = runZk(t, nil, "", "-server", addr, "-timeout", "500", "get", "/tls")
	if r.code != 1 {
		t.Fatalf("plain client on the TLS port: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// zk status over TLS: options after the command, and before it.
	r = runZk(t, nil, "", "status", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File)
	if r.code != 0 || !strings.Contains(r.stdout, "standalone") {
		t.Fatalf("status over TLS: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runZk(t, nil, "", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File, "status", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"mode":"standalone"`) {
		t.Fatalf("status over TLS, options first: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// zk bench over TLS: options before the command, and after it.
	for _, args := range [][]string{
		{"-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File, "bench", "-op", "get", "-clients", "2", "-duration", "200ms", "-warmup", "0s", "-o", "json"},
		{"bench", "-op", "set", "-clients", "2", "-duration", "200ms", "-warmup", "0s", "-o", "json", "-server", addr, "-tls-ca", ca.CertFile, "-tls-cert", client.File},
	} {
		r = runZk(t, nil, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, `"ops":`) || strings.Contains(r.stdout, `"ops":0,`) {
			t.Fatalf("bench over TLS %v: %d %q %q", args, r.code, r.stdout, r.stderr)
		}
	}
	// Without a client certificate the sessions never start.
	r = runZk(t, nil, "", "bench", "-server", addr, "-tls-ca", ca.CertFile, "-duration", "200ms", "-warmup", "0s")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("bench over TLS without a certificate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Usage and file errors.
	r = runZk(t, nil, "", "-server", addr, "-tls-key", client.KeyFile, "get", "/tls")
	if r.code != 2 || r.stderr != "zk: -tls-key needs -tls-cert\n" {
		t.Fatalf("-tls-key alone: %d %q", r.code, r.stderr)
	}
	r = runZk(t, nil, "", "-server", addr, "-tls-ca", "/nonexistent.pem", "get", "/tls")
	if r.code != 1 || !strings.Contains(r.stderr, "-tls-ca: open /nonexistent.pem") {
		t.Fatalf("missing CA file: %d %q", r.code, r.stderr)
	}

	// Java's stores, as zkCli.sh users have them: a JKS key store and a
	// PKCS12 trust store, opened with $ZK_TLS_PASSWORD.
	jks, p12 := client.JKS("s3cret"), ca.TrustPKCS12("s3cret")
	r = runZk(t, []string{"ZK_TLS_PASSWORD=s3cret"}, "", "-server", addr, "-tls-ca", p12, "-tls-cert", jks, "get", "/tls")
	if r.code != 0 || r.stdout != "over tls\n" {
		t.Fatalf("JKS and PKCS12 stores: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runZk(t, []string{"ZK_TLS_PASSWORD=wrong"}, "", "-server", addr, "-tls-ca", p12, "-tls-cert", jks, "get", "/tls")
	if r.code != 1 || !strings.Contains(r.stderr, "-tls-ca: ") || !strings.Contains(r.stderr, "password") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("stores with a wrong password: %d %q", r.code, r.stderr)
	}
}
