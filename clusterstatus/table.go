package clusterstatus

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// WriteTable prints the report for a human: one row per server, then the
// errors of the servers that are not up, then the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	var buf bytes.Buffer
	t := newTable(&buf)
	t.Header("SERVER", "STATE", "MODE", "ZXID", "LATENCY MIN/AVG/MAX", "CONNS", "OUTSTANDING", "ZNODES", "VERSION")
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
		if err := t.Append(row); err != nil {
			return fmt.Errorf("status table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("status table: %w", err)
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		out.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
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

// newTable is a borderless, left-aligned table with headers as given.
func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
	)
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
