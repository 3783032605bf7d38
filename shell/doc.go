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
// never blocks the connection. After a reconnect of the same session the
// callback starts one short-lived goroutine that sets the persistent
// watches (addWatch) again, which go-zookeeper does not do (rewatch.go);
// it stops when the client is closed.
//
// Connecting never waits the whole session timeout for servers that are
// not there (connect.go): a dialer and host provider wrapped around
// go-zookeeper's count the rounds over the server list in which every TCP
// dial failed, and a command fails with a *ConnectError ("cannot connect
// to 127.0.0.1:2181: connection refused") as soon as one such round ends
// while it waits; a first session is waited for at most
// ConnectWait(timeout) = min(timeout, 5s).
package shell
