// Package quorumtest tests zkserver ensembles in-process through
// github.com/go-zookeeper/zk: replication through every member, failover,
// sessions moving between members, read-only mode. The protocol itself is
// tested in server/zab with a faulty network.
package quorumtest
