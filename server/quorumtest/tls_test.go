package quorumtest

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testcerts"
	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// memberStores gives member id its ssl.quorum.* stores, each member in
// another format: 1 PEM, 2 JKS (password in a file, as passwordPath
// reads it), 3 and up PKCS12.
func memberStores(t *testing.T, ca *testcerts.CA) map[int64]config.TLSConfig {
	const pw = "changeit"
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := map[int64]config.TLSConfig{}
	for id := int64(1); id <= 4; id++ {
		p := ca.Peer("zk" + strconv.FormatInt(id, 10))
		switch id {
		case 1:
			out[id] = config.TLSConfig{KeyStoreLocation: p.File, TrustStoreLocation: ca.CertFile}
		case 2:
			out[id] = config.TLSConfig{KeyStoreLocation: p.JKS(pw), KeyStorePasswordPath: pwFile,
				TrustStoreLocation: ca.TrustJKS(pw), TrustStorePasswordPath: pwFile}
		default:
			out[id] = config.TLSConfig{KeyStoreLocation: p.PKCS12(pw), KeyStorePassword: pw,
				TrustStoreLocation: ca.TrustPKCS12(pw), TrustStorePassword: pw}
		}
	}
	return out
}

// replicates writes through the first address and reads through the
// last, after a sync.
func replicates(t *testing.T, addrs []string) {
	t.Helper()
	replicatesPath(t, addrs, "/over-tls")
}

// replicatesPath is replicates with a znode of the caller's.
func replicatesPath(t *testing.T, addrs []string, path string) {
	t.Helper()
	w, _ := connect(t, addrs[0])
	r, _ := connect(t, addrs[len(addrs)-1])
	if _, err := w.Create(path, []byte("sealed"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sync(path); err != nil {
		t.Fatal(err)
	}
	got, _, err := r.Get(path)
	if err != nil || string(got) != "sealed" {
		t.Fatalf("read %s through another member: %q, %v", path, got, err)
	}
}

// TestQuorumTLS: with sslQuorum=true the members elect, sync and
// replicate over TLS, reading PEM, JKS and PKCS12 stores, and their
// quorum and election ports serve nothing to a plain connection.
func TestQuorumTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "ensemble CA")
	stores := memberStores(t, ca)
	e := servertest.StartEnsemble(t, 3, 1, servertest.WithConfig(func(c *config.Config) {
		c.SSLQuorum = true
		c.SSLQuorumReloadCertFiles = true
		c.QuorumTLS = stores[c.MyID]
	}))
	replicates(t, e.Addrs())

	client := ca.Peer("prober")
	for i, s := range e.Servers {
		me := s.Cfg.Servers[i]
		for _, port := range []int{me.QuorumPort, me.ElectionPort} {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			// A plain peer gets no answer.
			closedUnanswered(t, fmt.Sprintf("member %d port %d: a plain connection", i+1, port), addr)

			// A TLS peer sees the member's own certificate.
			tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr,
				&tls.Config{Certificates: []tls.Certificate{client.Cert}, RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
			if err != nil {
				t.Errorf("member %d port %d: TLS handshake: %v", i+1, port, err)
				continue
			}
			if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != fmt.Sprintf("zk%d", i+1) {
				t.Errorf("member %d port %d presents %q's certificate", i+1, port, cn)
			}
			tc.Close()
		}
	}

	// sslQuorumReloadCertFiles: member 1's rewritten key store is what its
	// ports present next, without a restart.
	rotated := ca.Peer("zk1-rotated")
	b, err := os.ReadFile(rotated.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stores[1].KeyStoreLocation, b, 0o600); err != nil {
		t.Fatal(err)
	}
	quorum := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Servers[0].Cfg.Servers[0].QuorumPort))
	testwait.For(t, "member 1 to present its new certificate", func() bool {
		tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", quorum,
			&tls.Config{Certificates: []tls.Certificate{client.Cert}, RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
		if err != nil {
			return false
		}
		defer tc.Close()
		return tc.ConnectionState().PeerCertificates[0].Subject.CommonName == "zk1-rotated"
	})
}

// closedUnanswered sends addr an election id frame in zkgo's framing (a
// member's first frame) and checks that the member closes the connection
// without a byte in answer.
func closedUnanswered(t *testing.T, who, addr string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	frame := binary.BigEndian.AppendUint32(nil, 8)
	frame = binary.BigEndian.AppendUint64(frame, 3)
	nc.Write(frame)
	if b, err := io.ReadAll(nc); len(b) > 0 || isTimeout(err) {
		t.Errorf("%s got %q, %v; want the connection closed unanswered", who, b, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestQuorumTLSRollingSwitch: the middle of Apache's documented rolling
// switch to TLS (portUnification=true everywhere, sslQuorum=true on the
// members already switched): a member still dialing plain and members
// dialing TLS form one ensemble.
func TestQuorumTLSRollingSwitch(t *testing.T) {
	ca := testcerts.NewCA(t, "ensemble CA")
	stores := memberStores(t, ca)
	e := servertest.StartEnsemble(t, 3, 0, servertest.WithConfig(func(c *config.Config) {
		c.PortUnification = true
		c.SSLQuorum = c.MyID != 3
		c.QuorumTLS = stores[c.MyID]
	}))
	replicates(t, e.Addrs())
	// And the other way: a write through the member that dials plain
	// reaches the members that dial TLS.
	replicatesPath(t, []string{e.Addrs()[2], e.Addrs()[0]}, "/from-plain")
}
