package server

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/zkgo/zkgo/fourletter"
)

func isWord(w string) bool { return fourletter.IsWord(w) }

// fourLetterWord answers a four-letter word on the client port and closes
// the connection, as Apache does. The rendering lives in package fourletter.
func (s *Server) fourLetterWord(c *conn, word string, r io.Reader) {
	c.packetReceived(4)
	c.inCommand.Store(true) // cons shows it with interest ops 0, as Apache's
	out, known := fourletter.Run(word, s.View(), nil)
	if !known {
		return
	}
	if word == "stmk" && out == "" {
		var mask [8]byte
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return
		}
		out = fourletter.TraceMaskReply(int64(binary.BigEndian.Uint64(mask[:])))
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, out); err == nil {
		// Apache's SendBufferWriter counts a packet sent each time it
		// flushes, which its BufferedWriter of 8192 chars makes it do
		// per 8192 chars and at the end.
		c.packetsSent(max(1, (len(out)+8191)/8192))
	}
}
