// Package server is zkserver: the client listener, connections, sessions
// and the write pipeline that ties wire, tree, txn, watch, acl and storage
// together.
//
// Goroutines and what they own:
//   - the accept loop owns the listener; with a secureClientPort a second
//     accept loop owns the TLS listener (tls.go), whose handshakes each run
//     on their own goroutine before the connection is admitted;
//   - each connection has a reader goroutine (decodes frames, runs reads in
//     order, submits writes) and a writer goroutine (batches replies). The
//     socket's write side belongs to whoever set conn.writing: the writer,
//     the reader answering reads (flushInline: one non-blocking writev,
//     then blocking for the rest) or the applier answering writes
//     (writeNow: one non-blocking writev, the rest left to the writer);
//   - the prep step and zxid assignment run on the submitting goroutine,
//     serialised by prepMu (on an ensemble leader once it leads with its
//     tree caught up, see awaitLeadReady);
//   - standalone, the log loop group-commits to the txn log (one fsync per
//     batch) and then applies the batch to the tree, the session table and
//     the watch manager's trigger side (it is then "the applier"); a
//     connection's reader whose write is the only request in hand commits
//     it itself instead (commitInline: log, apply, answer). logMu and
//     applyMu keep one appender and one applier at a time, in zxid order;
//     in an ensemble the zab package's applier applies committed txns
//     (on whichever goroutine learned of the commit when it is idle);
//   - when a snapshot is due, a snapshot goroutine walks the tree a few
//     hundred znodes per hold of its read lock (a fuzzy snapshot, as
//     Apache's) and streams the file, while the applier goes on;
//   - the session ticker expires sessions; the reaper deletes empty
//     containers and expired TTL nodes. Both submit ordinary txns.
//
// Lock order (outer first): prepMu -> logMu -> applyMu -> conn.mu -> tree ->
// watch manager -> conn.outMu (prepMu is released before an inline commit
// appends, and logMu before it applies).
// The applier holds the tree's write lock while it applies a txn and fires
// its watches, so a reader can never see a change before the notification
// for it has been queued; it fills reply slots after releasing the lock.
package server
