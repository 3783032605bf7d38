// Command soak runs the soak test of package test/soak against a zkserver
// binary: soak -zkserver bin/zkserver -duration 10m. It exits 1 when a
// check failed (a lost write, RSS or fd growth), 2 when the run could not
// be carried out.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/test/soak"
)

func main() {
	var cfg soak.Config
	flag.StringVar(&cfg.Zkserver, "zkserver", "bin/zkserver", "zkserver binary")
	flag.StringVar(&cfg.Dir, "dir", "", "directory for the members' files (default: a temporary one, removed after a passing run)")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long the load runs")
	flag.IntVar(&cfg.Clients, "clients", 6, "load clients")
	flag.IntVar(&cfg.Keys, "keys", 40, "keys per client")
	flag.DurationVar(&cfg.KillEvery, "kill-every", 0, "mean time between member kills (default duration/15, at least 2s)")
	flag.DurationVar(&cfg.MaxDown, "max-down", 3*time.Second, "longest time a killed member stays down")
	flag.DurationVar(&cfg.ReportEvery, "report-every", 0, "period of the table rows (default duration/20, 1s-30s)")
	flag.BoolVar(&cfg.Pprof, "pprof", false, "serve /debug/pprof on each member's AdminServer and save heap profiles at the end")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "random seed (default: from the clock; printed)")
	flag.Func("set", "a zoo.cfg line KEY=VALUE for every member (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("want KEY=VALUE on one line, got %q", v)
		}
		cfg.Extra = append(cfg.Extra, v)
		return nil
	})
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: soak [-zkserver BIN] [-duration D] [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := soak.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(2)
	}
	if res.Failed > 0 || res.Lost > 0 {
		os.Exit(1)
	}
}
