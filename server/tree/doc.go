// Package tree is the in-memory data tree: znodes with their data, ACLs
// and persisted Stat, the ephemerals of each session, and the container
// and TTL node sets the reaper scans.
//
// Ownership: exactly one goroutine (the applier) mutates a Tree, holding
// the write lock; readers hold the read lock (Tree embeds sync.RWMutex).
// The mutating methods do not lock: the caller holds the lock so that an
// apply and the watch triggering it causes are one atomic step for readers.
// tree imports only wire.
package tree
