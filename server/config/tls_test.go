package config

import (
	"strings"
	"testing"
)

func TestTLSKeys(t *testing.T) {
	c, err := ParseBytes("zoo.cfg", []byte(`dataDir=/d
secureClientPort=2281
secureClientPortAddress=127.0.0.1
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=/k/server.pem
zookeeper.ssl.keyStore.password=
ssl.keyStore.type=PEM
ssl.trustStore.location=/k/ca.pem
ssl.trustStore.type=pem
ssl.clientAuth=WANT
ssl.protocol=TLSv1.3
zookeeper.ssl.enabledProtocols=TLSv1.2, TLSv1.3
ssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
ssl.authProvider=x509
authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider
zookeeper.X509AuthenticationProvider.superUser=CN=admin,O=zkgo
`))
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.ClientPort, 0) // clientPort may be absent with a secure port
	want(t, c.SecureClientPort, 2281)
	want(t, c.TLS.KeyStoreLocation, "/k/server.pem")
	want(t, c.TLS.TrustStoreLocation, "/k/ca.pem")
	want(t, c.TLS.TrustStoreType, "PEM")
	want(t, c.TLS.ClientAuthMode(), "want")
	want(t, c.TLS.Protocol, "TLSv1.3")
	want(t, strings.Join(c.TLS.EnabledProtocols, ","), "TLSv1.2,TLSv1.3")
	want(t, len(c.TLS.CipherSuites), 2)
	want(t, c.TLS.SuperUser, "CN=admin,O=zkgo")
	want(t, c.X509Enabled(), true)
	for _, w := range c.Warnings {
		if strings.Contains(w, "ssl.") || strings.Contains(w, "secureClientPort") || strings.Contains(w, "X509") {
			t.Errorf("warning %q", w)
		}
	}
}

func TestTLSDefaults(t *testing.T) {
	c, err := ParseBytes("zoo.cfg", []byte("dataDir=/d\nclientPort=2181\n"))
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.TLS.ClientAuthMode(), "need") // X509Util.ClientAuth default
	want(t, c.X509Enabled(), false)
}

func TestTLSErrors(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\n"
	for _, tc := range []struct{ cfg, err string }{
		{"secureClientPort=2281\n", "zoo.cfg:3: ssl.keyStore.location: is not set (required with secureClientPort)"},
		{"ssl.keyStore.type=BCFKS\n", "zoo.cfg:3: ssl.keyStore.type: BCFKS (Bouncy Castle's FIPS key store) is not supported"},
		{"ssl.quorum.trustStore.type=JCEKS\n", `zoo.cfg:3: ssl.quorum.trustStore.type: "JCEKS": unknown store type (zkgo reads PEM, JKS and PKCS12)`},
		{"ssl.quorum.hostnameVerification=maybe\n", `ssl.quorum.hostnameVerification: "maybe": want true or false`},
		{"ssl.quorum.allowReverseDnsLookup=no way\n", `ssl.quorum.allowReverseDnsLookup: "no way": want true or false`},
		{"ssl.quorum.clientAuth=maybe\n", `ssl.quorum.clientAuth: "maybe": choose none, want or need`},
		{"ssl.clientAuth=maybe\n", `zoo.cfg:3: ssl.clientAuth: "maybe": choose none, want or need`},
		{"ssl.protocol=SSLv3\n", `ssl.protocol: "SSLv3"`},
		{"ssl.enabledProtocols=TLSv1.2,SSLv3\n", `ssl.enabledProtocols: "SSLv3"`},
		{"ssl.authProvider=custom\n", "x509 only"},
		{"secureClientPortAddress=127.0.0.1\n", "secureClientPortAddress: is set but secureClientPort is not set"},
		{"zookeeper.client.portUnification=true\n", "ssl.keyStore.location: is not set (required with client.portUnification"},
	} {
		_, err := ParseBytes("zoo.cfg", []byte(base+tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.cfg, err, tc.err)
		}
	}
	// Without any client port at all.
	if _, err := ParseBytes("zoo.cfg", []byte("dataDir=/d\n")); err == nil || !strings.Contains(err.Error(), "clientPort: is not set") {
		t.Errorf("no port: %v", err)
	}
}

func TestQuorumTLSKeys(t *testing.T) {
	ensemble := "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"
	c, err := ParseBytes("zoo.cfg", []byte(ensemble+`sslQuorum=true
portUnification=false
sslQuorumReloadCertFiles=true
zookeeper.ssl.quorum.keyStore.location=/k/zk1.jks
ssl.quorum.keyStore.password=changeit
ssl.quorum.trustStore.location=/k/trust.p12
ssl.quorum.trustStore.passwordPath=/k/pw
ssl.quorum.trustStore.type=pkcs12
ssl.quorum.hostnameVerification=false
zookeeper.ssl.quorum.allowReverseDnsLookup=false
ssl.quorum.enabledProtocols=TLSv1.3
ssl.quorum.context.supplier.class=com.example.Supplier
ssl.keyStore.location=/k/client.p12
`))
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.SSLQuorum, true)
	want(t, c.PortUnification, false)
	want(t, c.SSLQuorumReloadCertFiles, true)
	want(t, c.QuorumTLS.KeyStoreLocation, "/k/zk1.jks")
	want(t, c.QuorumTLS.KeyStorePassword, "changeit")
	want(t, c.QuorumTLS.TrustStoreType, "PKCS12")
	want(t, c.QuorumTLS.TrustStorePasswordPath, "/k/pw")
	want(t, c.QuorumTLS.NoHostnameVerification, true)
	want(t, c.QuorumTLS.NoReverseDNS, true)
	want(t, c.TLS.NoReverseDNS, false)
	want(t, strings.Join(c.QuorumTLS.EnabledProtocols, ","), "TLSv1.3")
	want(t, c.TLS.KeyStoreLocation, "/k/client.p12") // the client port's keys stay apart
	want(t, c.TLS.NoHostnameVerification, false)
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "ssl.quorum.context.supplier.class") {
		t.Errorf("warnings %q, want one for the key zkgo does not use", c.Warnings)
	}

	// sslQuorum needs both stores: members authenticate each other.
	_, err = ParseBytes("zoo.cfg", []byte(ensemble+"sslQuorum=true\nssl.quorum.keyStore.location=/k/zk1.pem\n"))
	if err == nil || !strings.Contains(err.Error(), "ssl.quorum.trustStore.location: is not set") {
		t.Errorf("sslQuorum without a trust store: %v", err)
	}
	// On a standalone server it does nothing, and says so.
	c, err = ParseBytes("zoo.cfg", []byte("dataDir=/d\nclientPort=2181\nsslQuorum=true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "sslQuorum: has no effect on a standalone server") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

// observerMasterPort is taken as Apache takes it, without a warning:
// followers serve observers on it.
func TestObserverMasterPort(t *testing.T) {
	c, err := ParseBytes("zoo.cfg", []byte("dataDir=/d\nclientPort=2181\nobserverMasterPort=2191\n"))
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.ObserverMasterPort, 2191)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", c.Warnings)
	}
}
