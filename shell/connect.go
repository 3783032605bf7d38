package shell

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// MaxConnectWait caps how long a command waits for a first session when no
// server gives one (servers that accept TCP but do not answer, or are
// electing a leader): min(session timeout, MaxConnectWait). When every
// server refuses the TCP connection the wait ends at once.
const MaxConnectWait = 5 * time.Second

// ConnectWait is how long to wait for a first session: the session timeout,
// at most MaxConnectWait.
func ConnectWait(sessionTimeout time.Duration) time.Duration {
	return min(sessionTimeout, MaxConnectWait)
}

// ConnectError is a failure to reach any server of the list, e.g.
// "cannot connect to 127.0.0.1:2181: connection refused".
type ConnectError struct {
	Servers []string // the addresses tried
	Reason  string   // why, as one phrase; may name servers itself
}

func (e *ConnectError) Error() string {
	return "cannot connect to " + strings.Join(e.Servers, ",") + ": " + e.Reason
}

// dial is the client library's dialer: a plain TCP dial whose outcome is
// recorded for the round tracking and the error message.
func (c *Client) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var err error
	if c.CS.TLS != nil {
		// The handshake is part of the dial: a refused certificate shows
		// as this server's failure. ServerName comes from addr.
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, addr, c.CS.TLS)
		if err != nil && len(c.CS.TLS.Certificates) == 0 && strings.Contains(err.Error(), "remote error: tls:") {
			err = fmt.Errorf("%w (does the server want a client certificate? -tls-cert)", err)
		}
	} else {
		conn, err = net.DialTimeout(network, addr, timeout)
	}
	if err == nil && c.CS.SASL != nil {
		conn = &saslConn{Conn: conn, login: c.CS.SASL, failed: c.saslFailed, done: c.saslDone}
	}
	c.mu.Lock()
	c.dialErrs[addr] = err
	c.roundDials++
	if err == nil {
		c.roundDialOK = true
	}
	c.mu.Unlock()
	return conn, err
}

// roundTracker is go-zookeeper's DNSHostProvider telling the client when
// it has gone round the whole server list without a session (Next returns
// retryStart): if every dial of that round failed, every server refused.
type roundTracker struct {
	*zk.DNSHostProvider
	c *Client
}

func (h *roundTracker) Next() (string, bool) {
	s, retryStart := h.DNSHostProvider.Next()
	if retryStart {
		h.c.roundDone()
	}
	return s, retryStart
}

func (h *roundTracker) Connected() {
	h.DNSHostProvider.Connected()
	h.c.mu.Lock()
	h.c.roundDials, h.c.roundDialOK = 0, false
	h.c.mu.Unlock()
}

// roundDone closes a round over the server list. A round counts as refused
// only if it dialed something and every dial failed: after a session is
// lost the first round can be empty (one server, no dial yet).
func (c *Client) roundDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roundDials > 0 && !c.roundDialOK {
		c.refusedRounds++
		c.changed()
	}
	c.roundDials, c.roundDialOK = 0, false
}

// changed wakes the goroutines waiting for a state change. c.mu is held.
// saslFailed records a login a server refused; waiting for a session then
// ends with it.
func (c *Client) saslFailed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saslErr = err
	c.changed()
}

// saslDone records a login that succeeded.
func (c *Client) saslDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saslLoggedIn = true
}

func (c *Client) changed() {
	close(c.stateCh)
	c.stateCh = make(chan struct{})
}

// refusedError describes the last failed dial of every server: one reason
// for all when they agree ("connection refused"), else per server.
func (c *Client) refusedError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, 0, len(c.dialErrs))
	for a := range c.dialErrs {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	reasons := map[string]bool{}
	var parts []string
	for _, a := range addrs {
		r := "no session"
		if err := c.dialErrs[a]; err != nil {
			r = dialReason(err)
		}
		reasons[r] = true
		parts = append(parts, a+": "+r)
	}
	if len(addrs) == 0 {
		return &ConnectError{Servers: c.CS.Servers, Reason: "no server answered"}
	}
	if len(reasons) == 1 {
		for r := range reasons {
			return &ConnectError{Servers: addrs, Reason: r}
		}
	}
	return &ConnectError{Servers: c.CS.Servers, Reason: strings.Join(parts, "; ")}
}

// dialReason is the short cause of a failed dial or lookup, as a C
// program would print it: "connection refused", "connection timed out",
// "no such host".
func dialReason(err error) string {
	var dnsErr *net.DNSError
	var ne net.Error
	var se *os.SyscallError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host " + dnsErr.Name
		}
		return "lookup " + dnsErr.Name + ": " + dnsErr.Err
	case errors.As(err, &ne) && ne.Timeout():
		return "connection timed out"
	case errors.As(err, &se):
		return se.Err.Error()
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}
