// Package hostile attacks a running zkserver (in-process, 127.0.0.1, a
// free port) with raw TCP the way a broken or malicious client would:
// garbage bytes, truncated frames, frame lengths over jute.maxbuffer or
// negative, connect requests with odd protocol versions, timeouts and
// zxids, requests before the handshake, more connections from one address
// than maxClientCnxns, clients that never read their replies or their
// watch notifications, clients that vanish in the middle of a request,
// wrong session passwords and attempts to take over another client's
// session and ephemerals.
//
// Every test keeps a well-behaved go-zookeeper client connected alongside
// (the bystander) and checks that it keeps getting correct answers, that
// the server's heap stays bounded (runtime.ReadMemStats: the server runs
// in the test process), that nothing is written that should not be (the
// whole tree is compared afterwards) and that the server never logged a
// recovered panic. Where a test claims Apache ZooKeeper 3.8 behaves some
// way, the comment names the Apache source it comes from.
//
// It holds only tests; TestMain prints "hostile: N passed, N failed".
package hostile
