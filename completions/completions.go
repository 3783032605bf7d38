package completions

import (
	_ "embed"
	"fmt"
)

//go:embed zk.bash
var bash string

//go:embed zk.zsh
var zsh string

//go:embed zk.fish
var fish string

// Script returns the completion script for shell (bash, zsh or fish).
func Script(shell string) (string, error) {
	switch shell {
	case "bash":
		return bash, nil
	case "zsh":
		return zsh, nil
	case "fish":
		return fish, nil
	}
	return "", fmt.Errorf("unknown shell %q (want bash, zsh or fish)", shell)
}
