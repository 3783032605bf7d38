package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/zkgo/zkgo/clusterstatus"
	"github.com/zkgo/zkgo/shell"
)

func init() {
	extraCommands = append(extraCommands, statusCommand())
}

const statusUsage = "zk status [-server host:port,...] [-timeout-4lw 2s] [-tls ...] [-o text|json|yaml]"

const statusHelp = `Asks every server of the list for srvr and mntr and prints one row per
server (mode, zxid, latency, connections, outstanding requests, znodes,
version). It also compares the servers' tree digests (hash) at the newest
zxid they all logged: servers whose data diverged make the list degraded,
as does a server whose mntr counts digest mismatches (its data differed
from a snapshot's or its leader's since it started). Exit status 0 when every server is up and a quorum agrees on one leader
(or the list is one standalone server), 1 when degraded, 2 when no server
answers.`

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:            "status",
		Usage:           "health of every server of the connect string (four-letter words)",
		UsageText:       statusUsage,
		Description:     statusHelp,
		SkipFlagParsing: true,
		HideHelp:        true,
		Action:          statusAction,
	}
}

func statusAction(c *cli.Context) error {
	stdout := c.App.Writer
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	server := fs.String("server", "", "servers host:port[,host:port...]")
	format := fs.String("o", "", "output format: text, json or yaml")
	wait := fs.Duration("timeout-4lw", clusterstatus.DefaultTimeout, "how long to wait for each server")
	g := map[string]string{}
	for _, name := range []string{"tls", "tls-insecure"} {
		fs.BoolFunc(name, "as zk's -"+name, func(string) error { g[name] = "true"; return nil })
	}
	for _, name := range []string{"tls-ca", "tls-cert", "tls-key"} {
		fs.Func(name, "as zk's -"+name, func(v string) error { g[name] = v; return nil })
	}
	help, args, err := parseAnywhere(fs, c.Args().Slice())
	if help {
		fmt.Fprintf(stdout, "usage: %s\n\n%s\n\noptions:\n", statusUsage, statusHelp)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return &usageError{msg: "status: " + err.Error()}
	}
	if len(args) > 0 {
		return &usageError{msg: "status: unexpected argument " + args[0] + "\nusage: " + statusUsage}
	}
	connect := serverList(c)
	if *server != "" {
		connect = *server
	}
	if i := strings.IndexByte(connect, '/'); i >= 0 {
		connect = connect[:i] // a chroot means nothing to four-letter words
	}
	var addrs []string
	for _, a := range strings.Split(connect, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return &usageError{msg: "status: no server given"}
	}
	out := outputFormat(c)
	if *format != "" {
		out = *format
	}
	if !shell.ValidFormat(out) {
		return &usageError{msg: "status: -o: unknown format " + out + " (want text, json or yaml)"}
	}
	if *wait <= 0 {
		*wait = clusterstatus.DefaultTimeout
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *wait+5*time.Second)
	defer cancel()
	tc, err := tlsConfig(c, g)
	if err != nil {
		return err
	}
	r := clusterstatus.CheckTLS(ctx, addrs, *wait, tc)
	if err := writeResult(stdout, out, r, r.WriteTable); err != nil {
		return err
	}
	if code := r.ExitCode(); code != 0 {
		return cli.Exit("", code)
	}
	return nil
}
