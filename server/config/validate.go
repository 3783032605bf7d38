package config

import (
	"cmp"
	"net"
	"path/filepath"
	"slices"
	"strings"
)

// validate checks the whole configuration, as QuorumPeerConfig does after
// parsing (and a little more: zkgo fails early where Apache would fail at
// start-up).
func (p *parser) validate(onDisk bool) {
	c, f := p.c, p.file
	line := func(k string) int { return p.lines[k] }

	if c.DataDir == "" {
		p.errorf(f, 0, "dataDir", "is not set")
	}
	if c.AutopurgeSnapRetainCount < DefaultSnapRetainCount {
		p.warnf(f, line("autopurge.snapRetainCount"), "autopurge.snapRetainCount",
			"%d is less than %d; using %d", c.AutopurgeSnapRetainCount, DefaultSnapRetainCount, DefaultSnapRetainCount)
		c.AutopurgeSnapRetainCount = DefaultSnapRetainCount
	}
	if c.AutopurgePurgeInterval < 0 {
		p.errorf(f, line("autopurge.purgeInterval"), "autopurge.purgeInterval", "must be >= 0, got %d", c.AutopurgePurgeInterval)
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		k := "minSessionTimeout"
		if line(k) == 0 {
			k = "maxSessionTimeout"
		}
		p.errorf(f, line(k), k, "minSessionTimeout must not be larger than maxSessionTimeout (%d > %d)",
			c.MinSessionTimeout.Milliseconds(), c.MaxSessionTimeout.Milliseconds())
	}
	for _, k := range []string{"clientPortAddress", "admin.serverAddress", "metricsProvider.httpHost", "secureClientPortAddress"} {
		if l := line(k); l > 0 {
			if v := p.value(k); v != "" && !validHost(v) {
				p.errorf(f, l, k, "%q is not a valid host name or IP address", v)
			}
		}
	}
	if c.SecureClientPortAddress != "" && c.SecureClientPort == 0 {
		p.errorf(f, line("secureClientPortAddress"), "secureClientPortAddress", "is set but secureClientPort is not set")
	}
	p.validateTLS()

	// Membership (QuorumPeerConfig.parseDynamicConfig, setupClientPort,
	// setupPeerType, checkValidity).
	voters, observers := 0, 0
	for _, s := range c.Servers {
		if s.Observer {
			observers++
		} else {
			voters++
		}
	}
	switch {
	case voters == 0 && observers > 0:
		p.errorf(f, 0, "server", "observers without participants is an invalid configuration")
	case voters == 0 && !c.StandaloneEnabled:
		p.errorf(f, line("standaloneEnabled"), "standaloneEnabled", "is false, so at least one participant server.N is needed")
	case voters == 1 && c.StandaloneEnabled:
		if observers > 0 {
			p.errorf(f, 0, "server", "observers without a quorum is an invalid configuration")
		} else {
			p.warnf(f, 0, "server", "only one server specified; running standalone (ignoring server.N)")
		}
	}
	staticClientPortLine := line("clientPort")
	if c.MyID != 0 || onDisk {
		self, ok := c.Self()
		if ok && self.ClientPort != 0 {
			if c.ClientPort != 0 && (c.ClientPort != self.ClientPort ||
				(c.ClientPortAddress != "" && !isAnyAddr(c.ClientPortAddress) && self.ClientAddress != "" && c.ClientPortAddress != self.ClientAddress)) {
				p.errorf(f, staticClientPortLine, "clientPort",
					"client address %s in the static config differs from server.%d's client address %s",
					joinHostPort(c.ClientPortAddress, c.ClientPort), c.MyID, joinHostPort(self.ClientAddress, self.ClientPort))
			}
			c.ClientPort = self.ClientPort
			if self.ClientAddress != "" {
				c.ClientPortAddress = self.ClientAddress
			}
		}
		if ok {
			want := "participant"
			if self.Observer {
				want = "observer"
			}
			if c.PeerType != want {
				if line("peerType") > 0 {
					p.warnf(f, line("peerType"), "peerType", "%s does not match server.%d (%s); using the server list", c.PeerType, c.MyID, want)
				}
				c.PeerType = want
			}
		}
	}
	if c.ClientPort == 0 {
		if line("clientPortAddress") > 0 {
			p.errorf(f, line("clientPortAddress"), "clientPortAddress", "is set but clientPort is not set")
		} else if c.SecureClientPort == 0 && !(c.Distributed() && (!onDisk || p.myidBad)) {
			// (without the disk we cannot know myid, hence server.<myid>'s port)
			p.errorf(f, 0, "clientPort", "is not set (nor a client port in server.<myid>)")
		}
	}
	if c.Distributed() {
		if c.InitLimit == 0 {
			p.errorf(f, 0, "initLimit", "is not set (required with server.N lines)")
		}
		if c.SyncLimit == 0 {
			p.errorf(f, 0, "syncLimit", "is not set (required with server.N lines)")
		}
		if onDisk && c.MyID == 0 && c.DataDir != "" && !p.myidBad {
			p.errorf(filepath.Join(c.DataDir, "myid"), 0, "myid", "file is missing (required with server.N lines)")
		} else if c.MyID != 0 {
			if _, ok := c.Self(); !ok {
				p.errorf(filepath.Join(c.DataDir, "myid"), 1, "myid", "%d is not one of the server.N ids %v", c.MyID, serverIDs(c.Servers))
			}
		}
		if c.ConnectToLearnerMasterLimit == 0 {
			c.ConnectToLearnerMasterLimit = c.InitLimit
		}
	}
	if c.ExtendedTypesEnabled && c.MyID > 254 {
		p.errorf(filepath.Join(c.DataDir, "myid"), 1, "myid",
			"extendedTypesEnabled is true but server id %d is too large; it cannot be larger than 254", c.MyID)
	}
}

func (p *parser) value(k string) string {
	switch k {
	case "clientPortAddress":
		return p.c.ClientPortAddress
	case "admin.serverAddress":
		return p.c.AdminServerAddress
	case "metricsProvider.httpHost":
		return p.c.MetricsHTTPHost
	case "secureClientPortAddress":
		return p.c.SecureClientPortAddress
	}
	return ""
}

func serverIDs(ss []Server) []int64 {
	ids := make([]int64, 0, len(ss))
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func validHost(h string) bool {
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

func isAnyAddr(h string) bool {
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsUnspecified()
}

// sortErrors orders errors by file (in order of first appearance), then
// line, problems without a line last; ties keep their order.
func sortErrors(errs []error) {
	rank := map[string]int{}
	for _, e := range errs {
		if ce, ok := e.(*Error); ok {
			if _, seen := rank[ce.File]; !seen {
				rank[ce.File] = len(rank)
			}
		}
	}
	lineKey := func(l int) int {
		if l == 0 {
			return int(^uint(0) >> 1)
		}
		return l
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		ea, _ := a.(*Error)
		eb, _ := b.(*Error)
		if ea == nil || eb == nil {
			return 0
		}
		if c := cmp.Compare(rank[ea.File], rank[eb.File]); c != 0 {
			return c
		}
		return cmp.Compare(lineKey(ea.Line), lineKey(eb.Line))
	})
}
