package zab

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/zkgo/zkgo/internal/rawio"
	"github.com/zkgo/zkgo/internal/tlsnet"
	"github.com/zkgo/zkgo/server/config"
)

// Channel says which of a server's two ports a connection is for.
type Channel int

const (
	// ChannelQuorum is the leader↔learner port (server.N's first port).
	ChannelQuorum Channel = iota
	// ChannelElection is the leader-election port (server.N's second port).
	ChannelElection
	// ChannelObserverMaster is the port on which a follower serves
	// observers (zoo.cfg observerMasterPort): as Apache's, one value for
	// the ensemble, on each voter's server.N host.
	ChannelObserverMaster
)

func (c Channel) String() string {
	switch c {
	case ChannelQuorum:
		return "quorum"
	case ChannelElection:
		return "election"
	}
	return "observer master"
}

// Conn is a reliable, ordered stream of frames between two members. Send
// may buffer (a copy: the caller may reuse frame once Send returns);
// Flush pushes what was sent. Send/Flush are called by one goroutine at a
// time (a sendQueue's writer, or send's caller in its stead) and Recv from
// another; Close may be called from any goroutine and unblocks both.
type Conn interface {
	Send(frame []byte) error
	Flush() error
	Recv() ([]byte, error)
	Close() error
}

// Listener accepts the connections other members dial to this one.
type Listener interface {
	Accept() (Conn, error)
	Close() error
}

// Transport connects the members of an ensemble. The default (Config.
// Transport nil) is TCP on the ports of Config.Servers; tests substitute
// one that drops, delays, duplicates and partitions (package zabtest).
type Transport interface {
	// Listen opens this member's listener for ch.
	Listen(ch Channel) (Listener, error)
	// Dial connects to member id's listener for ch.
	Dial(ctx context.Context, id int64, ch Channel) (Conn, error)
}

// NewTCPTransport is the production transport: it listens on and dials the
// host:quorumPort / host:electionPort of each config.Server.
func NewTCPTransport(myID int64, servers []config.Server) Transport {
	return &tcpTransport{myID: myID, servers: servers}
}

type tcpTransport struct {
	myID      int64
	omPort    int  // observerMasterPort, 0 = off
	listenAll bool // quorumListenOnAllIPs
	tls       *TLS
	auth      *QuorumAuth // nil: members do not log in
	log       *slog.Logger
	mu        sync.Mutex
	servers   []config.Server
}

// TLS is the TCP transport's TLS setting (zoo.cfg's sslQuorum,
// portUnification and ssl.quorum.* keys, built by package tlsnet).
type TLS struct {
	// Stores has the configurations that accept members' connections
	// and dial them; both present this member's certificate and check the
	// other's.
	Stores *tlsnet.Stores
	// Dial: connections this member opens are TLS (sslQuorum=true).
	Dial bool
	// Unified: the ports accept plain connections too (portUnification).
	Unified bool
	// VerifyNames: a member's certificate must name its address
	// (ssl.quorum.hostnameVerification, on by default).
	VerifyNames bool
	// ReverseDNS: a member connecting here may instead be named by what
	// its address resolves back to (ssl.quorum.allowReverseDnsLookup,
	// on by default).
	ReverseDNS bool
}

// SetServers replaces the addresses (after a reconfig). The listening
// ports stay those this member started with.
func (t *tcpTransport) SetServers(servers []config.Server) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := make(map[int64]bool)
	for _, s := range servers {
		keep[s.ID] = true
	}
	// Keep our own line even when the new membership lacks us.
	for _, s := range t.servers {
		if s.ID == t.myID && !keep[s.ID] {
			servers = append(slices.Clone(servers), s)
		}
	}
	t.servers = servers
}

func (t *tcpTransport) addr(id int64, ch Channel) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.servers {
		if s.ID == id {
			port := s.QuorumPort
			switch ch {
			case ChannelElection:
				port = s.ElectionPort
			case ChannelObserverMaster:
				if t.omPort <= 0 {
					return "", errors.New("observerMasterPort is not set")
				}
				port = t.omPort
			}
			return net.JoinHostPort(s.Host, strconv.Itoa(port)), nil
		}
	}
	return "", fmt.Errorf("server %d is not in the configuration", id)
}

// listenAddr is where this member listens for ch: its own server line's
// host and port, or every address with quorumListenOnAllIPs.
func (t *tcpTransport) listenAddr(ch Channel) (string, error) {
	a, err := t.addr(t.myID, ch)
	if err != nil || !t.listenAll {
		return a, err
	}
	_, port, err := net.SplitHostPort(a)
	return net.JoinHostPort("", port), err
}

func (t *tcpTransport) Listen(ch Channel) (Listener, error) {
	a, err := t.listenAddr(ch)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", a)
	if err != nil {
		return nil, fmt.Errorf("listen on %s port: %w", ch, err)
	}
	if t.tls != nil {
		names := tlsnet.AnyName
		switch {
		case t.tls.VerifyNames && t.tls.ReverseDNS:
			names = tlsnet.AddressOrReverseName
		case t.tls.VerifyNames:
			names = tlsnet.AddressName
		}
		tc := tlsnet.Accepting(t.tls.Stores.Server, names)
		l = tlsnet.NewListener(l, tc, t.tls.Unified, t.logger().With("port", ch.String()))
	}
	if t.auth != nil {
		return newAuthListener(l, t.auth, t.hosts, t.logger().With("port", ch.String())), nil
	}
	return TCPListener(l), nil
}

func (t *tcpTransport) logger() *slog.Logger {
	if t.log == nil {
		return slog.Default()
	}
	return t.log
}

// hosts are the hosts of the server lines.
func (t *tcpTransport) hosts() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs := make([]string, len(t.servers))
	for i, s := range t.servers {
		hs[i] = s.Host
	}
	return hs
}

func (t *tcpTransport) Dial(ctx context.Context, id int64, ch Channel) (Conn, error) {
	a, err := t.addr(id, ch)
	if err != nil {
		return nil, err
	}
	var c net.Conn
	if t.tls != nil && t.tls.Dial {
		c, err = tlsnet.Dial(ctx, t.tls.Stores.Client(), a, t.tls.VerifyNames)
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", a)
	}
	if err != nil {
		return nil, fmt.Errorf("dial server %d %s port %s: %w", id, ch, a, err)
	}
	sc := newStreamConn(c)
	if t.auth != nil {
		if err := t.auth.login(sc); err != nil {
			_ = sc.Close()
			err = fmt.Errorf("log in to server %d %s port %s: %w", id, ch, a, err)
			if errors.Is(err, ErrQuorumAuth) {
				t.logger().Warn("quorum SASL login failed", "err", err)
			}
			return nil, err
		}
	}
	return sc, nil
}

// TCPListener wraps a net.Listener so that it yields framed Conns.
func TCPListener(l net.Listener) Listener { return tcpListener{l} }

type tcpListener struct{ l net.Listener }

func (l tcpListener) Accept() (Conn, error) {
	c, err := l.l.Accept()
	if err != nil {
		return nil, err
	}
	return NewStreamConn(c), nil
}

func (l tcpListener) Close() error { return l.l.Close() }

// NewStreamConn frames a byte stream: each frame is a 4-byte big-endian
// length and that many bytes (at most MaxFrame).
func NewStreamConn(c net.Conn) Conn { return newStreamConn(c) }

func newStreamConn(c net.Conn) *streamConn {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	rw := rawio.Wrap(c)
	return &streamConn{c: c, r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10)}
}

type streamConn struct {
	c         net.Conn
	r         *bufio.Reader
	w         *bufio.Writer
	closeOnce sync.Once
}

var errFrameTooLarge = errors.New("frame too large")

func (s *streamConn) Send(frame []byte) error {
	if len(frame) > MaxFrame {
		return fmt.Errorf("send %d bytes: %w", len(frame), errFrameTooLarge)
	}
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(frame)))
	if _, err := s.w.Write(h[:]); err != nil {
		return err
	}
	_, err := s.w.Write(frame)
	return err
}

func (s *streamConn) Flush() error { return s.w.Flush() }

func (s *streamConn) Recv() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("receive %d bytes: %w", n, errFrameTooLarge)
	}
	// Grow the frame as its bytes arrive: a length prefix alone (a peer
	// that lies or stalls) never costs its length in memory.
	const chunk = 64 << 10
	b := make([]byte, 0, min(int(n), chunk))
	for len(b) < int(n) {
		m := min(int(n)-len(b), chunk)
		if cap(b)-len(b) < m {
			// Double (not append's 1.25x for large slices): few copies.
			b = slices.Grow(b, max(m, min(int(n), 2*cap(b))-len(b)))
		}
		k, err := io.ReadFull(s.r, b[len(b):len(b)+m])
		b = b[:len(b)+k]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Buffered is how many received bytes wait in the read buffer; call it
// from the goroutine that calls Recv.
func (s *streamConn) Buffered() int { return s.r.Buffered() }

// quiet reports whether nothing more from c's peer is buffered, so that
// the reader may do the work of a packet itself (a Conn that cannot tell
// counts as quiet); call it from the goroutine that calls c.Recv.
func quiet(c Conn) bool {
	b, ok := c.(interface{ Buffered() int })
	return !ok || b.Buffered() == 0
}

func (s *streamConn) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.c.Close() })
	return err
}
