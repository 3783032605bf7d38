package sasl

import (
	"errors"
	"testing"
)

// FuzzExchange feeds a server exchange the tokens a client could send: it
// must answer or fail with ErrAuth, never panic, and never let a client in
// that did not prove bob's password.
func FuzzExchange(f *testing.F) {
	c := &Client{User: "bob", Password: "bobsecret", cnonceFunc: func() string { return "cn" }}
	c.Next(nil)
	s := NewServer(users)
	s.nonce = func() string { return "n" }
	x := s.Start()
	ch, _ := x.Next(nil)
	good, _ := c.Next(ch)
	f.Add([]byte{}, good)
	f.Add([]byte{}, []byte(`username="bob",nonce="n",cnonce="cn",nc=00000001,digest-uri="zookeeper/zk-sasl-md5",response=00`))
	f.Add([]byte("x"), []byte(`a="\`))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		x := s.Start()
		if _, err := x.Next(first); err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("first token: %v", err)
			}
			return
		}
		rsp, err := x.Next(second)
		if err != nil {
			if !errors.Is(err, ErrAuth) || x.Done() {
				t.Fatalf("second token: %v, done %v", err, x.Done())
			}
			return
		}
		// Let in: the token must hold bob's (or zoë's, or kafka's) right
		// digest, which the client proves it computed the same way.
		d, perr := ParseDirectives(second)
		if perr != nil || !x.Done() || len(rsp) == 0 {
			t.Fatalf("accepted %q: %v, done %v", second, perr, x.Done())
		}
		pw, ok := users(x.AuthorizationID())
		if d["username"] == "" || (!ok && d["authzid"] == "") {
			t.Fatalf("accepted %q for %q (password known: %v %q)", second, x.AuthorizationID(), ok, pw)
		}
	})
}

// FuzzJAAS: any file content parses or fails with an error naming a line.
func FuzzJAAS(f *testing.F) {
	f.Add("Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n user_bob=\"x\";\n};\n")
	f.Add("A { m optional k='v' /* c */ k2=v2; }; // end")
	f.Add("/* open")
	f.Fuzz(func(t *testing.T, src string) {
		j, err := ParseJAAS(src)
		if err != nil {
			return
		}
		for name := range j {
			j.Users(name)
		}
	})
}
