package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// property is one key=value of a Java properties file, with the line it
// starts on (1-based).
type property struct {
	key, value string
	line       int
}

// parseProperties reads b with the rules of java.util.Properties.load, the
// reader Apache ZooKeeper uses for zoo.cfg: '#' and '!' comment lines; the
// key ends at the first unescaped '=', ':' or white space; a line ending in
// an odd number of backslashes continues on the next line (leading white
// space of the continuation dropped); \t \n \r \f \uXXXX escapes. Keys and
// values are then trimmed, as QuorumPeerConfig does. It never fails:
// malformed escapes are kept literally.
func parseProperties(b []byte) []property {
	text := string(b)
	if !utf8.ValidString(text) {
		// Properties.load(InputStream) reads ISO-8859-1: map bytes 1:1.
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		text = sb.String()
	}
	text = strings.TrimPrefix(text, "\uFEFF")
	lines := splitLines(text)
	var props []property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines.
		for endsWithContinuation(line) && i+1 < len(lines) {
			line = line[:len(line)-1] + strings.TrimLeft(lines[i+1], " \t\f")
			i++
		}
		if endsWithContinuation(line) { // continuation at EOF
			line = line[:len(line)-1]
		}
		key, value := splitKeyValue(line)
		props = append(props, property{
			key:   strings.TrimSpace(unescape(key)),
			value: strings.TrimSpace(unescape(value)),
			line:  start,
		})
	}
	return props
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}

func endsWithContinuation(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line at the first unescaped separator.
func splitKeyValue(line string) (key, value string) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	key = line[:end]
	rest := line[end:]
	// Skip white space, then at most one '=' or ':', then white space.
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					sb.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			sb.WriteString(`\u`) // malformed: keep literally (Java throws)
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}
