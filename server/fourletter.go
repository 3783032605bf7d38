package server

import (
	"fmt"
	"strings"
)

var words = map[string]bool{
	"ruok": true, "srvr": true, "stat": true, "conf": true, "envi": true, "cons": true, "crst": true,
	"srst": true, "mntr": true, "wchs": true, "wchc": true, "wchp": true, "dump": true, "isro": true,
	"dirs": true, "hash": true, "gtmk": true, "stmk": true,
}

func isWord(w string) bool { return words[w] }

// fourLetterWord answers a four-letter word and closes the connection.
func (s *Server) fourLetterWord(c *conn, word string) {
	out := ""
	switch word {
	case "ruok":
		out = "imok"
	case "srvr":
		var b strings.Builder
		fmt.Fprintf(&b, "Zookeeper version: %s\n", Version)
		fmt.Fprintf(&b, "Mode: standalone\nNode count: %d\n", s.tree.NodeCount())
		out = b.String()
	default:
		out = word + " is not executed because it is not in the whitelist.\n"
	}
	frame := append(make([]byte, 0, len(out)), out...)
	c.nc.Write(frame)
}
