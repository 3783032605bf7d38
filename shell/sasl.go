package shell

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/zkgo/zkgo/server/sasl"
	"github.com/zkgo/zkgo/server/wire"
)

// SASLLogin is a DIGEST-MD5 login the client runs on every connection
// right after the session handshake, as ZooKeeper's Java client does with
// a JAAS Client section.
type SASLLogin struct {
	User, Password string
}

// ParseSASL reads -sasl's "user:password"; without ":password" the
// password comes from $ZK_SASL_PASSWORD.
func ParseSASL(s string) (*SASLLogin, error) {
	user, pw, ok := strings.Cut(s, ":")
	if !ok {
		pw, ok = os.LookupEnv("ZK_SASL_PASSWORD")
	}
	if user == "" || !ok {
		return nil, fmt.Errorf("-sasl wants user:password (or user, with the password in $ZK_SASL_PASSWORD)")
	}
	return &SASLLogin{User: user, Password: pw}, nil
}

// SASLFromJAAS reads the username and password of a JAAS file's Client
// section, the file zkCli.sh is given in CLIENT_JVMFLAGS
// (-Djava.security.auth.login.config).
func SASLFromJAAS(path string) (*SASLLogin, error) {
	j, err := sasl.ReadJAAS(path)
	if err != nil {
		return nil, err
	}
	user, pw, ok, err := j.Login("Client")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: no Client section with a username", path)
	}
	return &SASLLogin{User: user, Password: pw}, nil
}

// Dialer returns a dial function for clients other than the shell's
// (zk bench): TLS with tc when it is set, and the SASL login run around
// the session handshake when login is set, as the shell's own
// connections do. A refused login fails the connection's first read with
// ErrSASL.
func Dialer(tc *tls.Config, login *SASLLogin) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		if tc != nil {
			d := tls.Dialer{Config: tc}
			conn, err = d.DialContext(ctx, "tcp", addr)
		} else {
			var d net.Dialer
			conn, err = d.DialContext(ctx, "tcp", addr)
		}
		if err != nil || login == nil {
			return conn, err
		}
		return &saslConn{Conn: conn, login: login, failed: func(error) {}, done: func() {}}, nil
	}
}

// ErrSASL is a login the server refused.
var ErrSASL = errors.New("SASL login failed")

// saslConn runs the login on a fresh connection: it passes the session
// handshake's request through, reads the server's answer, logs in, and
// then hands the answer to the client library, which sends nothing before
// it has the answer. A refused login fails the read, and failed is told;
// done is told of one that succeeded.
type saslConn struct {
	net.Conn
	login  *SASLLogin
	failed func(error) // the server refused the login
	done   func()      // the login succeeded

	once    sync.Once
	pending []byte // the handshake's answer, for the library
	err     error
}

// maxSASLFrame bounds the frames read during the login.
const maxSASLFrame = 1 << 20

func (c *saslConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		if c.pending, c.err = readFrame(c.Conn); c.err != nil {
			return
		}
		switch c.err = c.run(); {
		case c.err == nil:
			c.done()
		case errors.Is(c.err, ErrSASL):
			c.failed(c.err)
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// run exchanges SASL packets until the client has checked the server's
// proof.
func (c *saslConn) run() error {
	cl := &sasl.Client{User: c.login.User, Password: c.login.Password}
	var fromServer []byte
	for xid := int32(1); ; xid++ {
		tok, err := cl.Next(fromServer)
		if err != nil {
			return fmt.Errorf("%w as %s: %v", ErrSASL, c.login.User, err)
		}
		if cl.Done() {
			return nil
		}
		e := wire.NewEncoder(make([]byte, 4, 64+len(tok)))
		(&wire.RequestHeader{Xid: xid, Type: wire.OpSASL}).Encode(e)
		(&wire.SASLToken{Token: tok}).Encode(e)
		frame := e.Bytes()
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		if _, err := c.Conn.Write(frame); err != nil {
			return err
		}
		f, err := readFrame(c.Conn)
		if err != nil {
			return err
		}
		d := wire.NewDecoder(f[4:])
		var h wire.ReplyHeader
		h.Decode(d)
		var resp wire.SASLToken
		resp.Decode(d)
		switch {
		case d.Err() != nil:
			return fmt.Errorf("%w: malformed answer: %v", ErrSASL, d.Err())
		case h.Xid != xid:
			return fmt.Errorf("%w: answer to xid %d, want %d", ErrSASL, h.Xid, xid)
		case h.Err != wire.CodeOK:
			return fmt.Errorf("%w as %s: %v", ErrSASL, c.login.User, h.Err)
		case resp.Token == nil:
			// A server without SASL logins answers OK and nothing more
			// (so does one that keeps failed clients,
			// allowSaslFailedClients).
			return fmt.Errorf("%w as %s: the server has no SASL logins, or refused this one", ErrSASL, c.login.User)
		}
		fromServer = resp.Token
	}
}

// readFrame reads one length-prefixed frame, prefix included.
func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxSASLFrame {
		return nil, fmt.Errorf("%w: a %d-byte frame", ErrSASL, size)
	}
	f := make([]byte, 4+size)
	copy(f, n[:])
	_, err := io.ReadFull(r, f[4:])
	return f, err
}
