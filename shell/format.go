package shell

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
	yaml "go.yaml.in/yaml/v3"

	"github.com/zkgo/zkgo/server/wire"
)

// Output formats of -o.
const (
	FormatText = "text"
	FormatJSON = "json"
	FormatYAML = "yaml"
)

// ValidFormat reports whether f is a known -o value.
func ValidFormat(f string) bool {
	return f == FormatText || f == FormatJSON || f == FormatYAML
}

// javaDate formats ms since the epoch as java.util.Date.toString() does,
// in zone loc: "Thu Nov 26 13:01:55 UTC 2026".
func javaDate(ms int64, loc *time.Location) string {
	return time.UnixMilli(ms).In(loc).Format("Mon Jan 02 15:04:05 MST 2006")
}

// writeStatText prints the Stat block of zkCli.sh 3.8 (StatPrinter), its
// times in the local zone.
func writeStatText(w io.Writer, st *zk.Stat) { writeStatTextIn(w, st, time.Local) }

func writeStatTextIn(w io.Writer, st *zk.Stat, loc *time.Location) {
	fmt.Fprintf(w, "cZxid = 0x%x\n", st.Czxid)
	fmt.Fprintf(w, "ctime = %s\n", javaDate(st.Ctime, loc))
	fmt.Fprintf(w, "mZxid = 0x%x\n", st.Mzxid)
	fmt.Fprintf(w, "mtime = %s\n", javaDate(st.Mtime, loc))
	fmt.Fprintf(w, "pZxid = 0x%x\n", st.Pzxid)
	fmt.Fprintf(w, "cversion = %d\n", st.Cversion)
	fmt.Fprintf(w, "dataVersion = %d\n", st.Version)
	fmt.Fprintf(w, "aclVersion = %d\n", st.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = 0x%x\n", st.EphemeralOwner)
	fmt.Fprintf(w, "dataLength = %d\n", st.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", st.NumChildren)
}

// StatJSON is the Stat under its jute field names; times in ms since epoch.
type StatJSON struct {
	Czxid          int64 `json:"czxid" yaml:"czxid"`
	Mzxid          int64 `json:"mzxid" yaml:"mzxid"`
	Ctime          int64 `json:"ctime" yaml:"ctime"`
	Mtime          int64 `json:"mtime" yaml:"mtime"`
	Version        int32 `json:"version" yaml:"version"`
	Cversion       int32 `json:"cversion" yaml:"cversion"`
	Aversion       int32 `json:"aversion" yaml:"aversion"`
	EphemeralOwner int64 `json:"ephemeralOwner" yaml:"ephemeralOwner"`
	DataLength     int32 `json:"dataLength" yaml:"dataLength"`
	NumChildren    int32 `json:"numChildren" yaml:"numChildren"`
	Pzxid          int64 `json:"pzxid" yaml:"pzxid"`
}

func statJSON(st *zk.Stat) *StatJSON {
	if st == nil {
		return nil
	}
	return &StatJSON{
		Czxid: st.Czxid, Mzxid: st.Mzxid, Ctime: st.Ctime, Mtime: st.Mtime,
		Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion,
		EphemeralOwner: st.EphemeralOwner, DataLength: st.DataLength,
		NumChildren: st.NumChildren, Pzxid: st.Pzxid,
	}
}

// NodeJSON is the output of get: data as UTF-8 text, or base64 with
// Encoding "base64" when it is not valid UTF-8 (or --base64 was given);
// Data is null for a znode without data.
type NodeJSON struct {
	Path     string    `json:"path" yaml:"path"`
	Data     *string   `json:"data" yaml:"data"`
	Encoding string    `json:"encoding,omitempty" yaml:"encoding,omitempty"`
	Stat     *StatJSON `json:"stat,omitempty" yaml:"stat,omitempty"`
}

func encodeData(data []byte, forceBase64 bool) (*string, string) {
	if data == nil {
		return nil, ""
	}
	if forceBase64 || !utf8.Valid(data) {
		s := base64.StdEncoding.EncodeToString(data)
		return &s, "base64"
	}
	s := string(data)
	return &s, ""
}

// ACLJSON is one ACL entry; perms in zkCli letters (cdrwa).
type ACLJSON struct {
	Scheme string `json:"scheme" yaml:"scheme"`
	ID     string `json:"id" yaml:"id"`
	Perms  string `json:"perms" yaml:"perms"`
}

func aclJSON(acl []zk.ACL) []ACLJSON {
	out := make([]ACLJSON, 0, len(acl))
	for _, a := range acl {
		out = append(out, ACLJSON{Scheme: a.Scheme, ID: a.ID, Perms: wire.PermString(a.Perms)})
	}
	return out
}

// javaList renders a list as java.util.List.toString(): "[a, b]".
func javaList(items []string) string {
	return "[" + strings.Join(items, ", ") + "]"
}

// writeValue prints v as JSON (one line) or YAML.
func writeValue(w io.Writer, format string, v any) error {
	switch format {
	case FormatYAML:
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		return enc.Close()
	default:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		return nil
	}
}

// KeeperStateName names a session state as Watcher.Event.KeeperState does.
func KeeperStateName(s zk.State) string {
	switch s {
	case zk.StateDisconnected:
		return "Disconnected"
	case zk.StateExpired:
		return "Expired"
	case zk.StateAuthFailed:
		return "AuthFailed"
	case zk.StateConnectedReadOnly:
		return "ConnectedReadOnly"
	case zk.StateSaslAuthenticated:
		return "SaslAuthenticated"
	default:
		return "SyncConnected"
	}
}

// EventTypeName names an event type as Watcher.Event.EventType does.
func EventTypeName(t zk.EventType) string {
	switch t {
	case zk.EventNodeCreated:
		return "NodeCreated"
	case zk.EventNodeDeleted:
		return "NodeDeleted"
	case zk.EventNodeDataChanged:
		return "NodeDataChanged"
	case zk.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case 5:
		return "DataWatchRemoved"
	case 6:
		return "ChildWatchRemoved"
	case 7:
		return "PersistentWatchRemoved"
	default:
		return "None"
	}
}

// StateName names a connection state as ZooKeeper.States does in the
// zkCli.sh prompt.
func StateName(s zk.State) string {
	switch s {
	case zk.StateHasSession:
		return "CONNECTED"
	case zk.StateConnectedReadOnly:
		return "CONNECTEDREADONLY"
	case zk.StateExpired:
		return "CLOSED"
	case zk.StateAuthFailed:
		return "AUTH_FAILED"
	default:
		return "CONNECTING"
	}
}

// WatchedEventString is WatchedEvent.toString() of 3.8:
// "WatchedEvent state:SyncConnected type:NodeDataChanged path:/a".
func WatchedEventString(ev Event) string {
	p := ev.Path
	if ev.Type == zk.EventSession || p == "" {
		p = "null"
	}
	t := EventTypeName(ev.Type)
	st := KeeperStateName(ev.State)
	if ev.Type != zk.EventSession {
		st = "SyncConnected"
	}
	return "WatchedEvent state:" + st + " type:" + t + " path:" + p
}

// EventJSON is one line of `watch -o json`.
type EventJSON struct {
	Type  string `json:"type" yaml:"type"`
	State string `json:"state" yaml:"state"`
	Path  string `json:"path,omitempty" yaml:"path,omitempty"`
	Time  int64  `json:"time" yaml:"time"`
}

// hexDump is zkCli.sh's get -x (3.8.5): Netty's ByteBufUtil.prettyHexDump,
// 16 bytes a row with their offset and their printable ASCII, in a box.
// Empty data gives "".
func hexDump(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	const rule = "+--------+-------------------------------------------------+----------------+"
	var b strings.Builder
	b.WriteString("         +-------------------------------------------------+\n")
	b.WriteString("         |  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f |\n")
	b.WriteString(rule)
	for off := 0; off < len(data); off += 16 {
		row := data[off:min(off+16, len(data))]
		fmt.Fprintf(&b, "\n|%08x|", uint32(off))
		for _, c := range row {
			fmt.Fprintf(&b, " %02x", c)
		}
		b.WriteString(strings.Repeat("   ", 16-len(row)))
		b.WriteString(" |")
		for _, c := range row {
			if c <= 0x1f || c >= 0x7f {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteString(strings.Repeat(" ", 16-len(row)))
		b.WriteByte('|')
	}
	b.WriteString("\n" + rule)
	return b.String()
}
