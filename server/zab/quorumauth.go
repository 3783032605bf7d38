package zab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/zkgo/zkgo/internal/admit"
	"github.com/zkgo/zkgo/server/sasl"
)

// QuorumAuth is the members' DIGEST-MD5 logins to each other (zoo.cfg
// quorum.auth.enableSasl and the JAAS file's QuorumServer and
// QuorumLearner sections), as Apache's SaslQuorumAuthServer and
// SaslQuorumAuthLearner run them: the member that opens a connection (on
// the quorum, election or observer-master port) logs in before its first
// frame, and the member that accepts it checks the login first.
//
// The login is exchanged as Apache's QuorumAuthPacket records (magic
// number, status, token), each in a frame of its own: the dialer sends
// IN_PROGRESS with the empty first token, the acceptor answers with its
// challenge, the dialer with its digest response, and the acceptor ends
// with SUCCESS and rspauth (its proof that it knows the password too) or
// with ERROR.
type QuorumAuth struct {
	// ServerRequire (quorum.auth.serverRequireSasl) refuses a member that
	// connects without logging in. Without it such a member is let in, so
	// that logins can be turned on one member at a time.
	ServerRequire bool
	// LearnerRequire (quorum.auth.learnerRequireSasl) makes this member
	// log in to every member it connects to. Without it this member does
	// not log in at all (as Apache's learner: "Skipping SASL
	// authentication").
	LearnerRequire bool
	// Users are who may log in: user name → password.
	Users map[string]string
	// User and Password are this member's own login.
	User, Password string
	// Timeout bounds one login (zoo.cfg cnxTimeout); 0 means 5 s.
	Timeout time.Duration
}

// ErrQuorumAuth is a login between members that failed.
var ErrQuorumAuth = errors.New("quorum SASL authentication failed")

// The QuorumAuthPacket's magic number and statuses (QuorumAuth.java).
// Java's -0xa0dbcafecafe1234L negates a hex literal that is already
// negative as a long, so the magic number is positive.
const (
	quorumAuthMagic int64 = 0x5f2435013501edcc

	authInProgress int32 = 0
	authSuccess    int32 = 1
	authError      int32 = -1
)

// maxAuthRounds bounds the challenges an acceptor sends in one login
// (SaslQuorumAuthServer's MAX_RETRIES); DIGEST-MD5 needs two.
const maxAuthRounds = 5

func (a *QuorumAuth) timeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return 5 * time.Second
}

// marshalAuth encodes a QuorumAuthPacket: magic (8 bytes), status (4) and
// the token as a jute buffer (4-byte length, -1 for none, then the bytes).
func marshalAuth(status int32, token []byte) []byte {
	b := make([]byte, 16, 16+len(token))
	binary.BigEndian.PutUint64(b, uint64(quorumAuthMagic))
	binary.BigEndian.PutUint32(b[8:], uint32(status))
	n := int32(len(token))
	if token == nil {
		n = -1
	}
	binary.BigEndian.PutUint32(b[12:], uint32(n))
	return append(b, token...)
}

// isAuth reports whether a frame is a QuorumAuthPacket
// (QuorumAuth.nextPacketIsAuth: it starts with the magic number).
func isAuth(frame []byte) bool {
	return len(frame) >= 8 && int64(binary.BigEndian.Uint64(frame)) == quorumAuthMagic
}

func unmarshalAuth(frame []byte) (status int32, token []byte, err error) {
	if !isAuth(frame) || len(frame) < 16 {
		return 0, nil, fmt.Errorf("%w: not an authentication packet (%d bytes)", ErrQuorumAuth, len(frame))
	}
	status = int32(binary.BigEndian.Uint32(frame[8:]))
	n := int32(binary.BigEndian.Uint32(frame[12:]))
	switch {
	case n == -1 && len(frame) == 16:
		return status, nil, nil
	case n >= 0 && int(n) == len(frame)-16:
		return status, frame[16:], nil
	}
	return 0, nil, fmt.Errorf("%w: malformed authentication packet", ErrQuorumAuth)
}

func sendAuth(c Conn, status int32, token []byte) error {
	if err := c.Send(marshalAuth(status, token)); err != nil {
		return err
	}
	return c.Flush()
}

// login runs this member's side of the login on a connection it opened,
// when LearnerRequire asks it to log in.
func (a *QuorumAuth) login(c *streamConn) error {
	if !a.LearnerRequire {
		return nil
	}
	_ = c.c.SetDeadline(time.Now().Add(a.timeout()))
	defer c.c.SetDeadline(time.Time{})
	cl := &sasl.Client{User: a.User, Password: a.Password, Service: sasl.Quorum}
	tok, err := cl.Next(nil)
	if err != nil {
		return err
	}
	for {
		if err := sendAuth(c, authInProgress, tok); err != nil {
			return err
		}
		frame, err := c.Recv()
		if err != nil {
			return fmt.Errorf("%w: waiting for the member's answer: %v", ErrQuorumAuth, err)
		}
		status, token, err := unmarshalAuth(frame)
		if err != nil {
			return err
		}
		switch status {
		case authInProgress:
			if tok, err = cl.Next(token); err != nil {
				return fmt.Errorf("%w: %v", ErrQuorumAuth, err)
			}
		case authSuccess:
			if _, err := cl.Next(token); err != nil {
				return fmt.Errorf("%w: %v", ErrQuorumAuth, err)
			}
			if !cl.Done() {
				return fmt.Errorf("%w: the member ended the login early", ErrQuorumAuth)
			}
			return nil
		case authError:
			return fmt.Errorf("%w: the member refused the login as %q", ErrQuorumAuth, a.User)
		default:
			return fmt.Errorf("%w: unknown status %d", ErrQuorumAuth, status)
		}
	}
}

// check runs the accepting side on a new connection and returns the
// connection to use and the user the member logged in as: c itself, or,
// when a member that need not log in did not, c with its first frame put
// back (and no user). It fails for a login that
// fails, and for a member that did not log in when ServerRequire says it
// must; hosts are the hosts of the server lines, which a user named in
// Kerberos style (name/host@realm) must be on.
func (a *QuorumAuth) check(c *streamConn, hosts func() []string) (Conn, string, error) {
	_ = c.c.SetDeadline(time.Now().Add(a.timeout()))
	defer c.c.SetDeadline(time.Time{})
	frame, err := c.Recv()
	if err != nil {
		return nil, "", err
	}
	if !isAuth(frame) {
		if a.ServerRequire {
			return nil, "", fmt.Errorf("%w: the member did not log in, and quorum.auth.serverRequireSasl is true", ErrQuorumAuth)
		}
		return &firstFrameConn{streamConn: c, first: frame}, "", nil
	}
	srv := sasl.NewServer(func(user string) (string, bool) {
		p, ok := a.Users[user]
		return p, ok
	})
	srv.Service = sasl.Quorum
	x := srv.Start()
	for round := 1; ; round++ {
		_, token, err := unmarshalAuth(frame)
		if err != nil {
			return nil, "", err
		}
		answer, err := x.Next(token)
		if err == nil && x.Done() {
			if why := authorized(x.User(), x.Authzid(), hosts()); why != "" {
				err = fmt.Errorf("%w: %s", ErrQuorumAuth, why)
			}
		}
		if err == nil && !x.Done() && round >= maxAuthRounds {
			err = fmt.Errorf("%w: no login after %d rounds", ErrQuorumAuth, round)
		}
		if err != nil {
			// Tell the member, which gives up; Apache keeps such a
			// connection when logins are not required, but the member
			// closes it anyway.
			_ = sendAuth(c, authError, []byte{})
			return nil, "", err
		}
		if x.Done() {
			return c, x.User(), sendAuth(c, authSuccess, answer)
		}
		if err := sendAuth(c, authInProgress, answer); err != nil {
			return nil, "", err
		}
		if frame, err = c.Recv(); err != nil {
			return nil, "", err
		}
	}
}

// authorized is SaslQuorumServerCallbackHandler's AuthorizeCallback: the
// member acts as itself (no other authorization id), and a name of the
// form name/host@realm must have the host of a server line. It returns
// why not, or "".
func authorized(user, authzid string, hosts []string) string {
	if authzid != "" && authzid != user {
		return fmt.Sprintf("%q may not act as %q", user, authzid)
	}
	parts := splitJava(user) // Java's authorizationID.split("[/@]")
	if len(parts) != 3 || slices.Contains(hosts, parts[1]) {
		return ""
	}
	return fmt.Sprintf("%q names host %q, which no server line has", user, parts[1])
}

// splitJava splits s at every '/' and '@' as Java's String.split does:
// empty fields kept, except trailing ones.
func splitJava(s string) []string {
	var parts []string
	start := 0
	for i, r := range s {
		if r == '/' || r == '@' {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	parts = append(parts, s[start:])
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// firstFrameConn is a connection whose first frame was read to see
// whether it was a login; Recv hands it out first.
type firstFrameConn struct {
	*streamConn
	first []byte
}

func (c *firstFrameConn) Recv() ([]byte, error) {
	if f := c.first; f != nil {
		c.first = nil
		return f, nil
	}
	return c.streamConn.Recv()
}

func (c *firstFrameConn) Buffered() int {
	if c.first != nil {
		return len(c.first)
	}
	return c.streamConn.Buffered()
}

// authListener checks the login of every connection its listener accepts,
// each on a goroutine of its own, so that a slow or silent member holds up
// no other; Accept returns the connections that passed.
type authListener struct {
	*admit.Listener[Conn]
	auth  *QuorumAuth
	hosts func() []string
	log   *slog.Logger
}

func newAuthListener(ln net.Listener, auth *QuorumAuth, hosts func() []string, log *slog.Logger) *authListener {
	l := &authListener{auth: auth, hosts: hosts, log: log}
	l.Listener = admit.New(ln, l.admit)
	return l
}

func (l *authListener) admit(nc net.Conn) (Conn, bool) {
	sc := newStreamConn(nc)
	remote := nc.RemoteAddr().String()
	out, user, err := l.auth.check(sc, l.hosts)
	if err != nil {
		if errors.Is(err, ErrQuorumAuth) || errors.Is(err, sasl.ErrAuth) {
			l.log.Warn("member's login refused: closing connection", "remote", remote, "err", err)
		}
		_ = sc.Close()
		return nil, false
	}
	if user != "" {
		l.log.Info("member logged in", "remote", remote, "user", user)
	}
	return out, true
}
