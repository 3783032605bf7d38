//go:build !linux

package compare

import "syscall"

// serverProcAttr puts a server in a process group of its own (a Ctrl-C at
// the terminal reaches the benchmark, which stops the server itself). Only
// Linux also kills it when the benchmark dies first (Pdeathsig).
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
