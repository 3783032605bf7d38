// Package shell is the zk command shell: the table of commands (one per
// zkCli.sh 3.8 command plus zkgo's extras such as tree, find, du, watch,
// export and import), their zkCli-style option parser (options anywhere,
// before or after arguments), execution against a ZooKeeper server through
// github.com/go-zookeeper/zk, text output byte-compatible with zkCli.sh 3.8
// and machine-readable json/yaml output, and the interactive shell built on
// github.com/c-bata/go-prompt with completion of commands, flags and live
// znode paths.
//
// It must not import any server package: it is a client and talks to any
// ZooKeeper 3.8 server over the wire.
//
// Goroutines: a Shell is used by one goroutine at a time (the caller's).
// The client library delivers watch and session events on its own
// goroutine through a callback; the Shell turns them into a queue that the
// owner goroutine (or the interactive printer) drains, so the callback
// never blocks the connection.
package shell
