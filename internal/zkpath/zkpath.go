// Package zkpath validates znode paths exactly as Apache ZooKeeper's
// PathUtils.validatePath does, which the Java client runs before sending a
// request and the server runs again in its prep step. zkserver and zk use
// it both, so that they refuse what Apache refuses, with its words.
package zkpath

import (
	"errors"
	"strconv"
)

// Validate returns nil for a valid path, else an error whose text is
// Apache's IllegalArgumentException message, such as "Path must start
// with / character" or `Invalid path string "/a//b" caused by empty node
// name specified @3`. Positions count UTF-16 code units, as Java's chars:
// a character outside the Basic Multilingual Plane is a surrogate pair,
// which Apache refuses as an invalid character, and so does Validate. A
// byte that is not UTF-8 is U+FFFD to Java's decoder, invalid too.
//
// It makes one pass over the runes without allocating (the prep step
// validates every write): the rules about '/' and '.' look at ASCII
// neighbours only, and every rune that is not ASCII either passes or ends
// the walk, so Java's index of a rune is the count of runes before it.
func Validate(p string) error {
	switch {
	case p == "":
		return errors.New("Path length must be > 0")
	case p[0] != '/':
		return errors.New("Path must start with / character")
	case len(p) == 1:
		return nil
	case p[len(p)-1] == '/':
		return errors.New("Path must not end with / character")
	}
	// last and beforeLast are Java's chars[i-1] and chars[i-2].
	var last, beforeLast rune = '/', 0
	i := 0 // Java's index of r
	for at, r := range p {
		if at == 0 || r > 0x1f && r < 0x7f && r != '/' && r != '.' {
			// Printable ASCII but '/' and '.': no rule applies.
			beforeLast, last = last, r
			i++
			continue
		}
		endsName := at+1 == len(p) || p[at+1] == '/' // for r == '.', one byte
		var reason string
		switch {
		case r == 0:
			reason = "null character not allowed"
		case r == '/' && last == '/':
			reason = "empty node name specified"
		case r == '.' && last == '.':
			if beforeLast == '/' && endsName {
				reason = "relative paths not allowed"
			}
		case r == '.':
			if last == '/' && endsName {
				reason = "relative paths not allowed"
			}
		case r > 0 && r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			// r >= 0xfff0 takes in U+FFFD (what Java reads a byte that
			// is not UTF-8 as) and everything past the BMP (a surrogate
			// pair, refused at its first half).
			reason = "invalid character"
		}
		if reason != "" {
			return errors.New("Invalid path string \"" + p + "\" caused by " + reason + " @" + strconv.Itoa(i))
		}
		beforeLast, last = last, r
		i++
	}
	return nil
}
