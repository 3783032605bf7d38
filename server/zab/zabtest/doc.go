// Package zabtest runs in-process ZAB ensembles for tests: members on
// 127.0.0.1 over a transport that can drop, delay, duplicate and
// partition (Network), a state machine that records what it applied
// (FSM), and a Cluster that starts, crashes and restarts members on their
// own data directories and checks that they agree. Production code never
// imports it.
package zabtest
