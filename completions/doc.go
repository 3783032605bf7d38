// Package completions holds the bash, zsh and fish completion scripts for
// zk. The scripts complete command names and flags, and znode paths by
// calling `zk __complete <words...>`, which prints one candidate a line.
//
// It owns only the script texts (embedded) and imports nothing of ours;
// cmd/zk prints them for `zk completion bash|zsh|fish`.
package completions
