//go:build !linux

package server

// writeSome writes nothing without blocking here: the callers' blocking
// paths (the writer goroutine, flushInline's write) send it all.
func (c *conn) writeSome([][]byte) (int, error) { return 0, nil }
