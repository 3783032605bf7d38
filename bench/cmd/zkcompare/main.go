// Command zkcompare runs `make bench`: zkgo's zkserver and Apache
// ZooKeeper 3.8 one after the other on this machine with the same
// configuration and load, printing one table with both and their ratio and
// writing last.json, last.svg and last.txt under -out.
//
//	zkcompare [-duration 5s] [-warmup 1s] [-clients 1,8,32] [-ops get,set,create,mixed]
//	          [-znodes 100000] [-repeats 3] [-ensemble auto|on|off] [-quick] [-out bench/results]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/bench"
	"github.com/zkgo/zkgo/bench/compare"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o := compare.DefaultOptions()
	fs := flag.NewFlagSet("zkcompare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Bins.ZKServer, "zkserver", o.Bins.ZKServer, "zkgo server binary")
	fs.StringVar(&o.Bins.ZK, "zk", o.Bins.ZK, "zkgo CLI binary (one-shot get)")
	fs.StringVar(&o.Bins.ApacheHome, "apache-home", o.Bins.ApacheHome, "Apache ZooKeeper home (bin/zkServer.sh, bin/zkCli.sh)")
	fs.StringVar(&o.WorkDir, "work", "", "parent of the servers' data directories (default $TMPDIR)")
	targets := fs.String("targets", "zkgo,apache", "servers to run, in order")
	ops := fs.String("ops", "get,set,create,mixed", "operations of the load matrix")
	clients := fs.String("clients", "1,8,32", "client counts of the load matrix")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time of each load run")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up of each load run")
	fs.IntVar(&o.Size, "size", o.Size, "value size in bytes")
	fs.IntVar(&o.Keys, "keys", o.Keys, "keys for get/set/mixed")
	fs.IntVar(&o.ReadPct, "read-pct", o.ReadPct, "reads in mixed, percent")
	paced := fs.String("paced", pacedString(o.Paced), "paced loads after the matrix, op:rate in all per second (\"\" for none)")
	fs.IntVar(&o.PacedClients, "paced-clients", o.PacedClients, "clients of the paced loads")
	fs.IntVar(&o.Znodes, "znodes", o.Znodes, "znodes for the restart and RSS measures")
	fs.IntVar(&o.Repeats, "repeats", o.Repeats, "repetitions of start-up, restart, one-shot get and failover")
	ensemble := fs.String("ensemble", "auto", "3-node rows: on, off, or auto (on when `zk ensemble` exists)")
	skip := fs.String("skip", "", "parts to leave out: throughput,startup,restart,oneshot,ensemble")
	quick := fs.Bool("quick", false, "a short run: 2s loads, clients 1,32, 20k znodes, 1 repeat")
	outDir := fs.String("out", "bench/results", "directory for last.json, last.svg and last.txt")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zkcompare: unexpected argument %s\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["duration"] {
			o.Duration = 2 * time.Second
		}
		if !set["warmup"] {
			o.Warmup = 500 * time.Millisecond
		}
		if !set["clients"] {
			*clients = "1,32"
		}
		if !set["znodes"] {
			o.Znodes = 20000
		}
		if !set["repeats"] {
			o.Repeats = 1
		}
	}
	o.Targets = nil
	for _, t := range splitList(*targets) {
		switch k := compare.Kind(t); k {
		case compare.KindZkgo, compare.KindApache:
			o.Targets = append(o.Targets, k)
		default:
			fmt.Fprintf(stderr, "zkcompare: -targets: unknown server %q (want zkgo, apache)\n", t)
			return 2
		}
	}
	o.Ops = nil
	for _, s := range splitList(*ops) {
		op, err := bench.ParseOp(s)
		if err != nil {
			fmt.Fprintf(stderr, "zkcompare: -ops: %v\n", err)
			return 2
		}
		o.Ops = append(o.Ops, op)
	}
	o.Clients = nil
	for _, s := range splitList(*clients) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "zkcompare: -clients: %q is not a positive number\n", s)
			return 2
		}
		o.Clients = append(o.Clients, n)
	}
	o.Paced = nil
	for _, s := range splitList(*paced) {
		op, rate, ok := strings.Cut(s, ":")
		pop, err := bench.ParseOp(op)
		r, rerr := strconv.ParseFloat(rate, 64)
		if !ok || err != nil || rerr != nil || !(r > 0) || math.IsInf(r, 0) {
			fmt.Fprintf(stderr, "zkcompare: -paced: %q is not op:rate (e.g. get:20000)\n", s)
			return 2
		}
		o.Paced = append(o.Paced, compare.Paced{Op: pop, Rate: r})
	}
	if o.PacedClients < 1 && len(o.Paced) > 0 {
		fmt.Fprintf(stderr, "zkcompare: -paced-clients: %d, want >= 1\n", o.PacedClients)
		return 2
	}
	o.Skip = splitList(*skip)
	o.Log = stderr

	var notes []string
	switch *ensemble {
	case "on":
		o.Ensemble = true
	case "off":
		notes = append(notes, "ensemble rows skipped (-ensemble off)")
	case "auto":
		if ensembleAvailable(o.Bins.ZK) {
			o.Ensemble = true
		} else {
			notes = append(notes, "ensemble rows skipped: `zk ensemble` does not exist yet (issue 5); -ensemble on forces them")
		}
	default:
		fmt.Fprintf(stderr, "zkcompare: -ensemble: want on, off or auto, not %q\n", *ensemble)
		return 2
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "zkcompare: "+n)
	}
	for _, k := range o.Targets {
		if k == compare.KindZkgo {
			if _, err := os.Stat(o.Bins.ZKServer); err != nil {
				fmt.Fprintf(stderr, "zkcompare: %v (run make build)\n", err)
				return 1
			}
		}
		if k == compare.KindApache {
			if _, err := os.Stat(filepath.Join(o.Bins.ApacheHome, "bin", "zkServer.sh")); err != nil {
				fmt.Fprintf(stderr, "zkcompare: %v (run scripts/install-apache-zk.sh)\n", err)
				return 1
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, runErr := compare.Run(ctx, o)
	if rep == nil {
		fmt.Fprintf(stderr, "zkcompare: %v\n", runErr)
		return 1
	}
	rep.Notes = append(rep.Notes, notes...)
	rep.Notes = append(rep.Notes, fmt.Sprintf("whole run took %s", time.Since(start).Round(time.Second)))

	var table bytes.Buffer
	fmt.Fprintf(&table, "zkgo vs Apache ZooKeeper 3.8 — %s — %s, %d cores, %d MiB\n\n", rep.Date, rep.Machine.CPU, rep.Machine.Cores, rep.Machine.MemoryMiB)
	if err := rep.WriteTable(&table); err != nil {
		fmt.Fprintf(stderr, "zkcompare: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(table.Bytes())
	if err := writeOutputs(*outDir, rep, table.Bytes()); err != nil {
		fmt.Fprintf(stderr, "zkcompare: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "zkcompare: wrote %s/last.json, last.svg, last.txt\n", *outDir)
	if runErr != nil {
		fmt.Fprintf(stderr, "zkcompare: some measures failed (see the notes): %v\n", runErr)
		return 1
	}
	return 0
}

func writeOutputs(dir string, rep *compare.Report, table []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var js, svg bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	if err := rep.WriteSVG(&svg); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"last.json": js.Bytes(), "last.svg": svg.Bytes(), "last.txt": table} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ensembleAvailable reports whether this zk has an ensemble command.
func ensembleAvailable(zkBin string) bool {
	out, err := exec.Command(zkBin, "ensemble", "--help").CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return false // zk itself did not run
	}
	return !strings.Contains(string(out), "Command not found")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// pacedString renders paced loads as the -paced flag takes them.
func pacedString(ps []compare.Paced) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s:%g", p.Op, p.Rate)
	}
	return strings.Join(parts, ",")
}
