// Package crash holds the kill -9 test of issue 3: it builds the real
// zkserver binary, writes to it under load with several independent clients
// (github.com/go-zookeeper/zk), kills it with SIGKILL at random moments,
// restarts it on the same dataDir and checks that every acknowledged write is
// there with its data. It owns no production code and imports none of ours:
// the binary is driven as a user would, through zoo.cfg and the client port.
package crash
