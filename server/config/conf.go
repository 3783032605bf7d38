package config

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ConfText renders the output of the `conf` four-letter word for c, as
// Apache 3.8's ZooKeeperServer.dumpConf (and QuorumZooKeeperServer.dumpConf
// in ensemble mode) prints it. dataDirSize and dataLogSize are the byte
// sizes of the data and log directories, measured by the caller.
//
// One difference: Apache prints its snapshot directory, dataDir/version-2;
// zkgo prints dataDir (and dataLogDir) as absolute paths.
func ConfText(c *Config, dataDirSize, dataLogSize int64) string {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	kv("clientPort", c.ClientPort)
	secure := -1
	if c.SecureClientPort != 0 {
		secure = c.SecureClientPort
	}
	kv("secureClientPort", secure)
	kv("dataDir", absPath(c.DataDir))
	kv("dataDirSize", dataDirSize)
	kv("dataLogDir", absPath(c.DataLogDir))
	kv("dataLogSize", dataLogSize)
	kv("tickTime", c.TickTime.Milliseconds())
	kv("maxClientCnxns", c.MaxClientCnxns)
	kv("minSessionTimeout", c.MinSessionTimeout.Milliseconds())
	kv("maxSessionTimeout", c.MaxSessionTimeout.Milliseconds())
	kv("clientPortListenBacklog", c.ClientPortListenBacklog)
	kv("serverId", c.MyID)
	if !c.Distributed() {
		return b.String()
	}
	self, _ := c.Self()
	kv("initLimit", c.InitLimit)
	kv("syncLimit", c.SyncLimit)
	kv("electionAlg", c.ElectionAlg)
	kv("electionPort", self.ElectionPort)
	kv("quorumPort", self.QuorumPort)
	peerType := 0 // LearnerType.PARTICIPANT.ordinal()
	if c.PeerType == "observer" {
		peerType = 1
	}
	kv("peerType", peerType)
	b.WriteString("membership: \n")
	b.WriteString(MembershipText(c)) // Apache prints it without a final newline
	return b.String()
}

// MembershipText renders the membership as Apache's QuorumMaj.toString
// (the text of /zookeeper/config and of conf's "membership:"):
// "server.N=host:quorumPort:electionPort:participant;clientAddr:clientPort"
// lines in id order, then "version=<hex>" without a trailing newline.
func MembershipText(c *Config) string {
	return ServerLines(c.Servers) + "version=" + strconv.FormatInt(c.ConfigVersion, 16)
}

// ServerLines renders servers as "server.N=..." lines in id order, each
// ending in a newline (the members part of MembershipText, and of a
// reconfig txn).
func ServerLines(servers []Server) string {
	var b strings.Builder
	for _, s := range sortedServers(servers) {
		b.WriteString("server." + strconv.FormatInt(s.ID, 10) + "=" + s.String() + "\n")
	}
	return b.String()
}

// String renders a server line value as Apache's QuorumServer.toString:
// host:quorumPort:electionPort:participant|observer[;clientAddr:clientPort].
// A client port given without an address prints as 0.0.0.0:port.
func (s Server) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d", bracketHost(s.Host), s.QuorumPort, s.ElectionPort)
	if s.Observer {
		b.WriteString(":observer")
	} else {
		b.WriteString(":participant")
	}
	if s.ClientPort != 0 {
		host := s.ClientAddress
		if host == "" {
			host = "0.0.0.0"
		}
		fmt.Fprintf(&b, ";%s:%d", bracketHost(host), s.ClientPort)
	}
	return b.String()
}

func bracketHost(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

func sortedServers(ss []Server) []Server {
	out := slices.Clone(ss)
	slices.SortFunc(out, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func absPath(p string) string {
	if p == "" {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
