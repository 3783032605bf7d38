package sasl

import (
	"fmt"
	"os"
	"strings"
)

// LoginModule is one entry of a JAAS section: the module's class, its
// flag and its options.
type LoginModule struct {
	Class   string
	Flag    string
	Options map[string]string
}

// JAAS is a parsed JAAS login configuration file: its sections by name.
type JAAS map[string][]LoginModule

// The login modules a ZooKeeper server's section may name.
const (
	DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	krb5LoginModule   = "com.sun.security.auth.module.Krb5LoginModule"
)

// ReadJAAS reads and parses a JAAS login configuration file.
func ReadJAAS(path string) (JAAS, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j, err := ParseJAAS(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

// ParseJAAS parses the JAAS login configuration syntax Java's ConfigFile
// reads:
//
//	Server {
//	    org.apache.zookeeper.server.auth.DigestLoginModule required
//	    user_super="adminsecret"
//	    user_bob="bobsecret";
//	};
//
// with // and /* */ comments and values quoted or bare.
func ParseJAAS(src string) (JAAS, error) {
	t := &jaasLexer{src: src, line: 1}
	j := JAAS{}
	for {
		name, err := t.next()
		if err != nil {
			return nil, err
		}
		if name == "" {
			return j, nil
		}
		if err := t.expect("{"); err != nil {
			return nil, err
		}
		if _, dup := j[name]; dup {
			return nil, fmt.Errorf("line %d: section %s given twice", t.line, name)
		}
		var mods []LoginModule
		for {
			class, err := t.next()
			if err != nil {
				return nil, err
			}
			if class == "}" {
				break
			}
			if class == "" || class == ";" || class == "=" {
				return nil, fmt.Errorf("line %d: expected a login module class in section %s", t.line, name)
			}
			flag, err := t.next()
			if err != nil {
				return nil, err
			}
			switch strings.ToLower(flag) {
			case "required", "requisite", "sufficient", "optional":
			default:
				return nil, fmt.Errorf("line %d: login module %s: flag %q is not required, requisite, sufficient or optional", t.line, class, flag)
			}
			m := LoginModule{Class: class, Flag: strings.ToLower(flag), Options: map[string]string{}}
			for {
				key, err := t.next()
				if err != nil {
					return nil, err
				}
				if key == ";" {
					break
				}
				if key == "" || key == "}" || key == "=" {
					return nil, fmt.Errorf("line %d: login module %s: expected an option or ';'", t.line, class)
				}
				if err := t.expect("="); err != nil {
					return nil, err
				}
				val, err := t.value()
				if err != nil {
					return nil, err
				}
				m.Options[key] = val
			}
			mods = append(mods, m)
		}
		if err := t.expect(";"); err != nil {
			return nil, err
		}
		j[name] = mods
	}
}

// Users returns the DIGEST-MD5 users of a server section: its modules'
// user_<name>="<password>" options, as Apache's SaslServerCallbackHandler
// collects them. A Kerberos module is refused: zkgo has no GSSAPI.
func (j JAAS) Users(section string) (map[string]string, error) {
	mods, ok := j[section]
	if !ok {
		return nil, nil
	}
	users := map[string]string{}
	for _, m := range mods {
		if m.Class == krb5LoginModule {
			return nil, fmt.Errorf("section %s: %s: Kerberos (GSSAPI) is not supported, only DIGEST-MD5", section, m.Class)
		}
		for k, v := range m.Options {
			if u, ok := strings.CutPrefix(k, "user_"); ok {
				users[u] = v
			}
		}
	}
	return users, nil
}

// Login returns the user name and password a client section gives its
// DIGEST-MD5 login: the username and password options of its first
// module that has a username (Java's client and QuorumLearner read them
// so). ok is false when the section is missing or names no user.
func (j JAAS) Login(section string) (user, password string, ok bool, err error) {
	for _, m := range j[section] {
		if m.Class == krb5LoginModule {
			return "", "", false, fmt.Errorf("section %s: %s: Kerberos (GSSAPI) is not supported, only DIGEST-MD5", section, m.Class)
		}
		if u, has := m.Options["username"]; has {
			return u, m.Options["password"], true, nil
		}
	}
	return "", "", false, nil
}

type jaasLexer struct {
	src  string
	pos  int
	line int
	// quoted tells whether the last token was a quoted string.
	quoted bool
}

func (t *jaasLexer) skip() error {
	for t.pos < len(t.src) {
		switch c := t.src[t.pos]; {
		case c == '\n':
			t.line++
			t.pos++
		case c == ' ' || c == '\t' || c == '\r':
			t.pos++
		case strings.HasPrefix(t.src[t.pos:], "//"):
			for t.pos < len(t.src) && t.src[t.pos] != '\n' {
				t.pos++
			}
		case strings.HasPrefix(t.src[t.pos:], "/*"):
			end := strings.Index(t.src[t.pos+2:], "*/")
			if end < 0 {
				return fmt.Errorf("line %d: unterminated comment", t.line)
			}
			t.line += strings.Count(t.src[t.pos:t.pos+2+end], "\n")
			t.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

// next returns the next token: a punctuation mark ({ } ; =), a word, or
// a quoted string's contents; "" at the end.
func (t *jaasLexer) next() (string, error) {
	t.quoted = false
	if err := t.skip(); err != nil {
		return "", err
	}
	if t.pos == len(t.src) {
		return "", nil
	}
	switch c := t.src[t.pos]; c {
	case '{', '}', ';', '=':
		t.pos++
		return string(c), nil
	case '"', '\'':
		var b strings.Builder
		i := t.pos + 1
		for ; i < len(t.src) && t.src[i] != c; i++ {
			if t.src[i] == '\\' && i+1 < len(t.src) {
				i++
			}
			if t.src[i] == '\n' {
				t.line++
			}
			b.WriteByte(t.src[i])
		}
		if i == len(t.src) {
			return "", fmt.Errorf("line %d: unterminated quoted string", t.line)
		}
		t.pos = i + 1
		t.quoted = true
		return b.String(), nil
	}
	start := t.pos
	for t.pos < len(t.src) && !strings.ContainsRune(" \t\r\n{};=\"'", rune(t.src[t.pos])) &&
		!strings.HasPrefix(t.src[t.pos:], "//") && !strings.HasPrefix(t.src[t.pos:], "/*") {
		t.pos++
	}
	return t.src[start:t.pos], nil
}

func (t *jaasLexer) expect(want string) error {
	got, err := t.next()
	if err != nil {
		return err
	}
	if got != want || t.quoted {
		if got == "" {
			return fmt.Errorf("line %d: expected %q, found the end of the file", t.line, want)
		}
		return fmt.Errorf("line %d: expected %q, found %q", t.line, want, got)
	}
	return nil
}

// value reads an option's value: a quoted string or a bare word.
func (t *jaasLexer) value() (string, error) {
	v, err := t.next()
	if err != nil {
		return "", err
	}
	if !t.quoted && (v == "" || v == ";" || v == "{" || v == "}" || v == "=") {
		return "", fmt.Errorf("line %d: expected an option value", t.line)
	}
	return v, nil
}
