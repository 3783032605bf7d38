// Package crash holds the kill -9 tests: it builds the real zkserver
// binary, writes to it under load with several independent clients
// (github.com/go-zookeeper/zk), kills it with SIGKILL at random moments and
// at aimed ones (a snapshot being written, a purge deleting files),
// restarts it on the same dataDir and checks that every acknowledged write
// is there with its data. It also damages the tail of the log files and of
// the newest snapshot and checks that the server recovers what is intact
// or refuses with one line. ZKGO_CRASH_ROUNDS sets the number of kill
// rounds; TestMain prints "crash: N passed, N failed, N skipped". It owns
// no production code and imports none of ours: the binary is driven as a
// user would, through zoo.cfg and the client port.
package crash
