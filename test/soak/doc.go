// Package soak is `make soak`: a 3-member ensemble of real zkserver
// processes on free 127.0.0.1 ports in a temporary directory, under mixed
// load from several go-zookeeper clients that know every member, while a
// random member is killed with SIGKILL periodically and started again on
// its data directory.
//
// Each client owns its keys (/soak/c<i>/k<j>) and tracks what every
// acknowledged write left there; a write whose outcome is unknown
// (connection lost, session expired) makes the key's value one of a set
// of candidates until the next sync+read resolves it. Reads verify what
// the client knows. At the end the load stops, every member runs again,
// and each member is asked alone (after sync) for every key: a key whose
// value is not what was acknowledged is a lost write. Acknowledged
// sequential nodes must exist on every member, ephemerals of closed
// sessions must be gone, and every member must end on the same last zxid.
//
// Every ReportEvery it prints a table row: ops done, errors, kills, and
// per member its RSS (/proc/PID/status VmRSS) and open file descriptors
// (/proc/PID/fd). The run fails on any lost write, on an RSS or fd count
// above the configured bounds, or on growth within one process's life
// beyond GrowthFactor. It ends with `soak: N passed, N failed`.
//
// The command is test/soak/cmd/soak (scripts/soak.sh); the unit test runs
// it for a few seconds so it cannot rot. Linux only (/proc, SIGKILL).
package soak
