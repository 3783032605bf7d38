package fourletter

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/server/config"
)

// telnetClose is the IAC sequence a telnet client sends when it closes
// (FourLetterCommands.telnetCloseCmd, 0xfff4fffd).
const telnetClose = "\xff\xf4\xff\xfd"

// Words lists the four-letter words Apache ZooKeeper 3.8 knows, in the
// order of its documentation.
var Words = config.FourLetterWords

// IsWord reports whether the first four bytes of a connection are a
// four-letter word Apache 3.8 knows (FourLetterCommands.isKnown),
// including the telnet close sequence. Anything else is a frame length.
func IsWord(first4 string) bool {
	if first4 == telnetClose {
		return true
	}
	return slices.Contains(Words, first4)
}

// DefaultTraceMask is what gtmk prints: Apache's initial ZooTrace text
// trace mask (306). zkgo has no trace masks; stmk is echoed, not applied.
const DefaultTraceMask = 306

// TraceMaskReply is the answer to stmk once the caller has read the
// 8-byte big-endian mask that follows the word: the mask in decimal, no
// newline (SetTraceMaskCommand).
func TraceMaskReply(mask int64) string { return strconv.FormatInt(mask, 10) }

// Run renders the four-letter word word (the first 4 bytes a client sent)
// from v, with Apache ZooKeeper 3.8's output, and reports whether word is
// a known four-letter word. When known is false the bytes are a frame
// length and the caller handles them as such (Apache does the same, also
// for the telnet close sequence when it is whitelisted). When known is
// true the caller writes out and closes the connection.
//
// whitelist holds the enabled words (config's FourLetterWhitelist); nil
// means v.Config().FourLetterWhitelist. A known word that is not in it
// gets "<word> is not executed because it is not in the whitelist.".
//
// stmk: Run returns ("", true) when it is enabled; the caller then reads
// the 8-byte mask that follows and writes TraceMaskReply(mask).
func Run(word string, v View, whitelist map[string]bool) (out string, known bool) {
	if !IsWord(word) {
		return "", false
	}
	name := word
	if word == telnetClose {
		name = "telnet close"
	}
	if whitelist == nil {
		if c := v.Config(); c != nil {
			whitelist = c.FourLetterWhitelist
		}
	}
	if !whitelist[name] && name != "srvr" { // srvr is always enabled (zkServer.sh)
		return name + " is not executed because it is not in the whitelist.\n", true
	}
	switch name {
	case "telnet close":
		return "", false // no command: Apache goes on to read it as a length
	case "ruok":
		return "imok", true
	case "envi":
		return envi(v), true
	case "gtmk":
		return strconv.Itoa(DefaultTraceMask), true
	case "stmk":
		return "", true
	case "isro":
		switch {
		case !v.Serving():
			return "null", true
		case v.Stats().Mode == "read-only":
			return "ro", true
		default:
			return "rw", true
		}
	}
	if !v.Serving() {
		if name == "hash" {
			return notServing, true // DigestCommand prints it without a newline
		}
		return notServing + "\n", true
	}
	switch name {
	case "srvr":
		return stat(v, false), true
	case "stat":
		return stat(v, true), true
	case "conf":
		st := v.Stats()
		return config.ConfText(v.Config(), st.DataDirSize, st.LogDirSize), true
	case "cons":
		return cons(v), true
	case "crst":
		v.ResetConnectionStats()
		return "Connection stats reset.\n", true
	case "srst":
		v.ResetStats()
		return "Server stats reset.\n", true
	case "dump":
		return dump(v), true
	case "dirs":
		st := v.Stats()
		return fmt.Sprintf("datadir_size: %d\nlogdir_size: %d\n", st.DataDirSize, st.LogDirSize), true
	case "wchs":
		return wchs(v.DataWatches()), true
	case "wchc":
		return wchc(v.DataWatches()), true
	case "wchp":
		return wchp(v.DataWatches()), true
	case "mntr":
		var b strings.Builder
		for _, kv := range Monitor(v) {
			b.WriteString("zk_" + kv.Key + "\t" + kv.Value + "\n")
		}
		return b.String(), true
	case "hash":
		// DigestCommand: one "<zxid hex>: <digest>" line per logged zxid.
		var b strings.Builder
		for _, d := range v.Digests() {
			fmt.Fprintf(&b, "%x: %d\n", d.Zxid, d.Digest)
		}
		return b.String(), true
	}
	return "", false
}

// stat renders srvr (full=false) or stat (StatCommand + ServerStats).
func stat(v View, full bool) string {
	st := v.Stats()
	conns := v.Connections()
	var b strings.Builder
	b.WriteString("Zookeeper version: " + st.Version + "\n")
	if st.Mode == "read-only" {
		b.WriteString("READ-ONLY mode; serving only read-only clients\n")
	}
	if full {
		b.WriteString("Clients:\n")
		for _, c := range conns {
			b.WriteString(connInfo(c, true) + "\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", st.LatencyMin, JavaDouble(st.LatencyAvg()), st.LatencyMax)
	fmt.Fprintf(&b, "Received: %d\n", st.PacketsReceived)
	fmt.Fprintf(&b, "Sent: %d\n", st.PacketsSent)
	fmt.Fprintf(&b, "Connections: %d\n", len(conns))
	fmt.Fprintf(&b, "Outstanding: %d\n", st.Outstanding)
	fmt.Fprintf(&b, "Zxid: 0x%x\n", st.LastZxid)
	fmt.Fprintf(&b, "Mode: %s\n", st.Mode)
	fmt.Fprintf(&b, "Node count: %d\n", st.NodeCount)
	if st.Mode == "leader" {
		if q := v.Quorum(); q != nil {
			fmt.Fprintf(&b, "Proposal sizes last/min/max: %d/%d/%d\n", q.ProposalLast, q.ProposalMin, q.ProposalMax)
		}
	}
	return b.String()
}

// JavaAddr renders "ip:port" as Java's InetSocketAddress.toString for a
// socket address without host name: "/ip:port".
func JavaAddr(remote string) string {
	if strings.HasPrefix(remote, "/") {
		return remote
	}
	return "/" + remote
}

// connInfo is ServerCnxn.dumpConnectionInfo.
func connInfo(c Conn, brief bool) string {
	var b strings.Builder
	ops := "0"
	if c.InterestOps != 0 {
		ops = strconv.FormatInt(int64(c.InterestOps), 16)
	}
	fmt.Fprintf(&b, " %s[%s](queued=%d,recved=%d,sent=%d", JavaAddr(c.Remote), ops, c.Outstanding, c.Received, c.Sent)
	if !brief && c.SessionID != 0 {
		lastOp := c.LastOp
		if lastOp == "" {
			lastOp = "NA"
		}
		fmt.Fprintf(&b, ",sid=0x%x,lop=%s,est=%d,to=%d", uint64(c.SessionID), lastOp, c.Established.UnixMilli(), c.SessionTimeout.Milliseconds())
		if c.LastCxid >= 0 {
			fmt.Fprintf(&b, ",lcxid=0x%x", c.LastCxid)
		}
		fmt.Fprintf(&b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			uint64(c.LastZxid), c.LastResponseMs, c.LastLatency, c.MinLatency, c.AvgLatency, c.MaxLatency)
	}
	b.WriteString(")")
	return b.String()
}

func cons(v View) string {
	var b strings.Builder
	for _, c := range v.Connections() {
		b.WriteString(connInfo(c, false) + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// JavaDate renders t as java.util.Date.toString does, in t's location:
// "Thu Nov 26 13:02:46 UTC 2026".
func JavaDate(t time.Time) string { return t.Format("Mon Jan 02 15:04:05 MST 2006") }

// sessionlessCnxnTimeout is Apache's zookeeper.nio.sessionlessCnxnTimeout
// default: the connection expiry queue's interval, and the timeout of a
// connection without a session.
const sessionlessCnxnTimeout = 10 * time.Second

// roundToNextInterval is ExpiryQueue.roundToNextInterval on unix ms.
func roundToNextInterval(t time.Time, interval time.Duration) time.Time {
	ms, iv := t.UnixMilli(), interval.Milliseconds()
	return time.UnixMilli((ms/iv + 1) * iv).In(t.Location())
}

type bucket struct {
	at    time.Time
	lines []string
}

// expiryDump is ExpiryQueue.dump after its prefix word: "Sets (n)/(m):"
// then per bucket "k expire at <date>:" and tab-indented elements.
func expiryDump(b *strings.Builder, buckets []bucket) {
	total := 0
	for _, bk := range buckets {
		total += len(bk.lines)
	}
	fmt.Fprintf(b, "Sets (%d)/(%d):\n", len(buckets), total)
	for _, bk := range buckets {
		fmt.Fprintf(b, "%d expire at %s:\n", len(bk.lines), JavaDate(bk.at))
		for _, l := range bk.lines {
			b.WriteString("\t" + l + "\n")
		}
	}
}

func groupBuckets(at []time.Time, lines []string) []bucket {
	idx := map[int64]int{}
	var out []bucket
	for i, t := range at {
		k := t.UnixMilli()
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, bucket{at: t})
		}
		out[j].lines = append(out[j].lines, lines[i])
	}
	slices.SortFunc(out, func(a, b bucket) int { return a.at.Compare(b.at) })
	return out
}

func dump(v View) string {
	var b strings.Builder
	b.WriteString("SessionTracker dump:\n")
	// With localSessionsEnabled, Leader- and LearnerSessionTracker dump
	// their local tracker first; otherwise every session is listed as
	// one (a read-only server's local ones too).
	localEnabled := v.Stats().LocalSessionsEnabled
	var global, local []Session
	for _, s := range v.Sessions() {
		if s.Local && localEnabled {
			local = append(local, s)
		} else {
			global = append(global, s)
		}
	}
	// SessionTrackerImpl.dumpSessions: "Session " and the expiry queue.
	sessionSets := func(sessions []Session) {
		b.WriteString("Session ")
		var at []time.Time
		var lines []string
		for _, s := range sessions {
			at = append(at, s.Expires)
			lines = append(lines, fmt.Sprintf("0x%x", uint64(s.ID)))
		}
		expiryDump(&b, groupBuckets(at, lines))
	}
	if localEnabled {
		b.WriteString("Local ")
		sessionSets(local)
	}
	switch {
	case learner(v):
		// LearnerSessionTracker.dumpSessions
		fmt.Fprintf(&b, "Global Sessions(%d):\n", len(global))
		for _, s := range global {
			fmt.Fprintf(&b, "0x%x\t%dms\n", uint64(s.ID), s.Timeout.Milliseconds())
		}
	case localEnabled:
		b.WriteString("Global ")
		sessionSets(global)
	default:
		sessionSets(global)
	}

	b.WriteString("ephemeral nodes dump:\n")
	eph := v.Ephemerals()
	fmt.Fprintf(&b, "Sessions with Ephemerals (%d):\n", len(eph))
	for _, id := range sortedIDs(eph) {
		fmt.Fprintf(&b, "0x%x:\n", uint64(id))
		for _, p := range eph[id] {
			b.WriteString("\t" + p + "\n")
		}
	}

	// NIOServerCnxnFactory.dumpConnections: connections bucketed by
	// their expiry (last activity + session timeout, 10 s intervals).
	b.WriteString("Connections dump:\n")
	b.WriteString("Connections ")
	var at []time.Time
	var lines []string
	for _, c := range v.Connections() {
		to := c.SessionTimeout
		if c.SessionID == 0 || to <= 0 {
			to = sessionlessCnxnTimeout
		}
		at = append(at, roundToNextInterval(c.LastActivity.Add(to), sessionlessCnxnTimeout))
		lines = append(lines, fmt.Sprintf("ip: %s sessionId: 0x%x", JavaAddr(c.Remote), uint64(c.SessionID)))
	}
	expiryDump(&b, groupBuckets(at, lines))
	return b.String()
}

func learner(v View) bool {
	m := v.Stats().Mode
	return m == "follower" || m == "observer"
}

func sortedIDs[V any](m map[int64]V) []int64 {
	ids := slices.Collect(maps.Keys(m))
	slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(uint64(a), uint64(b)) })
	return ids
}

// watchIndex groups a watch table by session and by path, keeping the
// order of first appearance in the table (Apache's order is a hash map's;
// the server chooses ours).
type watchIndex struct {
	sessions  []int64
	bySession map[int64][]string
	paths     []string
	byPath    map[string][]int64
}

func indexWatches(ws []Watch) watchIndex {
	x := watchIndex{bySession: map[int64][]string{}, byPath: map[string][]int64{}}
	for _, w := range ws {
		ps, ok := x.bySession[w.SessionID]
		if !ok {
			x.sessions = append(x.sessions, w.SessionID)
		}
		if !slices.Contains(ps, w.Path) {
			x.bySession[w.SessionID] = append(ps, w.Path)
		}
		ids, ok := x.byPath[w.Path]
		if !ok {
			x.paths = append(x.paths, w.Path)
		}
		if !slices.Contains(ids, w.SessionID) {
			x.byPath[w.Path] = append(ids, w.SessionID)
		}
	}
	return x
}

// WatchSummary is wchs's numbers: connections (sessions) watching, paths
// watched, total watches.
func WatchSummary(ws []Watch) (conns, paths, total int) {
	x := indexWatches(ws)
	for _, ps := range x.bySession {
		total += len(ps)
	}
	return len(x.sessions), len(x.paths), total
}

func wchs(ws []Watch) string {
	c, p, t := WatchSummary(ws)
	return fmt.Sprintf("%d connections watching %d paths\nTotal watches:%d\n", c, p, t)
}

func wchc(ws []Watch) string {
	var b strings.Builder
	x := indexWatches(ws)
	for _, id := range x.sessions {
		fmt.Fprintf(&b, "0x%x\n", uint64(id))
		for _, p := range x.bySession[id] {
			b.WriteString("\t" + p + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

func wchp(ws []Watch) string {
	var b strings.Builder
	x := indexWatches(ws)
	for _, p := range x.paths {
		b.WriteString(p + "\n")
		for _, id := range x.byPath[p] {
			fmt.Fprintf(&b, "\t0x%x\n", uint64(id))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// WatchesBySession groups a watch table by session (for the AdminServer's
// watches command): session ids in order of first appearance, and each
// session's paths.
func WatchesBySession(ws []Watch) ([]int64, map[int64][]string) {
	x := indexWatches(ws)
	return x.sessions, x.bySession
}

// WatchesByPath groups a watch table by path (watches_by_path).
func WatchesByPath(ws []Watch) ([]string, map[string][]int64) {
	x := indexWatches(ws)
	return x.paths, x.byPath
}

func envi(v View) string {
	var b strings.Builder
	b.WriteString("Environment:\n")
	for _, kv := range v.Environment() {
		b.WriteString(kv.Key + "=" + kv.Value + "\n")
	}
	return b.String()
}
