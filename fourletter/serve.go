package fourletter

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Serve answers a four-letter word on a client connection whose first
// four bytes were word, as NIOServerCnxn.checkFourLetterWord does: it
// renders the word with Run, reads the 8-byte mask that follows stmk, and
// writes the reply. It returns known=false, writing nothing, when word is
// not a four-letter word (the bytes are a frame length). After a known
// word the caller closes the connection (Apache closes after writing).
func Serve(rw io.ReadWriter, word string, v View, whitelist map[string]bool) (known bool, err error) {
	out, known := Run(word, v, whitelist)
	if !known {
		return false, nil
	}
	if word == "stmk" && out == "" {
		var b [8]byte
		if _, err := io.ReadFull(rw, b[:]); err != nil {
			return true, fmt.Errorf("4lw stmk: read mask: %w", err)
		}
		out = TraceMaskReply(int64(binary.BigEndian.Uint64(b[:])))
	}
	if out == "" {
		return true, nil
	}
	if _, err := io.WriteString(rw, out); err != nil {
		return true, fmt.Errorf("4lw %s: write: %w", word, err)
	}
	return true, nil
}
