package zab

import (
	"testing"

	"github.com/zkgo/zkgo/server/config"
)

// A member listens on its own server line's host, or on every address
// with quorumListenOnAllIPs (the ports stay those of its line).
func TestListenAddr(t *testing.T) {
	servers := []config.Server{
		{ID: 1, Host: "10.0.0.1", QuorumPort: 2888, ElectionPort: 3888},
		{ID: 2, Host: "10.0.0.2", QuorumPort: 2889, ElectionPort: 3889},
	}
	tr := NewTCPTransport(2, servers).(*tcpTransport)
	for _, tc := range []struct {
		all  bool
		ch   Channel
		want string
	}{
		{false, ChannelQuorum, "10.0.0.2:2889"},
		{false, ChannelElection, "10.0.0.2:3889"},
		{true, ChannelQuorum, ":2889"},
		{true, ChannelElection, ":3889"},
	} {
		tr.listenAll = tc.all
		if got, err := tr.listenAddr(tc.ch); err != nil || got != tc.want {
			t.Errorf("listenAll=%v %s: %q, %v; want %q", tc.all, tc.ch, got, err, tc.want)
		}
	}
}
