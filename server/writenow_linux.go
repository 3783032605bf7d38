//go:build linux

package server

import (
	"syscall"

	"github.com/zkgo/zkgo/internal/rawio"
)

// writeSome writes frames with one non-blocking writev and returns how
// many bytes the socket took; the caller holds the writing flag. Its
// callback for the socket is made once per connection: a closure per
// call, with the two variables it set, cost three allocations per answer.
// A connection without a raw socket (TLS) takes nothing here.
func (c *conn) writeSome(frames [][]byte) (int, error) {
	if c.raw == nil {
		return 0, nil
	}
	if c.wfn == nil {
		c.wfn = c.writev
	}
	c.wv = frames
	err := c.raw.Write(c.wfn)
	n, werr := c.wn, c.werr
	c.wv, c.werr = nil, nil
	if err == nil && werr != nil && werr != syscall.EAGAIN {
		err = werr
	}
	return max(n, 0), err
}

// writev is writeSome's callback for the socket: one non-blocking writev
// of c.wv, made raw (rawio), whose outcome it leaves in c.wn and c.werr.
func (c *conn) writev(fd uintptr) bool {
	c.wn, c.wiov, c.werr = rawio.Writev(fd, c.wv, c.wiov)
	return true
}
