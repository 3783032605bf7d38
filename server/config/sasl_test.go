package config

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeCfg writes zoo.cfg (and other files) into a temporary directory
// and parses it as the server does.
func parseWith(t *testing.T, cfg string, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if strings.Contains(cfg, "server.1=") {
		// An ensemble's member needs its myid.
		files = maps.Clone(files)
		if files == nil {
			files = map[string]string{}
		}
		files["data/myid"] = "1\n"
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg = strings.ReplaceAll(cfg, "$DIR", dir)
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte("dataDir="+dir+"/data\nclientPort=2181\n"+cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return Parse(path)
}

const jaasServer = `Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_super="adminsecret"
  user_bob="bobsecret";
};
ZkServer2 {
  org.apache.zookeeper.server.auth.DigestLoginModule required user_eve="e";
};
`

func TestSASLKeys(t *testing.T) {
	c, err := parseWith(t, `java.security.auth.login.config=$DIR/jaas.conf
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
zookeeper.superUser=super
superUser.ops=bob
zookeeper.SASLAuthenticationProvider.superPassword=override
allowSaslFailedClients=true
`, map[string]string{"jaas.conf": jaasServer})
	if err != nil {
		t.Fatal(err)
	}
	s := c.SASL
	if !s.Enabled() || !s.Provider || !s.AllowFailedClients || len(s.Users) != 2 {
		t.Fatalf("%+v", s)
	}
	if p, ok := s.Password("bob"); !ok || p != "bobsecret" {
		t.Fatalf("bob's password %q %v", p, ok)
	}
	if p, _ := s.Password("super"); p != "override" {
		t.Fatalf("super's password %q, want the superPassword key's", p)
	}
	if _, ok := s.Password("eve"); ok {
		t.Fatal("a user of another section")
	}
	if !s.IsSuper("super") || !s.IsSuper("bob") || s.IsSuper("eve") || s.IsSuper("") {
		t.Fatalf("super users %v", s.SuperUsers)
	}
	if len(c.EnforceAuthSchemes) != 0 {
		t.Fatalf("enforced schemes %v", c.EnforceAuthSchemes)
	}

	// Another section; an unknown provider class is ignored with a warning.
	c, err = parseWith(t, "java.security.auth.login.config=$DIR/jaas.conf\nzookeeper.sasl.serverconfig=ZkServer2\nauthProvider.2=com.example.Mine\n",
		map[string]string{"jaas.conf": jaasServer})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.SASL.Password("eve"); !ok || c.SASL.Provider {
		t.Fatalf("%+v", c.SASL)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, `"com.example.Mine" ignored`) }) {
		t.Fatalf("warnings %q", c.Warnings)
	}

	// A section that is not there: no SASL logins, as Apache, with a warning.
	c, err = parseWith(t, "java.security.auth.login.config=$DIR/jaas.conf\nsasl.serverconfig=Nope\n", map[string]string{"jaas.conf": jaasServer})
	if err != nil || c.SASL.Enabled() {
		t.Fatalf("%v %+v", err, c.SASL)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "has no Nope section") }) {
		t.Fatalf("warnings %q", c.Warnings)
	}

	// sessionRequireClientSASLAuth enforces sasl, over enforce.auth.*.
	c, err = parseWith(t, "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nsessionRequireClientSASLAuth=true\nenforce.auth.enabled=true\nenforce.auth.schemes=digest\n", nil)
	if err != nil || !slices.Equal(c.EnforceAuthSchemes, []string{"sasl"}) {
		t.Fatalf("%v %v", err, c.EnforceAuthSchemes)
	}
	c, err = parseWith(t, "enforce.auth.enabled=true\nenforce.auth.schemes=digest, ip\n", nil)
	if err != nil || !slices.Equal(c.EnforceAuthSchemes, []string{"digest", "ip"}) {
		t.Fatalf("%v %v", err, c.EnforceAuthSchemes)
	}
	// enforce.auth.schemes alone enforces nothing.
	c, err = parseWith(t, "enforce.auth.schemes=digest\n", nil)
	if err != nil || c.EnforceAuthSchemes != nil {
		t.Fatalf("%v %v", err, c.EnforceAuthSchemes)
	}
}

func TestSASLErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, jaas, err string }{
		{"java.security.auth.login.config=$DIR/missing.conf\n", "", "zoo.cfg:3: java.security.auth.login.config: open "},
		{"java.security.auth.login.config=$DIR/jaas.conf\n", "Server { m required a=; };", "jaas.conf: line 1: expected an option value"},
		{"java.security.auth.login.config=$DIR/jaas.conf\n", "Server { com.sun.security.auth.module.Krb5LoginModule required; };", "Kerberos (GSSAPI) is not supported"},
		{"sasl.serverconfig=\n", "", "sasl.serverconfig: must name a JAAS section"},
		{"enforce.auth.enabled=true\n", "", "zoo.cfg:3: enforce.auth.enabled: is true, so enforce.auth.schemes must name at least one scheme"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n", "", `authentication scheme "sasl" is not available`},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=x509\n", "", `authentication scheme "x509" is not available`},
		{"sessionRequireClientSASLAuth=true\n", "", `zoo.cfg:3: sessionRequireClientSASLAuth: authentication scheme "sasl" is not available`},
	} {
		_, err := parseWith(t, tc.cfg, map[string]string{"jaas.conf": tc.jaas})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.cfg, err, tc.err)
		}
	}
}

// quorumLines make a configuration an ensemble's (member 1 of three).
const quorumLines = "initLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"

const jaasQuorum = `QuorumServer {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_zk="zkpw";
};
QuorumLearner {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="zk" password="zkpw";
};
Learner2 {
  org.apache.zookeeper.server.auth.DigestLoginModule required username="other" password="o";
};
`

// TestQuorumSASLKeys: the quorum.auth.* keys of Apache's QuorumPeerConfig
// load the JAAS sections of the members' logins; a file for those alone
// needs no Server section (and gets no warning about it).
func TestQuorumSASLKeys(t *testing.T) {
	c, err := parseWith(t, quorumLines+`java.security.auth.login.config=$DIR/jaas.conf
quorum.auth.enableSasl=true
quorum.auth.learnerRequireSasl=true
quorum.auth.serverRequireSasl=true
`, map[string]string{"jaas.conf": jaasQuorum})
	if err != nil {
		t.Fatal(err)
	}
	q := c.QuorumSASL
	if !q.Enabled || !q.ServerRequire || !q.LearnerRequire || q.User != "zk" || q.Password != "zkpw" || q.Users["zk"] != "zkpw" || len(q.Users) != 1 {
		t.Fatalf("%+v", q)
	}
	if q.ServerSection != "QuorumServer" || q.LearnerSection != "QuorumLearner" {
		t.Fatalf("default sections %q %q", q.ServerSection, q.LearnerSection)
	}
	if c.SASL.Enabled() || len(c.Warnings) != 0 {
		t.Fatalf("client SASL %+v, warnings %q", c.SASL, c.Warnings)
	}

	c, err = parseWith(t, quorumLines+"java.security.auth.login.config=$DIR/jaas.conf\nquorum.auth.enableSasl=true\nquorum.auth.learner.saslLoginContext=Learner2\n",
		map[string]string{"jaas.conf": jaasQuorum})
	if err != nil || c.QuorumSASL.User != "other" || c.QuorumSASL.LearnerRequire {
		t.Fatalf("%v %+v", err, c.QuorumSASL)
	}
	// A standalone server needs no sections (Apache never reads them).
	c, err = parseWith(t, "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n", nil)
	if err != nil || !c.QuorumSASL.Enabled || c.QuorumSASL.Users != nil {
		t.Fatalf("standalone: %v %+v", err, c.QuorumSASL)
	}
	// Off: the JAAS file is not needed, nothing is loaded.
	c, err = parseWith(t, "quorum.auth.enableSasl=false\n", nil)
	if err != nil || c.QuorumSASL.Enabled || c.QuorumSASL.Users != nil {
		t.Fatalf("%v %+v", err, c.QuorumSASL)
	}
}

// TestQuorumSASLErrors: QuorumPeerConfig's checks of the three switches,
// and the sections Apache's QuorumPeer needs to start.
func TestQuorumSASLErrors(t *testing.T) {
	const jaas = quorumLines + "java.security.auth.login.config=$DIR/jaas.conf\n"
	for _, tc := range []struct{ cfg, jaas, err string }{
		{"quorum.auth.serverRequireSasl=true\nquorum.auth.learnerRequireSasl=true\n", "",
			"zoo.cfg:3: quorum.auth.serverRequireSasl: quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"},
		{"quorum.auth.learnerRequireSasl=true\n", "",
			"zoo.cfg:3: quorum.auth.learnerRequireSasl: quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl"},
		{jaas + "quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n", jaasQuorum,
			"zoo.cfg:10: quorum.auth.serverRequireSasl: quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"},
		{quorumLines + "quorum.auth.enableSasl=true\n", "",
			"zoo.cfg:8: quorum.auth.enableSasl: is true, so java.security.auth.login.config must name a JAAS file"},
		{jaas + "quorum.auth.enableSasl=true\n", "QuorumLearner { m required username=a password=b; };",
			"has no QuorumServer section (quorum.auth.enableSasl is true)"},
		{jaas + "quorum.auth.enableSasl=true\nquorum.auth.learner.saslLoginContext=Nope\n", jaasQuorum,
			"zoo.cfg:10: quorum.auth.learner.saslLoginContext: "},
		{jaas + "quorum.auth.enableSasl=true\nquorum.auth.learner.saslLoginContext=Nope\n", jaasQuorum,
			"jaas.conf has no Nope section (quorum.auth.enableSasl is true)"},
		{jaas + "quorum.auth.enableSasl=true\n", "QuorumServer { com.sun.security.auth.module.Krb5LoginModule required; };",
			"Kerberos (GSSAPI) is not supported"},
		{"quorum.auth.server.saslLoginContext= \n", "", "quorum.auth.server.saslLoginContext: must name a JAAS section"},
	} {
		_, err := parseWith(t, tc.cfg, map[string]string{"jaas.conf": tc.jaas})
		want := tc.err
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", tc.cfg, err, want)
		}
	}
}

func TestEnsembleAuthKeys(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\n"
	c, err := ParseBytes("zoo.cfg", []byte(base+"authProvider.1=org.apache.zookeeper.server.auth.EnsembleAuthenticationProvider\nzookeeper.ensembleAuthName= prod , prod-eu\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.EnsembleAuth || strings.Join(c.EnsembleAuthNames, "|") != "prod|prod-eu" || len(c.Warnings) != 0 {
		t.Errorf("provider %v, names %q, warnings %q", c.EnsembleAuth, c.EnsembleAuthNames, c.Warnings)
	}
	// The names alone do nothing, as in Apache, and zkgo says so.
	c, err = ParseBytes("zoo.cfg", []byte(base+"ensembleAuthName=prod\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.EnsembleAuth || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "ensembleAuthName: has no effect without authProvider.N=") {
		t.Errorf("provider %v, warnings %q", c.EnsembleAuth, c.Warnings)
	}
}
