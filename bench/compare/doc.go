// Package compare runs `make bench`: zkgo's zkserver and Apache ZooKeeper
// 3.8 started one after the other on 127.0.0.1 with the same zoo.cfg
// (tickTime 2000, forceSync on, data directories on the same disk), the
// same load (package bench) against each, and the process-level measures
// issue 6 asks for: start-up to the first served request, restart with
// 100,000 znodes, RSS, server CPU time per operation from /proc, leader
// SIGKILL to the first successful write, and the one-shot `zk get` against
// `zkCli.sh get`. It returns a Report (rows with both values and their
// ratio) that renders as a table, JSON and an SVG chart.
//
// Everything runs on the caller's goroutine except the load itself
// (bench.Run) and the server processes, which are children of this
// process, always stopped before Run returns.
//
// Linux only for the measures read from /proc; it imports bench and
// fourletter of ours.
package compare
