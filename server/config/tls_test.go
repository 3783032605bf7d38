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
		{"ssl.keyStore.type=JKS\n", "zoo.cfg:3: ssl.keyStore.type: JKS is not supported: zkgo reads PEM key and trust stores only"},
		{"ssl.trustStore.type=PKCS12\n", "zoo.cfg:3: ssl.trustStore.type: PKCS12 is not supported"},
		{"ssl.keyStore.location=/k/server.jks\n", "zoo.cfg:3: ssl.keyStore.location: /k/server.jks: only PEM key and trust stores are supported"},
		{"ssl.trustStore.location=/k/ca.p12\n", "ssl.trustStore.location: /k/ca.p12: only PEM"},
		{"ssl.clientAuth=maybe\n", `zoo.cfg:3: ssl.clientAuth: "maybe": choose none, want or need`},
		{"ssl.protocol=SSLv3\n", `ssl.protocol: "SSLv3"`},
		{"ssl.enabledProtocols=TLSv1.2,SSLv3\n", `ssl.enabledProtocols: "SSLv3"`},
		{"ssl.authProvider=custom\n", "x509 only"},
		{"authProvider.x509=com.example.Mine\n", "X509AuthenticationProvider only"},
		{"secureClientPortAddress=127.0.0.1\n", "secureClientPortAddress: is set but secureClientPort is not set"},
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
	// Quorum TLS stays unsupported, with a warning.
	c, err := ParseBytes("zoo.cfg", []byte(base+"sslQuorum=true\nssl.quorum.keyStore.location=/k\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "quorum TLS is not supported") {
		t.Errorf("warnings %q", c.Warnings)
	}
}
