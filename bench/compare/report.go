package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/bench"
	"github.com/zkgo/zkgo/internal/textable"
)

// Better says which direction of a measure is good.
type Better string

// Directions.
const (
	Higher Better = "higher"
	Lower  Better = "lower"
)

// Row is one measure with both servers' values. Ratio is zkgo / Apache,
// as the targets of issue 6 are written.
type Row struct {
	Group  string   `json:"group"`
	Name   string   `json:"name"`
	Unit   string   `json:"unit"`
	Zkgo   *float64 `json:"zkgo"`
	Apache *float64 `json:"apache"`
	Ratio  *float64 `json:"ratio"`
	Better Better   `json:"better"`
	// Target is the ratio issue 6 asks for (0: none); Met says whether
	// this run reached it.
	Target float64 `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Java      string `json:"java"`
	Apache    string `json:"apache_zookeeper"`
	Zkgo      string `json:"zkgo"`
}

// Settings are the knobs of the run.
type Settings struct {
	Duration float64  `json:"duration_s"`
	Warmup   float64  `json:"warmup_s"`
	Size     int      `json:"size"`
	Keys     int      `json:"keys"`
	ReadPct  int      `json:"read_pct"`
	Znodes   int      `json:"znodes"`
	Clients  []int    `json:"clients"`
	Ops      []string `json:"ops"`
	// Paced are the loads run at a fixed rate, with PacedClients clients.
	Paced        []Paced `json:"paced,omitempty"`
	PacedClients int     `json:"paced_clients,omitempty"`
	Ensemble     bool    `json:"ensemble"`
	Repeats      int     `json:"repeats"`
	ServerCfg    string  `json:"server_config"`
}

// Throughput is one load run against one server (or ensemble).
type Throughput struct {
	Kind     Kind          `json:"server"`
	Topology string        `json:"topology"`
	Result   *bench.Result `json:"result"`
	// ServerCPUPerOp is the server processes' CPU time (all members for an
	// ensemble) during the measured phase per operation, in microseconds.
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op"`
}

// Report is everything one comparison measured.
type Report struct {
	Date     string       `json:"date"`
	Machine  Machine      `json:"machine"`
	Settings Settings     `json:"settings"`
	Rows     []Row        `json:"rows"`
	Runs     []Throughput `json:"runs"`
	// Samples are the raw repeated measures (start-up, restart, one-shot
	// get, failover) by name and server, in the row's unit.
	Samples map[string]map[Kind][]float64 `json:"samples"`
	Notes   []string                      `json:"notes,omitempty"`
}

// AddRow appends a row; a missing value (nil) leaves ratio and verdict out.
func (r *Report) AddRow(group, name, unit string, better Better, target float64, zkgo, apache *float64) {
	row := Row{Group: group, Name: name, Unit: unit, Zkgo: zkgo, Apache: apache, Better: better, Target: target}
	if zkgo != nil && apache != nil && *apache != 0 {
		ratio := *zkgo / *apache
		row.Ratio = &ratio
		if target > 0 {
			met := ratio >= target
			if better == Lower {
				met = ratio <= target
			}
			row.Met = &met
		}
	}
	r.Rows = append(r.Rows, row)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable prints one line per row: both values, the ratio zkgo/Apache,
// the target and whether it was met.
func (r *Report) WriteTable(w io.Writer) error {
	rows := make([][]string, 0, len(r.Rows))
	for _, row := range r.Rows {
		target, met := "-", "-"
		if row.Target > 0 {
			op := "≥"
			if row.Better == Lower {
				op = "≤"
			}
			target = op + " " + strconv.FormatFloat(row.Target, 'f', -1, 64) + "×"
		}
		if row.Met != nil {
			met = "yes"
			if !*row.Met {
				met = "NO"
			}
		}
		ratio := "-"
		if row.Ratio != nil {
			ratio = fmtRatio(*row.Ratio)
		}
		rows = append(rows, []string{row.Name, row.Unit, fmtValue(row.Zkgo), fmtValue(row.Apache), ratio, target, met})
	}
	var out strings.Builder
	header := []string{"MEASURE", "UNIT", "ZKGO", "APACHE 3.8", "RATIO", "TARGET", "MET"}
	if err := textable.Write(&out, header, rows); err != nil {
		return fmt.Errorf("report table: %w", err)
	}
	for _, n := range r.Notes {
		out.WriteString("note: " + n + "\n")
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func fmtValue(v *float64) string {
	if v == nil {
		return "-"
	}
	x := *v
	switch a := math.Abs(x); {
	case a >= 1000:
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

func fmtRatio(r float64) string {
	if r >= 10 || r < 0.01 {
		return strconv.FormatFloat(r, 'g', 3, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}
