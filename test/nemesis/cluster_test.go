package nemesis

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

// A member that is down holds its ports: nobody else can listen on them,
// and a client connecting is refused as by a crashed server. Once
// released, the member listens on them again.
func TestDownMemberHoldsItsPorts(t *testing.T) {
	var ports []int
	var m *Member
	// FreePorts finds ports net.Listen can take (SO_REUSEADDR); hold binds
	// without it, which a TIME_WAIT left by another test's server on the
	// port refuses: then try other ports.
	for attempt := 0; ; attempt++ {
		ports = servertest.FreePorts(t, 3)
		m = &Member{cfg: &config.Config{MyID: 1, ClientPort: ports[0],
			Servers: []config.Server{{ID: 1, QuorumPort: ports[1], ElectionPort: ports[2]}}}}
		m.hold()
		if len(m.held) == 3 {
			break
		}
		m.mu.Lock()
		m.release()
		m.mu.Unlock()
		if attempt == 20 {
			t.Fatalf("held %d ports of 3 after %d attempts", len(m.held), attempt+1)
		}
	}
	for _, p := range ports {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			t.Fatalf("listened on held port %d", p)
		} else if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("listen on held port %d: %v", p, err)
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatalf("connected to held port %d", p)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial held port %d: %v, want connection refused", p, err)
		}
	}
	m.mu.Lock()
	m.release()
	m.mu.Unlock()
	for _, p := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("listen on released port %d: %v", p, err)
		}
		ln.Close()
	}
}
