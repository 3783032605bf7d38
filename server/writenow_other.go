//go:build !linux

package server

// writeNow hands the queued frames to the connection's writer goroutine.
func (c *conn) writeNow() { c.wakeWriter() }
