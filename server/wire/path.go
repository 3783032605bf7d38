package wire

import (
	"errors"
	"unicode/utf8"

	"github.com/zkgo/zkgo/internal/zkpath"
)

// ValidatePath checks a znode path a client sends as Apache's
// PathUtils.validatePath does (package zkpath): absolute, no empty, "." or
// ".." component, no trailing slash except for the root, no NUL and no
// control, reserved or non-BMP characters. The error is Apache's message.
func ValidatePath(p string) error { return zkpath.Validate(p) }

// CheckStoredPath checks a path read back from the txn log, a snapshot or
// a leader: the rules of ValidatePath that keep tree walks sound, and the
// character rules zkgo applied before it refused characters outside the
// Basic Multilingual Plane as Apache does. What a server acknowledged once
// must load again.
func CheckStoredPath(p string) error {
	if p == "" {
		return errors.New("path length must be > 0")
	}
	if p[0] != '/' {
		return errors.New("path must start with / character")
	}
	if len(p) == 1 {
		return nil
	}
	if p[len(p)-1] == '/' {
		return errors.New("path must not end with / character")
	}
	last := '/'
	compStart := 1
	for i, r := range p {
		if i == 0 {
			continue
		}
		switch {
		case r == 0:
			return errors.New("null character not allowed")
		case r == '/' && last == '/':
			return errors.New("empty node name specified")
		case r == utf8.RuneError:
			return errors.New("invalid character")
		case r > 0 && r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff:
			return errors.New("invalid character")
		}
		if r == '/' {
			if c := p[compStart:i]; c == "." || c == ".." {
				return errors.New("relative paths not allowed")
			}
			compStart = i + 1
		}
		last = r
	}
	if c := p[compStart:]; c == "." || c == ".." {
		return errors.New("relative paths not allowed")
	}
	return nil
}

// Parent returns the parent path of p ("/" for top-level nodes, "" for the root).
func Parent(p string) string {
	if p == "/" {
		return ""
	}
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	return ""
}

// Base returns the last component of p.
func Base(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// Join joins a parent path and a child name.
func Join(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}
