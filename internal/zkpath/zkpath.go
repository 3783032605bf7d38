// Package zkpath validates znode paths exactly as Apache ZooKeeper's
// PathUtils.validatePath does, which the Java client runs before sending a
// request and the server runs again in its prep step. zkserver and zk use
// it both, so that they refuse what Apache refuses, with its words.
package zkpath

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Validate returns nil for a valid path, else an error whose text is
// Apache's IllegalArgumentException message, such as "Path must start
// with / character" or `Invalid path string "/a//b" caused by empty node
// name specified @3`. Positions count UTF-16 code units, as Java's chars:
// a character outside the Basic Multilingual Plane is a surrogate pair,
// which Apache refuses as an invalid character, and so does Validate.
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
	chars := javaChars(p)
	for i := 1; i < len(chars); i++ {
		c, last := chars[i], chars[i-1]
		var reason string
		switch {
		case c == 0:
			reason = "null character not allowed"
		case c == '/' && last == '/':
			reason = "empty node name specified"
		case c == '.' && last == '.':
			if chars[i-2] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				reason = "relative paths not allowed"
			}
		case c == '.':
			if last == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				reason = "relative paths not allowed"
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			reason = "invalid character"
		}
		if reason != "" {
			return errors.New("Invalid path string \"" + p + "\" caused by " + reason + " @" + strconv.Itoa(i))
		}
	}
	return nil
}

// javaChars is p as Java's String.toCharArray sees it: UTF-16 code
// units. A byte that is not UTF-8 becomes U+FFFD (Java's decoder of the
// request does the same), which is an invalid character.
func javaChars(p string) []uint16 {
	out := make([]uint16, 0, len(p))
	for _, r := range p {
		if r == utf8.RuneError {
			out = append(out, 0xfffd)
			continue
		}
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			out = append(out, uint16(r1), uint16(r2))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}
