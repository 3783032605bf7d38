// Package fourletter owns ZooKeeper's four-letter words ("4lw").
//
// Client side: Query sends a word to a server's client port and reads the
// reply; ParseSrvr and ParseMntr turn srvr/stat and mntr output into values.
// `zk status` and `zkserver status` use them.
//
// Server side: Run renders a word from a View, a small read-only view of the
// server that the server package implements, with Apache ZooKeeper 3.8's
// exact output formats and its 4lw.commands.whitelist rule. The AdminServer
// (server/admin) renders its JSON from the same View.
//
// This package imports only server/config of zkgo (for the conf word); it
// holds no goroutines and no mutable state of its own.
package fourletter
