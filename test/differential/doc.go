// Package differential runs the same randomized operation sequences against
// Apache ZooKeeper 3.8 and zkserver and compares every reply: error codes,
// data, children, ACLs, Stat fields (zxids as relations, sessions by name)
// and the watch events each client receives.
//
// It owns no production code: the test starts Apache through Debian's
// zkServer.sh and an in-process zkgo server with the same settings, and
// talks to both over the raw wire protocol (server/wire), so that every
// opcode of 3.8 can be sent, invalid requests included.
//
// The test runs only with ZKGO_DIFF_APACHE=1 (make compat runs it through
// scripts/compat-extra.sh); `make test` skips it. Settings:
//
//	ZKGO_DIFF_SEEDS=N   how many seeds (default 40), starting at ZKGO_DIFF_SEED
//	ZKGO_DIFF_SEED=S    first seed (default: from the clock, printed)
//	ZKGO_DIFF_STEPS=N   operations per seed (default 200)
//
// A mismatch prints the seed, the step, the operation and both replies; the
// seed replays the same sequence.
package differential
