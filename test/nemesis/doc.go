// Package nemesis runs randomized fault schedules against an ensemble of
// whole in-process zkserver members (server.Server: tree, sessions,
// pipeline, zab, storage) while go-zookeeper clients run a mixed workload
// (creates, conditional sets and deletes, sync+get reads, sequential
// nodes, ephemerals), then heals everything and checks the outcome.
//
// The members' quorum and election traffic goes through Net, a
// frame-aware TCP proxy per direction and member pair (each member's
// zoo.cfg lists its own proxies to the others), so the nemesis can
// partition any pairs (a minority, the leader alone, two halves with a
// bridge member), drop, duplicate and delay frames, without a hook in the
// server. Members crash (Close, data directory kept) and restart, alone,
// as a majority or all together; a slow disk is storage.SetAppendDelay on
// one member's log directory.
//
// At the end: the history is checked with porcupine against a model of
// znodes with versions and of sequence counters (an operation whose
// answer was lost may or may not have happened; sync+read is checked as
// linearizable, although ZooKeeper only promises a state at most about
// syncLimit ticks old — sync has no quorum round, so a leader cut off from
// the others answers it until it steps down; ZKGO_NEMESIS_STALE_READS=1
// checks that weaker promise); every member must serve
// the same tree, comparing data and every Stat field (czxid, mzxid,
// pzxid, versions, ephemeralOwner, times), and the same last zxid; every
// acknowledged sequential node must exist and no ephemeral of a closed
// session may remain.
//
// TestNemesisProcesses runs the same with members as zkserver processes
// (built from this tree) behind the same proxies, crashed with SIGKILL
// (no slow disk there).
//
// One seed drives the schedule and the clients' choices; it is printed
// as `nemesis seed=N` and ZKGO_NEMESIS_SEED=N replays it (timing still
// varies). ZKGO_NEMESIS_DURATION (default 4s, what make test runs) makes
// long runs, ZKGO_NEMESIS_MEMBERS sets the ensemble size (default 3).
package nemesis
