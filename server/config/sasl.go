package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zkgo/zkgo/server/sasl"
)

// SASLConfig is the clients' SASL login (DIGEST-MD5) and the sasl ACL
// scheme. Apache reads all of it from JVM system properties and the JAAS
// file those name; zkgo takes the same names as zoo.cfg keys.
type SASLConfig struct {
	// JAASFile is java.security.auth.login.config: the JAAS login
	// configuration whose Section lists the users (user_<name>="<password>").
	JAASFile string
	// Section is sasl.serverconfig, "Server" by default.
	Section string
	// Users are the DIGEST-MD5 users read from the JAAS file; nil when
	// SASL logins are off (no file, or no such section in it).
	Users map[string]string
	// SuperPassword is SASLAuthenticationProvider.superPassword: the
	// password of the user "super", whatever the JAAS file says.
	SuperPassword string
	// SuperUsers are superUser and superUser.*: authorization ids that
	// become super once logged in.
	SuperUsers []string
	// Provider: an authProvider.N key names SASLAuthenticationProvider,
	// which makes "sasl" a valid ACL scheme.
	Provider bool
	// AllowFailedClients is allowSaslFailedClients: a failed login keeps
	// its connection (unauthenticated) instead of closing it.
	AllowFailedClients bool
}

// Enabled reports whether clients may log in with SASL.
func (s *SASLConfig) Enabled() bool { return s.Users != nil }

// Password returns a SASL user's password (SaslServerCallbackHandler).
func (s *SASLConfig) Password(user string) (string, bool) {
	if user == "super" && s.SuperPassword != "" {
		return s.SuperPassword, true
	}
	p, ok := s.Users[user]
	return p, ok
}

// IsSuper reports whether an authorization id is a SASL super user.
func (s *SASLConfig) IsSuper(id string) bool {
	return id != "" && slices.Contains(s.SuperUsers, id)
}

// QuorumSASLConfig is the members' DIGEST-MD5 logins to each other
// (Apache's QuorumAuth: quorum.auth.* keys, and the JAAS file's
// QuorumServer and QuorumLearner sections).
type QuorumSASLConfig struct {
	// Enabled is quorum.auth.enableSasl: a member answers the logins of
	// the members that connect to it, and (with LearnerRequire) logs in.
	Enabled bool
	// ServerRequire is quorum.auth.serverRequireSasl: a member that
	// connects without logging in is refused.
	ServerRequire bool
	// LearnerRequire is quorum.auth.learnerRequireSasl: this member logs
	// in to every member it connects to, and gives up on one that does
	// not accept the login.
	LearnerRequire bool
	// ServerSection and LearnerSection are quorum.auth.server.saslLoginContext
	// ("QuorumServer") and quorum.auth.learner.saslLoginContext
	// ("QuorumLearner").
	ServerSection, LearnerSection string
	// Users are the QuorumServer section's user_<name> entries: who may
	// connect. User and Password are the QuorumLearner section's login.
	Users          map[string]string
	User, Password string
}

const (
	saslProviderClass     = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
	x509ProviderClass     = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
	ensembleProviderClass = "org.apache.zookeeper.server.auth.EnsembleAuthenticationProvider"
)

func init() {
	for k, s := range map[string]setter{
		"java.security.auth.login.config": func(c *Config, v string) error {
			c.SASL.JAASFile = strings.TrimSpace(v)
			return nil
		},
		"sasl.serverconfig": section(func(c *Config) *string { return &c.SASL.Section }),
		// EnsembleAuthenticationProvider.setEnsembleNames: split at
		// commas, each name trimmed (an empty one is a name too).
		"ensembleAuthName": func(c *Config, v string) error {
			c.EnsembleAuthNames = []string{}
			for _, n := range strings.Split(v, ",") {
				c.EnsembleAuthNames = append(c.EnsembleAuthNames, strings.TrimSpace(n))
			}
			return nil
		},
		"SASLAuthenticationProvider.superPassword": func(c *Config, v string) error {
			c.SASL.SuperPassword = v
			return nil
		},
		"quorum.auth.enableSasl":               boolean(func(c *Config) *bool { return &c.QuorumSASL.Enabled }),
		"quorum.auth.serverRequireSasl":        boolean(func(c *Config) *bool { return &c.QuorumSASL.ServerRequire }),
		"quorum.auth.learnerRequireSasl":       boolean(func(c *Config) *bool { return &c.QuorumSASL.LearnerRequire }),
		"quorum.auth.server.saslLoginContext":  section(func(c *Config) *string { return &c.QuorumSASL.ServerSection }),
		"quorum.auth.learner.saslLoginContext": section(func(c *Config) *string { return &c.QuorumSASL.LearnerSection }),
		"allowSaslFailedClients":               boolean(func(c *Config) *bool { return &c.SASL.AllowFailedClients }),
		"sessionRequireClientSASLAuth":         boolean(func(c *Config) *bool { return &c.SessionRequireClientSASLAuth }),
		"enforce.auth.enabled":                 boolean(func(c *Config) *bool { return &c.EnforceAuth }),
		"enforce.auth.schemes": func(c *Config, v string) error {
			c.EnforceAuthSchemes = nil
			for s := range strings.SplitSeq(v, ",") {
				c.EnforceAuthSchemes = append(c.EnforceAuthSchemes, strings.TrimSpace(s))
			}
			return nil
		},
	} {
		keyTable[k] = s
	}
}

// section sets the name of a JAAS section.
func section(field func(*Config) *string) setter {
	return func(c *Config, v string) error {
		if v = strings.TrimSpace(v); v == "" {
			return fmt.Errorf("must name a JAAS section")
		}
		*field(c) = v
		return nil
	}
}

// prefixKey returns the setter of the keys that are a prefix and a
// name: authProvider.<name> (ProviderRegistry reads every
// zookeeper.authProvider.* property) and superUser.<name>.
func prefixKey(k string) (setter, bool) {
	switch {
	case strings.HasPrefix(k, "authProvider."):
		return setAuthProvider, true
	case k == "superUser" || strings.HasPrefix(k, "superUser."):
		return func(c *Config, v string) error {
			if v = strings.TrimSpace(v); v != "" {
				c.SASL.SuperUsers = append(c.SASL.SuperUsers, v)
			}
			return nil
		}, true
	}
	return nil, false
}

func setAuthProvider(c *Config, v string) error {
	switch strings.TrimSpace(v) {
	case saslProviderClass:
		c.SASL.Provider = true
	case x509ProviderClass:
		c.TLS.X509Provider = true
	case ensembleProviderClass:
		c.EnsembleAuth = true
	default:
		// Apache logs the class it cannot load and goes on.
		return warning(fmt.Sprintf("%q ignored: zkgo has %s, %s and %s only", strings.TrimSpace(v), saslProviderClass, x509ProviderClass, ensembleProviderClass))
	}
	return nil
}

// validateAuth loads the JAAS file and checks the enforced schemes, as
// Apache does when the server starts (ServerCnxnFactory.configureSaslLogin,
// AuthenticationHelper).
func (p *parser) validateAuth(d disk) {
	c, f := p.c, p.file
	line := func(k string) int { return p.lines[k] }
	if c.SASL.Section == "" {
		c.SASL.Section = "Server"
	}
	var j sasl.JAAS // nil: no file, or it could not be read
	if c.SASL.JAASFile != "" && d != nil {
		const k = "java.security.auth.login.config"
		b, err := d.readFile(c.SASL.JAASFile)
		if err == nil {
			j, err = sasl.ParseJAAS(string(b))
			if err != nil {
				err = fmt.Errorf("%s: %w", c.SASL.JAASFile, err)
			}
		}
		if err != nil {
			p.errorf(f, line(k), k, "%v", err)
		} else if users, err := j.Users(c.SASL.Section); err != nil {
			p.errorf(f, line(k), k, "%s: %v", c.SASL.JAASFile, err)
		} else if users == nil && !c.QuorumSASL.Enabled {
			// Apache then runs without SASL logins, silently. (A file
			// for the members' logins alone need not have the section.)
			p.warnf(f, line(k), k, "%s has no %s section: clients cannot log in with SASL", c.SASL.JAASFile, c.SASL.Section)
		} else {
			c.SASL.Users = users
		}
	}
	p.validateQuorumSASL(d, j)
	if c.EnsembleAuthNames != nil && !c.EnsembleAuth {
		p.warnf(f, line("ensembleAuthName"), "ensembleAuthName", "has no effect without authProvider.N=%s", ensembleProviderClass)
	}
	if c.SessionRequireClientSASLAuth {
		// It overrides enforce.auth.*.
		c.EnforceAuth, c.EnforceAuthSchemes = true, []string{"sasl"}
	}
	if !c.EnforceAuth {
		c.EnforceAuthSchemes = nil
		return
	}
	k := "enforce.auth.enabled"
	if c.SessionRequireClientSASLAuth {
		k = "sessionRequireClientSASLAuth"
	}
	if len(c.EnforceAuthSchemes) == 0 {
		p.errorf(f, line(k), k, "is true, so enforce.auth.schemes must name at least one scheme")
	}
	for _, s := range c.EnforceAuthSchemes {
		ok := s == "digest" || s == "ip" || (s == "x509" && c.X509Enabled()) || (s == "sasl" && c.SASL.Provider)
		if !ok {
			p.errorf(f, line(k), k, "authentication scheme %q is not available (digest, ip, and x509 or sasl when their authProvider is configured)", s)
		}
	}
}

// validateQuorumSASL checks the quorum.auth.* keys as QuorumPeerConfig
// does and loads the JAAS sections of the members' logins, which Apache's
// QuorumPeer needs when it starts (SaslQuorumAuthServer and
// SaslQuorumAuthLearner refuse a missing section). j is the parsed JAAS
// file, nil when there is none or it did not parse (already reported).
func (p *parser) validateQuorumSASL(d disk, j sasl.JAAS) {
	q, f := &p.c.QuorumSASL, p.file
	line := func(k string) int { return p.lines[k] }
	if q.ServerSection == "" {
		q.ServerSection = "QuorumServer"
	}
	if q.LearnerSection == "" {
		q.LearnerSection = "QuorumLearner"
	}
	const enable = "quorum.auth.enableSasl"
	if !q.Enabled {
		for k, on := range map[string]bool{"quorum.auth.serverRequireSasl": q.ServerRequire, "quorum.auth.learnerRequireSasl": q.LearnerRequire} {
			if on {
				p.errorf(f, line(k), k, "%s is disabled, so cannot enable %s", enable, k)
			}
		}
		return
	}
	if q.ServerRequire && !q.LearnerRequire {
		// A member that refuses members that do not log in would not log
		// in itself, and could not join.
		const k = "quorum.auth.serverRequireSasl"
		p.errorf(f, line(k), k, "quorum.auth.learnerRequireSasl is disabled, so cannot enable %s", k)
	}
	if d == nil || len(p.c.Servers) == 0 {
		// A standalone server has no members to log in to (Apache runs
		// ZooKeeperServerMain then, which never reads the sections).
		return
	}
	if p.c.SASL.JAASFile == "" {
		p.errorf(f, line(enable), enable, "is true, so java.security.auth.login.config must name a JAAS file with the %s and %s sections", q.ServerSection, q.LearnerSection)
		return
	}
	if j == nil {
		return
	}
	missing := func(k, name string) {
		p.errorf(f, line(k), k, "%s has no %s section (quorum.auth.enableSasl is true)", p.c.SASL.JAASFile, name)
	}
	if users, err := j.Users(q.ServerSection); err != nil {
		p.errorf(f, line(enable), enable, "%s: %v", p.c.SASL.JAASFile, err)
	} else if users == nil {
		missing("quorum.auth.server.saslLoginContext", q.ServerSection)
	} else {
		q.Users = users
	}
	if user, pw, ok, err := j.Login(q.LearnerSection); err != nil {
		p.errorf(f, line(enable), enable, "%s: %v", p.c.SASL.JAASFile, err)
	} else if !ok {
		missing("quorum.auth.learner.saslLoginContext", q.LearnerSection)
	} else {
		q.User, q.Password = user, pw
	}
}
