package shell

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/zkpath"
)

// ConnectString is a parsed zkCli-style server list:
// host:port[,host:port...][/chroot].
type ConnectString struct {
	Servers []string // host:port, port defaulted to 2181
	Chroot  string   // "" or "/a/b"
	// TLS, when not nil, makes every connection a TLS one (the servers'
	// secureClientPort); it is not part of the string.
	TLS *tls.Config
	// SASL, when not nil, logs every connection in (DIGEST-MD5); not
	// part of the string either.
	SASL *SASLLogin
}

// ParseConnectString parses "host:port[,host:port...][/chroot]" as
// ZooKeeper's ConnectStringParser does: the chroot starts at the first '/'.
func ParseConnectString(s string) (ConnectString, error) {
	var cs ConnectString
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		root := s[i:]
		s = s[:i]
		if len(root) > 1 {
			root = strings.TrimSuffix(root, "/")
			if err := ValidatePath(root); err != nil {
				return cs, fmt.Errorf("invalid chroot %q: %w", root, err)
			}
			cs.Chroot = root
		}
	}
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") || strings.HasSuffix(h, "]") {
			h += ":2181"
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			var ae *net.AddrError
			if errors.As(err, &ae) {
				return cs, fmt.Errorf("bad server address %q: %s", h, ae.Err)
			}
			return cs, fmt.Errorf("bad server address %q: %w", h, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return cs, fmt.Errorf("bad server address %q: port %q is not a number from 1 to 65535", h, port)
		}
		if host == "" {
			return cs, fmt.Errorf("bad server address %q: no host", h)
		}
		cs.Servers = append(cs.Servers, h)
	}
	if len(cs.Servers) == 0 {
		return cs, errors.New("empty server list")
	}
	return cs, nil
}

// String gives the connect string back in zkCli form.
func (cs ConnectString) String() string {
	return strings.Join(cs.Servers, ",") + cs.Chroot
}

// ValidatePath checks a znode path as ZooKeeper's PathUtils does, with its
// messages (package zkpath).
func ValidatePath(p string) error { return zkpath.Validate(p) }

// Event is a watch or session event, with the path relative to the chroot.
type Event struct {
	Type  zk.EventType
	State zk.State
	Path  string
	Err   error
}

// Client wraps a go-zookeeper connection: it applies the chroot, waits for
// the session with a deadline instead of hanging, and adds the 3.6+
// opcodes the library lacks (whoAmI, getEphemerals, getAllChildrenNumber,
// addWatch, removeWatches).
type Client struct {
	Conn    *zk.Conn
	CS      ConnectString
	logger  *slog.Logger
	timeout time.Duration

	mu       sync.Mutex
	events   []Event
	notify   chan struct{}
	state    zk.State
	stateCh  chan struct{} // closed and replaced on every state change
	authInfo []string

	// Watches the completer set for itself (path -> true), the one-shot
	// watches the user set, and whether the user set persistent watches:
	// events only the completer asked for are not shown to the user.
	internalChild map[string]bool
	userWatch     map[string]bool
	persistent    bool
	cache         map[string]childCacheEntry

	// Connection tracking (see connect.go): the last dial result per
	// address, whether a dial of the current round over the server list
	// succeeded, and how many whole rounds had every dial fail.
	dialErrs      map[string]error
	saslErr       error // the last SASL login a server refused
	saslLoggedIn  bool  // a login succeeded; shown after the session event
	roundDials    int
	roundDialOK   bool
	refusedRounds int
	hadSession    bool
	sessionID     int64

	// Persistent watches the user set (server path -> AddWatch mode), to
	// be set again after a reconnect (see rewatch.go).
	persistentWatches map[string]int32
	closed            chan struct{}
	closeOnce         sync.Once
}

// Dial opens a session to cs (timeout is the session timeout) and waits
// for it to be established: it fails as soon as every server of the list
// has refused the connection, or after ConnectWait(timeout) without a
// session. Watch and session events are queued and read with Events.
func Dial(ctx context.Context, cs ConnectString, timeout time.Duration, logger *slog.Logger) (*Client, error) {
	c, err := DialAsync(cs, timeout, logger)
	if err != nil {
		return nil, err
	}
	if err := c.waitConnected(ctx, ConnectWait(timeout), 0); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// DialAsync starts connecting to cs and returns at once; the client
// reconnects by itself until Close.
func DialAsync(cs ConnectString, timeout time.Duration, logger *slog.Logger) (*Client, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{CS: cs, logger: logger, internalChild: map[string]bool{}, userWatch: map[string]bool{}, cache: map[string]childCacheEntry{},
		notify: make(chan struct{}, 1), stateCh: make(chan struct{}), state: zk.StateDisconnected, timeout: timeout,
		dialErrs: map[string]error{}, persistentWatches: map[string]int32{}, closed: make(chan struct{})}
	conn, _, err := zk.Connect(cs.Servers, timeout,
		zk.WithLogger(slogPrinter{logger}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(c.onEvent),
		zk.WithDialer(c.dial),
		zk.WithHostProvider(&roundTracker{DNSHostProvider: zk.NewDNSHostProvider(), c: c}),
	)
	if err != nil {
		return nil, &ConnectError{Servers: cs.Servers, Reason: dialReason(err)}
	}
	c.mu.Lock()
	c.Conn = conn
	c.mu.Unlock()
	return c, nil
}

// WaitConnected waits until the client has a session, the context ends,
// timeout passes, or every server of the list refuses the connection
// (a *ConnectError) while it waits.
func (c *Client) WaitConnected(ctx context.Context, timeout time.Duration) error {
	c.mu.Lock()
	since := c.refusedRounds
	c.mu.Unlock()
	return c.waitConnected(ctx, timeout, since)
}

// waitConnected is WaitConnected counting the rounds of refusals after
// the since-th.
func (c *Client) waitConnected(ctx context.Context, timeout time.Duration, since int) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		c.mu.Lock()
		st, ch, refused, saslErr := c.state, c.stateCh, c.refusedRounds, c.saslErr
		c.mu.Unlock()
		switch st {
		case zk.StateHasSession:
			return nil
		case zk.StateAuthFailed:
			return fmt.Errorf("connect %s: authentication failed", c.CS)
		}
		if saslErr != nil {
			return fmt.Errorf("connect %s: %w", c.CS, saslErr)
		}
		if refused > since {
			return c.refusedError()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("connect %s: %w", c.CS, ctx.Err())
		case <-t.C:
			return &ConnectError{Servers: c.CS.Servers, Reason: fmt.Sprintf("no session within %v", timeout)}
		}
	}
}

type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "zk-client")
}

func (c *Client) onEvent(ev zk.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Type == zk.EventSession {
		if ev.State != c.state {
			c.state = ev.State
			c.changed()
		}
		switch ev.State {
		case zk.StateHasSession:
			c.sessionUp()
		case zk.StateExpired:
			c.sessionExpired()
		}
		// Only the states zkCli.sh shows as a WatchedEvent are queued.
		switch ev.State {
		case zk.StateHasSession, zk.StateDisconnected, zk.StateExpired, zk.StateAuthFailed, zk.StateConnectedReadOnly:
		default:
			return
		}
	}
	if ev.Type == zk.EventNotWatching {
		return
	}
	if ev.Type != zk.EventSession {
		p := c.strip(ev.Path)
		delete(c.cache, p)
		if ev.Type == zk.EventNodeDeleted || ev.Type == zk.EventNodeCreated {
			delete(c.cache, parentOf(p))
		}
		internal := c.internalChild[p] && (ev.Type == zk.EventNodeChildrenChanged || ev.Type == zk.EventNodeDeleted)
		delete(c.internalChild, p)
		user := c.userWatch[p]
		delete(c.userWatch, p)
		if internal && !user && !c.persistent {
			return
		}
	}
	c.events = append(c.events, Event{Type: ev.Type, State: ev.State, Path: c.strip(ev.Path), Err: ev.Err})
	if ev.Type == zk.EventSession && ev.State == zk.StateHasSession && c.saslLoggedIn {
		// zkCli.sh shows the login after the connection.
		c.saslLoggedIn = false
		c.events = append(c.events, Event{Type: zk.EventSession, State: zk.StateSaslAuthenticated})
	}
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Notify is signalled (without blocking the sender) when events are queued.
func (c *Client) Notify() <-chan struct{} { return c.notify }

// Events removes and returns the queued events.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

// State is the last session state reported by the connection.
func (c *Client) State() zk.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Close closes the session.
func (c *Client) Close() {
	c.closeOnce.Do(func() { close(c.closed) })
	if c.Conn != nil {
		c.Conn.Close()
	}
}

// abs applies the chroot to a client path.
func (c *Client) abs(p string) string {
	if c.CS.Chroot == "" {
		return p
	}
	if p == "/" {
		return c.CS.Chroot
	}
	return c.CS.Chroot + p
}

// strip removes the chroot from a server path.
func (c *Client) strip(p string) string {
	if c.CS.Chroot == "" || p == "" {
		return p
	}
	if p == c.CS.Chroot {
		return "/"
	}
	if strings.HasPrefix(p, c.CS.Chroot+"/") {
		return p[len(c.CS.Chroot):]
	}
	return p
}

// Get reads a znode's data and Stat; with watch it also sets a data watch.
func (c *Client) Get(p string, watch bool) ([]byte, *zk.Stat, error) {
	if watch {
		c.markUserWatch(p)
		d, st, _, err := c.Conn.GetW(c.abs(p))
		return d, st, err
	}
	return c.Conn.Get(c.abs(p))
}

// Children lists a znode's children (unsorted) and its Stat.
func (c *Client) Children(p string, watch bool) ([]string, *zk.Stat, error) {
	if watch {
		c.markUserWatch(p)
		ch, st, _, err := c.Conn.ChildrenW(c.abs(p))
		return ch, st, err
	}
	return c.Conn.Children(c.abs(p))
}

// Exists returns the Stat of p, or nil when it does not exist; with watch it
// sets an exist/data watch.
func (c *Client) Exists(p string, watch bool) (*zk.Stat, error) {
	var ok bool
	var st *zk.Stat
	var err error
	if watch {
		c.markUserWatch(p)
		ok, st, _, err = c.Conn.ExistsW(c.abs(p))
	} else {
		ok, st, err = c.Conn.Exists(c.abs(p))
	}
	if err != nil || !ok {
		return nil, err
	}
	return st, nil
}

// CreateMode is the node type of a create.
type CreateMode struct {
	Sequential, Ephemeral, Container bool
	TTL                              time.Duration
}

// Create creates p and returns the actual path (with the sequence suffix).
func (c *Client) Create(p string, data []byte, m CreateMode, acl []zk.ACL) (string, error) {
	var flags int32
	if m.Ephemeral {
		flags |= zk.FlagEphemeral
	}
	if m.Sequential {
		flags |= zk.FlagSequence
	}
	var (
		out string
		err error
	)
	switch {
	case m.Container:
		out, err = c.Conn.CreateContainer(c.abs(p), data, zk.FlagContainer, acl)
	case m.TTL > 0:
		f := int32(zk.FlagTTL)
		if m.Sequential {
			f = zk.FlagPersistentSequentialWithTTL
		}
		out, err = c.Conn.CreateTTL(c.abs(p), data, f, acl, m.TTL)
	default:
		out, err = c.Conn.Create(c.abs(p), data, flags, acl)
	}
	return c.strip(out), err
}

// Set writes data with an expected version (-1 for any).
func (c *Client) Set(p string, data []byte, version int32) (*zk.Stat, error) {
	return c.Conn.Set(c.abs(p), data, version)
}

// Delete deletes p with an expected version (-1 for any).
func (c *Client) Delete(p string, version int32) error {
	return c.Conn.Delete(c.abs(p), version)
}

// GetACL reads the ACL and Stat of p.
func (c *Client) GetACL(p string) ([]zk.ACL, *zk.Stat, error) {
	return c.Conn.GetACL(c.abs(p))
}

// SetACL replaces the ACL of p with an expected aversion (-1 for any).
func (c *Client) SetACL(p string, acl []zk.ACL, version int32) (*zk.Stat, error) {
	return c.Conn.SetACL(c.abs(p), acl, version)
}

// Sync asks the connected server to catch up with the leader on p.
func (c *Client) Sync(p string) error {
	_, err := c.Conn.Sync(c.abs(p))
	return err
}

// AddAuth adds an auth identity to the session.
func (c *Client) AddAuth(scheme string, auth []byte) error {
	err := c.Conn.AddAuth(scheme, auth)
	if err == nil {
		c.mu.Lock()
		c.authInfo = append(c.authInfo, scheme)
		c.mu.Unlock()
	}
	return err
}

// Multi runs ops atomically. Paths in ops must already be absolute
// (use MultiCreate/MultiDelete helpers).
func (c *Client) Multi(ops ...any) ([]zk.MultiResponse, error) {
	return c.Conn.Multi(ops...)
}

// MultiCreate builds a create op for Multi with the chroot applied.
func (c *Client) MultiCreate(p string, data []byte, flags int32, acl []zk.ACL) *zk.CreateRequest {
	return &zk.CreateRequest{Path: c.abs(p), Data: data, Acl: acl, Flags: flags}
}

// MultiDelete builds a delete op for Multi with the chroot applied.
func (c *Client) MultiDelete(p string, version int32) *zk.DeleteRequest {
	return &zk.DeleteRequest{Path: c.abs(p), Version: version}
}

// JoinPath joins a parent and child name into a znode path.
func JoinPath(parent, child string) string {
	if parent == "/" {
		return "/" + child
	}
	return parent + "/" + child
}

// BaseName returns the last component of a path ("/" for the root).
func BaseName(p string) string {
	if p == "/" {
		return "/"
	}
	return path.Base(p)
}
