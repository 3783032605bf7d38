package zab

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
)

// authPair is member 1 accepting on a loopback port with acceptor's
// logins, and member 2's transport dialing it with dialer's (nil: no
// logins configured).
func authPair(t *testing.T, acceptor, dialer *QuorumAuth, hosts ...string) (*acceptedConns, *tcpTransport) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	al := &acceptedConns{newAuthListener(ln, acceptor, func() []string { return hosts }, slog.New(slog.DiscardHandler)), make(chan Conn, 16)}
	t.Cleanup(func() { al.Close() })
	go func() {
		for {
			c, err := al.Accept()
			if err != nil {
				return
			}
			al.conns <- c
		}
	}()
	servers := []config.Server{
		{ID: 1, Host: "127.0.0.1", QuorumPort: port, ElectionPort: port},
		{ID: 2, Host: "127.0.0.1", QuorumPort: 1, ElectionPort: 1},
	}
	tr := NewTCPTransport(2, servers).(*tcpTransport)
	tr.auth, tr.log = dialer, slog.New(slog.DiscardHandler)
	return al, tr
}

// acceptedConns is an authListener whose connections a goroutine accepts
// as they pass, for the test to take.
type acceptedConns struct {
	*authListener
	conns chan Conn
}

// accept returns the next connection al lets through, or nil when none
// comes within d.
func accept(al *acceptedConns, d time.Duration) Conn {
	select {
	case c := <-al.conns:
		return c
	case <-time.After(d):
		return nil
	}
}

var quorumUsers = map[string]string{"zk1": "pw1", "zk2": "pw2"}

// TestQuorumAuth: who gets through a member's quorum port, by the
// members' quorum.auth settings (Apache's SaslQuorumAuthServer and
// SaslQuorumAuthLearner): a member that logs in with a known user and
// its password does, and its first frame arrives intact; a wrong password
// or unknown user fails the dialer's login and never reaches the
// acceptor's Accept; a member that does not log in gets through unless
// the acceptor requires logins, and then its connection is closed.
func TestQuorumAuth(t *testing.T) {
	login := func(user, pw string) *QuorumAuth {
		return &QuorumAuth{LearnerRequire: true, ServerRequire: true, Users: quorumUsers, User: user, Password: pw}
	}
	for _, tc := range []struct {
		name             string
		acceptor, dialer *QuorumAuth
		hosts            []string
		loginFails       bool // Dial fails with ErrQuorumAuth
		through          bool // the connection reaches Accept
	}{
		{"both require, right password", login("zk1", "pw1"), login("zk2", "pw2"), nil, false, true},
		{"wrong password", login("zk1", "pw1"), login("zk2", "nope"), nil, true, false},
		{"unknown user", login("zk1", "pw1"), login("zk9", "pw2"), nil, true, false},
		{"dialer does not log in, acceptor requires", login("zk1", "pw1"), &QuorumAuth{Users: quorumUsers}, nil, false, false},
		{"dialer without quorum SASL, acceptor requires", login("zk1", "pw1"), nil, nil, false, false},
		{"dialer does not log in, acceptor does not require", &QuorumAuth{Users: quorumUsers}, &QuorumAuth{}, nil, false, true},
		{"dialer logs in, acceptor does not require", &QuorumAuth{Users: quorumUsers}, login("zk2", "pw2"), nil, false, true},
		{"dialer logs in, acceptor does not require, wrong password", &QuorumAuth{Users: quorumUsers}, login("zk2", "bad"), nil, true, false},
		{"Kerberos-style name on a member's host",
			&QuorumAuth{ServerRequire: true, Users: map[string]string{"zk/127.0.0.1@EXAMPLE": "k"}},
			login("zk/127.0.0.1@EXAMPLE", "k"), []string{"127.0.0.1"}, false, true},
		{"Kerberos-style name on another host",
			&QuorumAuth{ServerRequire: true, Users: map[string]string{"zk/10.9.9.9@EXAMPLE": "k"}},
			login("zk/10.9.9.9@EXAMPLE", "k"), []string{"127.0.0.1"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al, tr := authPair(t, tc.acceptor, tc.dialer, tc.hosts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := tr.Dial(ctx, 1, ChannelQuorum)
			if tc.loginFails {
				if !errors.Is(err, ErrQuorumAuth) {
					t.Fatalf("Dial: %v; want the login refused (ErrQuorumAuth)", err)
				}
			} else if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if c != nil {
				defer c.Close()
				first := []byte("FOLLOWERINFO of member 2")
				if err := c.Send(first); err != nil {
					t.Fatal(err)
				}
				if err := c.Flush(); err != nil {
					t.Fatal(err)
				}
				if !tc.through {
					// Refused after the first frame: the acceptor closes
					// the connection without a word.
					if b, err := c.Recv(); err == nil {
						t.Fatalf("refused connection got frame %q", b)
					}
				}
			}
			// Refusals happen before Accept, on the listener's own
			// goroutine; a refused connection never shows up. A good one
			// arrives within the login's time.
			wait := 5 * time.Second
			if !tc.through {
				wait = 300 * time.Millisecond
			}
			got := accept(al, wait)
			if (got != nil) != tc.through {
				t.Fatalf("connection reached Accept: %v; want %v", got != nil, tc.through)
			}
			if got == nil {
				return
			}
			defer got.Close()
			b, err := got.Recv()
			if err != nil || string(b) != "FOLLOWERINFO of member 2" {
				t.Fatalf("first frame after the login: %q, %v", b, err)
			}
			// And both ways after it.
			if err := got.Send([]byte("LEADERINFO")); err != nil {
				t.Fatal(err)
			}
			got.Flush()
			if b, err := c.Recv(); err != nil || string(b) != "LEADERINFO" {
				t.Fatalf("reply: %q, %v", b, err)
			}
		})
	}
}

// TestQuorumAuthHostile: an acceptor that requires logins drops, without
// hanging or panicking, a peer that sends malformed login packets or a
// bad response, and one that says nothing (once its login's time is up).
func TestQuorumAuthHostile(t *testing.T) {
	acceptor := &QuorumAuth{ServerRequire: true, LearnerRequire: true, Users: quorumUsers, Timeout: 500 * time.Millisecond}
	al, _ := authPair(t, acceptor, nil)
	addr := al.Addr().String()
	magic := marshalAuth(authInProgress, nil)[:8]
	for _, tc := range []struct {
		name   string
		frames [][]byte
	}{
		{"magic only", [][]byte{magic}},
		{"token length past the frame", [][]byte{append(marshalAuth(authInProgress, []byte("ab"))[:16], 'a')}},
		{"negative token length", [][]byte{append(append([]byte{}, magic...), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe)}},
		{"first token not empty", [][]byte{marshalAuth(authInProgress, []byte("username=zk1"))}},
		{"garbage response", [][]byte{marshalAuth(authInProgress, []byte{}), marshalAuth(authInProgress, []byte("\x00\xff=,,\""))}},
		{"silent", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			c := NewStreamConn(nc)
			for _, f := range tc.frames {
				c.Send(f)
			}
			c.Flush()
			// The acceptor answers each login packet it can read and
			// then closes: read until the connection ends.
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			for {
				b, err := c.Recv()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("the acceptor neither answered nor closed the connection")
					}
					break
				}
				if status, _, err := unmarshalAuth(b); err != nil || status == authSuccess {
					t.Fatalf("answer %q: status %d, %v", b, status, err)
				}
			}
			if got := accept(al, 100*time.Millisecond); got != nil {
				t.Fatal("a hostile peer reached Accept")
			}
		})
	}
}

// TestQuorumAuthPacketBytes: the packet is Apache's QuorumAuthPacket
// record: magic 0x5f2435013501edcc (what Java makes of
// -0xa0dbcafecafe1234L), status, and the token as a jute buffer.
func TestQuorumAuthPacketBytes(t *testing.T) {
	got := marshalAuth(authSuccess, []byte("rspauth=x"))
	want := []byte{0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc, 0, 0, 0, 1, 0, 0, 0, 9}
	want = append(want, "rspauth=x"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("packet % x\nwant   % x", got, want)
	}
	if b := marshalAuth(authError, nil); !bytes.Equal(b[8:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("ERROR with no token: % x", b)
	}
	for _, s := range []int32{authInProgress, authSuccess, authError} {
		st, tok, err := unmarshalAuth(marshalAuth(s, []byte(strconv.Itoa(int(s)))))
		if err != nil || st != s || string(tok) != strconv.Itoa(int(s)) {
			t.Fatalf("round trip of status %d: %d %q %v", s, st, tok, err)
		}
	}
}
