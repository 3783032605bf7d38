// Package e2e holds end-to-end tests that build the zk and zkserver
// binaries and drive them as a user would: `zk ensemble up` starts real
// zkserver processes on 127.0.0.1, an independent client
// (github.com/go-zookeeper/zk) writes through each member, members are
// killed and started again with `zk ensemble kill|start`, and `zk status`
// is checked for its exit code and report at every step.
//
// The tests need the go command (to build the binaries) and free ports
// on 127.0.0.1; they wait on conditions with deadlines, never on sleeps,
// and stop every process they start (`zk ensemble down` in a cleanup).
// There is no production code here.
package e2e
