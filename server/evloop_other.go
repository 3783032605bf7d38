//go:build !linux

package server

import "github.com/zkgo/zkgo/server/config"

// Event loops are made on Linux only (epoll): elsewhere every connection
// keeps a reading goroutine of its own.
type (
	evloop struct{}
	evconn struct{}
)

func (s *Server) startEvloops(int)         {}
func (s *Server) stopEvloops()             {}
func (s *Server) evloopFor(*conn) *evloop  { return nil }
func (l *evloop) adopt(*conn, []byte) bool { return false }
func (l *evloop) holdForWriter(*conn)      {}
func (c *conn) writerDrained()             {}
func (c *conn) leaveLoop()                 {}
func evloopCount(*config.Config) int       { return 0 }
