package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Parse reads the zoo.cfg at path, then, as Apache's QuorumPeerConfig
// does, dataDir/myid when that file exists and the dynamic configuration
// file when dynamicConfigFile is set (a relative dynamic path that does not
// exist from the working directory is looked up next to zoo.cfg). The
// result has every default filled in. The error lists every problem found,
// one "file:line: key: reason" per line.
func Parse(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, b, osDisk{dir: filepath.Dir(path)})
}

// ParseBytes parses zoo.cfg content; name is used in messages and as
// Config.Path. It reads nothing from disk: no myid, no dynamic file, so
// the checks that need them (myid present in ensemble mode) are skipped.
func ParseBytes(name string, b []byte) (*Config, error) {
	return parse(name, b, nil)
}

// disk is what parsing reads besides zoo.cfg itself.
type disk interface {
	readFile(path string) ([]byte, error)
	resolve(path string) string
}

type osDisk struct{ dir string }

func (osDisk) readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func (d osDisk) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if alt := filepath.Join(d.dir, p); fileExists(alt) {
		return alt
	}
	return p
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

type parser struct {
	file  string
	c     *Config
	errs  []error
	lines map[string]int // canonical key -> line it was set on
	// myidBad: the myid file exists but could not be used (already
	// reported); checks that depend on myid are skipped.
	myidBad bool
}

func (p *parser) errorf(file string, line int, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(file string, line int, key, format string, args ...any) {
	e := &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	p.c.Warnings = append(p.c.Warnings, e.Error())
}

func parse(name string, b []byte, d disk) (*Config, error) {
	c := defaults()
	c.Path = name
	c.InitialConfig = string(b)
	p := &parser{file: name, c: c, lines: map[string]int{}}
	props := parseProperties(b)

	dynamic := false
	for _, pr := range props {
		if pr.key == "dynamicConfigFile" || pr.key == "dynamicConfigFilename" {
			dynamic = true
		}
	}
	var members []property
	for _, pr := range props {
		key, v := pr.key, pr.value
		if isMembershipKey(key) || key == "version" {
			if dynamic {
				p.errorf(name, pr.line, key, "must be in the separate dynamic config file (dynamicConfigFile is set)")
				continue
			}
			members = append(members, pr)
			continue
		}
		if key == "dynamicConfigFilename" { // zkgo alias of Apache's key
			key = "dynamicConfigFile"
		}
		canon, set, ok := lookupKey(key)
		if !ok {
			c.Extra[key] = v
			if why, ok := ignoredReason(key); ok {
				p.warnf(name, pr.line, key, "ignored: %s", why)
			} else {
				p.warnf(name, pr.line, key, "unknown key, ignored")
			}
			continue
		}
		if prev, ok := p.lines[canon]; ok {
			p.warnf(name, pr.line, key, "also set on line %d; the last value wins", prev)
		}
		p.lines[canon] = pr.line
		if err := set(c, v); err != nil {
			var w warning
			if errors.As(err, &w) {
				p.warnf(name, pr.line, key, "%s", w)
			} else {
				p.errorf(name, pr.line, key, "%v", err)
			}
		}
	}
	p.membership(name, members, false)

	if d != nil {
		p.readMyID(d)
		if c.DynamicConfigFile != "" {
			p.readDynamic(d)
		}
	}
	c.finish()
	p.validateAuth(d)
	p.validate(d != nil)
	sortErrors(p.errs)
	if len(p.errs) > 0 {
		return c, errors.Join(p.errs...)
	}
	return c, nil
}

func isMembershipKey(k string) bool {
	return strings.HasPrefix(k, "server.") || strings.HasPrefix(k, "group") || strings.HasPrefix(k, "weight")
}

// membership parses server.N, group.N, weight.N and version entries.
func (p *parser) membership(file string, props []property, dynamicFile bool) {
	c := p.c
	seen := map[int64]int{}
	for _, pr := range props {
		switch {
		case strings.HasPrefix(pr.key, "server."):
			idStr := strings.TrimPrefix(pr.key, "server.")
			id, err := strconv.ParseInt(idStr, 10, 64)
			if err != nil || id < 0 {
				p.errorf(file, pr.line, pr.key, "server id %q is not a non-negative integer", idStr)
				continue
			}
			if prev, ok := seen[id]; ok {
				p.errorf(file, pr.line, pr.key, "server %d is already defined on line %d", id, prev)
				continue
			}
			seen[id] = pr.line
			s, err := ParseServer(id, pr.value, c.MultiAddressEnabled)
			if err != nil {
				p.errorf(file, pr.line, pr.key, "%v", err)
				continue
			}
			c.Servers = append(c.Servers, s)
			p.lines["server."+idStr] = pr.line
		case strings.HasPrefix(pr.key, "group.") || strings.HasPrefix(pr.key, "group"):
			gid, err := strconv.ParseInt(strings.TrimPrefix(pr.key, "group."), 10, 64)
			if err != nil {
				p.errorf(file, pr.line, pr.key, "group id is not an integer")
				continue
			}
			var ids []int64
			for _, s := range strings.Split(pr.value, ":") {
				id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					p.errorf(file, pr.line, pr.key, "server id %q is not an integer", s)
					continue
				}
				ids = append(ids, id)
			}
			if c.Groups == nil {
				c.Groups = map[int64][]int64{}
			}
			c.Groups[gid] = ids
		case strings.HasPrefix(pr.key, "weight"):
			sid, err := strconv.ParseInt(strings.TrimPrefix(pr.key, "weight."), 10, 64)
			if err != nil {
				p.errorf(file, pr.line, pr.key, "server id is not an integer")
				continue
			}
			w, err := strconv.ParseInt(pr.value, 10, 64)
			if err != nil || w < 0 {
				p.errorf(file, pr.line, pr.key, "weight %q is not a non-negative integer", pr.value)
				continue
			}
			if c.Weights == nil {
				c.Weights = map[int64]int64{}
			}
			c.Weights[sid] = w
		case pr.key == "version":
			if dynamicFile {
				p.errorf(file, pr.line, pr.key, "the dynamic file must not contain a version (it comes from the file name)")
				continue
			}
			v, err := strconv.ParseUint(pr.value, 16, 64)
			if err != nil {
				p.errorf(file, pr.line, pr.key, "%q is not a hex number", pr.value)
				continue
			}
			c.ConfigVersion = int64(v)
		}
	}
	if len(c.Groups) > 0 || len(c.Weights) > 0 {
		p.c.Warnings = append(p.c.Warnings, (&Error{File: file, Key: "group", Msg: "hierarchical quorums are parsed but zkgo uses majority quorums"}).Error())
	}
}

const wrongFormat = "does not have the form host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]"

// ParseServer parses the value of a server.N line as Apache 3.8's
// QuorumServer does:
// host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort],
// IPv6 hosts in brackets.
func ParseServer(id int64, v string, multiAddress bool) (Server, error) {
	s := Server{ID: id}
	parts := strings.Split(v, ";")
	if len(parts) > 2 {
		return s, fmt.Errorf("%q %s", v, wrongFormat)
	}
	if len(parts) == 2 {
		cp, err := hostAndPort(strings.TrimSpace(parts[1]))
		if err != nil {
			return s, err
		}
		if len(cp) > 2 || len(cp) == 0 {
			return s, fmt.Errorf("%q %s", v, wrongFormat)
		}
		if len(cp) == 2 {
			s.ClientAddress = cp[0]
		}
		n, err := portNumber(cp[len(cp)-1])
		if err != nil {
			return s, fmt.Errorf("client port: %w", err)
		}
		s.ClientPort = n
	}
	addrs := strings.Split(parts[0], "|")
	if len(addrs) > 1 {
		if !multiAddress {
			return s, fmt.Errorf("multiple addresses for server %d, but multiAddress.enabled is false", id)
		}
		return s, fmt.Errorf("multiple addresses for server %d: not supported by zkgo", id)
	}
	sp, err := hostAndPort(strings.TrimSpace(addrs[0]))
	if err != nil {
		return s, err
	}
	if len(sp) < 3 || len(sp) > 4 {
		return s, fmt.Errorf("%q %s", v, wrongFormat)
	}
	s.Host = sp[0]
	if s.Host == "" {
		return s, fmt.Errorf("%q: empty host", v)
	}
	if s.QuorumPort, err = portNumber(sp[1]); err != nil {
		return s, fmt.Errorf("quorum port: %w", err)
	}
	if s.ElectionPort, err = portNumber(sp[2]); err != nil {
		return s, fmt.Errorf("election port: %w", err)
	}
	if s.QuorumPort == s.ElectionPort {
		return s, fmt.Errorf("quorum port and election port must be different (both %d)", s.QuorumPort)
	}
	if len(sp) == 4 {
		switch strings.ToLower(strings.TrimSpace(sp[3])) {
		case "observer":
			s.Observer = true
		case "participant":
		default:
			return s, fmt.Errorf("unrecognised peer type %q: participant or observer", sp[3])
		}
	}
	return s, nil
}

// hostAndPort splits like Apache's ConfigUtils.getHostAndPort: "[v6]:a:b"
// keeps the bracketed host whole, otherwise split on ':'.
func hostAndPort(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		i := strings.Index(s, "]")
		if i < 0 {
			return nil, fmt.Errorf("%q starts with '[' but has no matching ']:'", s)
		}
		if i+2 == len(s) {
			return nil, fmt.Errorf("%q doesn't have a port after colon", s)
		}
		if i+2 < len(s) {
			if s[i+1] != ':' {
				return nil, fmt.Errorf("%q: expected ':' after ']'", s)
			}
			return append([]string{s[1:i]}, strings.Split(s[i+2:], ":")...), nil
		}
		return []string{s[1:i]}, nil
	}
	return strings.Split(s, ":"), nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d out of range 1-65535", n)
	}
	return n, nil
}

// readMyID reads dataDir/myid when it exists (a standalone server needs
// none), as QuorumPeerConfig.setupMyId.
func (p *parser) readMyID(d disk) {
	if p.c.DataDir == "" {
		return
	}
	path := filepath.Join(p.c.DataDir, "myid")
	b, err := d.readFile(path)
	if err != nil {
		// No file (or a dataDir that is not a directory, which the server
		// reports when it opens it) means no myid.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			p.errorf(path, 0, "", "%v", err)
			p.myidBad = true
		}
		return
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	id, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		p.errorf(path, 1, "myid", "%q is not a number", line)
		p.myidBad = true
		return
	}
	if id < 0 {
		p.errorf(path, 1, "myid", "%d must not be negative", id)
		p.myidBad = true
		return
	}
	p.c.MyID = id
	p.lines["myid"] = 1
}

// readDynamic reads the 3.5+ dynamic file: only server.N, group.N and
// weight.N; the version comes from the file name suffix
// ("zoo.cfg.dynamic.100000000").
func (p *parser) readDynamic(d disk) {
	path := d.resolve(p.c.DynamicConfigFile)
	b, err := d.readFile(path)
	if err != nil {
		p.errorf(p.file, p.lines["dynamicConfigFile"], "dynamicConfigFile", "%v", err)
		return
	}
	var members []property
	for _, pr := range parseProperties(b) {
		if isMembershipKey(pr.key) || pr.key == "version" {
			members = append(members, pr)
			continue
		}
		p.errorf(path, pr.line, pr.key, "not allowed in a dynamic config file (only server.N, group.N, weight.N)")
	}
	p.membership(path, members, true)
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		if v, err := strconv.ParseUint(path[i+1:], 16, 64); err == nil {
			p.c.ConfigVersion = int64(v)
		}
	}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
