// Package txn holds the txn records of the log and the two ends of the
// write pipeline: Prep turns a client write into a txn (or an error txn)
// against the committed tree plus the changes still in flight, as Apache's
// PrepRequestProcessor does; Apply applies a committed txn to the tree and
// reports the results and the watch events it causes, as DataTree does.
//
// Prep is used by one goroutine (the prep step of the leader) and by the
// applier through Applied; it locks itself. Apply runs on the applier with
// the tree's write lock held by the caller.
package txn
