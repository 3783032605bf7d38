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
//	st, _ := storage.Open(cfg.DataDir, cfg.DataLogDir, storage.Options{ForceSync: cfg.ForceSync})
//	peer, _ := zab.New(zab.Config{
//		MyID: cfg.MyID, Servers: cfg.Servers, Observer: cfg.PeerType == "observer",
//		TickTime: cfg.TickTime, InitLimit: cfg.InitLimit, SyncLimit: cfg.SyncLimit,
//		Store: st, SM: srv, Logger: logger,
//	})
//	peer.OnRequest(srv.leaderReceives)      // forwarded writes, on the leader
//	peer.OnSessionTouch(srv.touchSessions)  // learners' session activity, on the leader
//	peer.OnStateChange(srv.roleChanged)     // serve clients only while Status.Serving
//	go peer.Run(ctx)
//
// The server implements StateMachine with its data tree and sessions. It
// does not load snapshots or replay the log itself: Run restores the
// newest snapshot into the StateMachine and applies logged txns once the
// ensemble has established them as committed (a standalone server, an
// ensemble of one, does so as soon as it starts), so a txn that a TRUNC
// later takes back is never applied.
//
// Writes. On the leader, the prep step turns a request into txn bytes and
// calls Propose, which returns the zxid the txn gets (epoch<<32|counter,
// counter from 1 in each epoch); Apply(storage.Entry{Zxid, Data}) is then
// called with exactly those bytes on every member, in zxid order, one
// call at a time, once a quorum has logged it. The zxid is not inside Data:
// take it from the Entry. Hold the server's own lock across Propose and
// the registration of the pending request, and take that lock in Apply:
// Apply for a zxid can run as soon as Propose returns. zab never calls
// the server while holding a lock of its own, so that order is safe. Error
// results are proposed as txns too (as Apache's error txn), so the member
// holding the client's connection can answer when it applies it. On
// followers and observers, write requests (and createSession/closeSession)
// go to the leader with Forward; the leader's server gets them through
// OnRequest and proposes them; the forwarding member answers its client
// when it applies the txn carrying that session and cxid. Propose returns
// ErrNotLeader and Forward ErrNoLeader while there is no established
// leader: answer CONNECTIONLOSS (or drop the connection).
//
// Reads are served from the local tree. The sync op calls Sync, which
// returns once this member applied everything the leader had committed or
// proposed when the request reached it.
//
// Sessions. Learners call TouchSessions with the ids of sessions that had
// activity; the leader receives them (and its own) through
// OnSessionTouch and owns expiry. Session creation, close and expiry are
// proposed txns.
//
// Roles. OnStateChange reports every change of state, leader and serving
// flag. When Serving turns false (the member left the broadcast phase),
// close client connections and fail requests waiting for an Apply: their
// txn may never be applied (clients reconnect elsewhere, as with Apache).
// Status gives srvr/mntr their fields: Mode (leader, follower, observer,
// or standalone), zk_peer_state (PeerState), zk_learners,
// zk_synced_followers, zk_synced_observers, zk_pending_syncs.
//
// Reconfiguration (reconfigEnabled). The leader's prep step asks
// Membership (active servers, version, a reconfig pending?) and
// QuorumSynced (is a quorum of the proposed membership connected and in
// broadcast?) and proposes the reconfig txn with ProposeReconfig instead
// of Propose. That txn, and every txn after it, commits only with quorums
// of both the old and the new membership; at its commit the leader
// counts with the new one (version = the txn's zxid) and steps down if it
// no longer votes. Every member calls Reconfigure as it applies the txn
// (or restores a state holding one): quorum counting, election channels
// and the addresses dialled change then. A server outside the membership
// (a joiner started with the current members plus itself, or a removed
// member) is taken as a non-voting follower, as in Apache: it logs and
// acknowledges proposals, its acknowledgements count only for a
// membership that has it as a voter, and members answer its election
// notifications on its own connection. Persisting the membership is the
// server's (dataDir/zoo.cfg.dynamic.<version>). Not done: Apache's
// leader hand-off, and a reconfig proposed but not committed when its
// leader fails is committed by the next leader without the two-quorum
// rule (Apache keeps it as "last seen" configuration across elections).
//
// Snapshots for recovery and purge are the server's: StateMachine.Snapshot
// into Store.WriteSnapshot. Applied state never gets ahead of the local
// log, so such a snapshot is always covered by it.
//
// # Fail-over
//
// Election follows FastLeaderElection, with three shortcuts that keep its
// guarantee (the elected leader's history is the newest of a quorum; in
// discovery the leader still gives up if a member of its ACKEPOCH quorum
// is ahead of it): a member whose election or leader connection breaks
// (or refuses a dial) is known down until it speaks again, and the
// election settles at once, without finalizeWait, when every voter not
// known down proposes the same vote in this round; a looking member that
// gets a worse vote of its own round answers at once with its own; and a
// learner retries a leader that does not accept it yet after 5 ms
// (backing off to half a tick). A leader SIGKILL costs a few
// milliseconds of election on loopback.
//
// # On the wire (ours; a zkgo ensemble has only zkgo members)
//
// Both ports carry frames: a 4-byte length, then the payload. Election
// connections start with the dialer's server id, then carry 36-byte
// notifications (state, leader, zxid, election epoch, peer epoch); each
// member dials every other for its own outgoing notifications (answers to
// a server outside the membership go back on the connection it opened). Quorum
// packets are type (Apache's numbers), zxid, data. PROPOSAL and INFORM
// data start with the zxid of the previous txn, so a learner notices a
// lost packet and reconnects instead of logging a history with a hole.
// ACK and COMMIT are cumulative. The leader's PING carries its commit
// zxid, whether the learner may serve and, from a Digester state machine,
// its latest digests, which the learner checks against its own; the
// learner's PING carries its cumulative ACK and the sessions it saw. SYNC carries a request id (and,
// in the answer, the commit zxid). REQUEST carries a per-connection
// sequence number, so a duplicated frame is not proposed twice. SNAP is
// followed by SNAPCHUNK packets (offset-checked) and SNAPEND, which
// carries the snapshot's zxid and length.
//
// # Goroutines
//
// Run owns the role loop: looking (election), then leading or learning,
// and back. The election manager (listener, one sender per peer) and the
// quorum listener live as long as Run. A leader has, per learner, a reader
// and a writer goroutine; a learner has a reader (the role loop itself), a
// writer and a log appender. One applier per Peer calls StateMachine.Apply
// and Restore, one batch at a time.
//
// Hand-offs between goroutines cost a thread wake-up each, more than the
// work handed off when one write is in flight. So the work is done where
// it is found when the goroutine it belongs to is idle: a learner's reader
// logs a proposal and sends the ACK itself when everything before it is
// committed and nothing more is buffered (appender.appendHere,
// sendQueue.send), and applies the txns a COMMIT commits; the leader's
// reader of a learner applies the txns that learner's ACK commits
// (applier.applyHere). Under load the goroutines keep their batching.
// Only learners write on a connection from outside its writer: a blocked
// write there ends with the watchdog, while the leader must never block
// on one learner. Leader and learner state are guarded by one mutex per
// role (leader.mu, learner.mu); nothing holds two of them.
//
// # Imports
//
// zab imports server/storage and server/config only. Test helpers (a
// faulty transport, in-process ensembles) live in server/zab/zabtest.
package zab
