package compare

import "syscall"

// serverProcAttr puts a server in a process group of its own (a Ctrl-C at
// the terminal reaches the benchmark, which stops the server itself) and
// has the kernel kill it if the benchmark dies first, so that no server
// outlives an interrupted run.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
