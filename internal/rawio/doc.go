// Package rawio makes the system calls of a write's hot path (socket
// reads and writes, the log's pwrite and fdatasync) without telling Go's
// runtime, which is what a system call made the usual way costs most on a
// quiet server.
//
// The runtime's monitor thread (sysmon) sleeps while every P is idle, and
// the first system call made the usual way after that wakes it and sets it
// polling every 20 µs for at least the next millisecond. A member of an
// ensemble with one write in flight goes idle between the steps of every
// write, so the monitor polled all the time: a third of each member's CPU
// time, and a third of its thread switches, went to it. A raw call skips
// that bookkeeping.
//
// A raw call also keeps its P while it runs, which is harmless for calls
// that cannot block: a socket here is non-blocking (the poller waits for it,
// as it does for net.Conn), and a pwrite of a few KB goes to the page cache.
// fdatasync does block, for as long as the disk takes: meanwhile the other
// goroutines have only the other Ps, and a garbage collection's
// stop-the-world waits for the flush to end. So Fdatasync makes the raw call
// only when GOMAXPROCS is at least 2 and the disk has been quick (no flush
// over SlowSync in the last SlowSyncBackoff); otherwise it makes the usual
// one, on which the runtime hands the P to another thread. The log uses it
// only for a flush of records alone, not for one that also carries zeros or
// a new extent (tens of milliseconds).
package rawio
