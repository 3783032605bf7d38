// Package zab is zkgo's quorum peer: ZooKeeper's atomic broadcast protocol
// (ZAB) as a library the server plugs into. It owns leader election
// (FastLeaderElection), discovery (acceptedEpoch / currentEpoch), learner
// synchronisation (DIFF, TRUNC, SNAP, NEWLEADER, UPTODATE) and broadcast
// (PROPOSAL, ACK, COMMIT, INFORM) with many proposals in flight and
// group-committed log appends, as Apache ZooKeeper 3.8 does. A standalone
// server is an ensemble of one on the same code path.
//
// # How the server uses it
//
// The server implements StateMachine (its data tree and sessions), opens a
// storage.Store, builds a Peer with New and runs Peer.Run in a goroutine.
// On the leader, write requests go through Peer.Propose, which returns the
// zxid the txn will carry; StateMachine.Apply is later called with that
// zxid on every member, in zxid order, on one goroutine. On followers and
// observers, writes are sent to the leader with Peer.Forward and arrive on
// the leader through the OnRequest callback. Sync implements the client's
// sync op. TouchSessions / OnSessionTouch carry session liveness from
// learners to the leader. OnStateChange tells the server when this member
// starts or stops serving (Peer.Serving).
//
// The peer recovers the StateMachine from the newest snapshot of the
// Store when Run starts; log entries after it are applied once the ensemble
// has established them as committed (never before), so a member never
// applies a txn that a TRUNC could later take back.
//
// # Goroutines
//
// Run owns the role loop: looking (election), then leading or learning,
// and back. The election manager (listener, one sender per peer) and the
// quorum listener live as long as Run. A leader has, per learner, a reader
// and a writer goroutine; a learner has a reader (the role loop itself), a
// writer and a log appender. One applier goroutine per Peer is the only
// caller of StateMachine.Apply and Restore. Leader and learner state are
// guarded by one mutex per role (leader.mu, learner.mu); nothing holds two
// of them.
//
// # Imports
//
// zab imports server/storage and server/config only. Test helpers (a
// faulty transport, in-process ensembles) live in server/zab/zabtest.
package zab
