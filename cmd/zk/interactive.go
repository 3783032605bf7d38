package main

import (
	"io"

	"github.com/urfave/cli/v2"
)

func interactive(c *cli.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	return nil
}
