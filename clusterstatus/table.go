package clusterstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/textable"
)

// WriteTable prints the report for a human: one row per server, then the
// errors of the servers that are not up, then the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	rows := make([][]string, 0, len(r.Servers))
	for _, s := range r.Servers {
		row := []string{s.Addr, s.State, "-", "-", "-", "-", "-", "-", "-"}
		if s.State == StateUp {
			row = []string{
				s.Addr, s.State, dash(s.Mode), dash(s.Zxid),
				fmt.Sprintf("%d/%s/%d", s.LatencyMin, strconv.FormatFloat(s.LatencyAvg, 'f', -1, 64), s.LatencyMax),
				strconv.FormatInt(s.Connections, 10),
				strconv.FormatInt(s.Outstanding, 10),
				strconv.FormatInt(s.Znodes, 10),
				dash(shortVersion(s.Version)),
			}
		}
		rows = append(rows, row)
	}
	var out strings.Builder
	header := []string{"SERVER", "STATE", "MODE", "ZXID", "LATENCY MIN/AVG/MAX", "CONNS", "OUTSTANDING", "ZNODES", "VERSION"}
	if err := textable.Write(&out, header, rows); err != nil {
		return fmt.Errorf("status table: %w", err)
	}
	for _, s := range r.Servers {
		if s.Error != "" {
			fmt.Fprintf(&out, "%s: %s\n", s.Addr, s.Error)
		}
	}
	fmt.Fprintf(&out, "health: %s (%s)\n", r.Health, r.Summary)
	_, err := io.WriteString(w, out.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortVersion keeps the release of a srvr version line:
// "3.8.0-${mvngit.commit.id}, built on …" gives "3.8.0".
func shortVersion(v string) string {
	if i := strings.IndexAny(v, "-, "); i > 0 {
		return v[:i]
	}
	return v
}
