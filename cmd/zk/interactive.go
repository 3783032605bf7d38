package main

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"github.com/zkgo/zkgo/shell"
)

// interactive opens the shell: go-prompt on a terminal, lines from stdin
// otherwise.
func interactive(c *cli.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := shellConfig(c, nil, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	sh, err := shell.New(cfg)
	if err != nil {
		return err
	}
	defer sh.Close()
	// The shell handles SIGINT per command; here it must not kill zk.
	return sh.Interactive(context.Background())
}

var _ = os.Stdin
