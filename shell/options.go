package shell

import (
	"strconv"
	"strings"
)

// Flag is one option of a command. Name is written with a single dash
// ("-s", "-server") or, when Long, with two ("--base64"). Arg names the
// value the flag takes ("" for a boolean flag).
type Flag struct {
	Name string
	Arg  string
	Help string
	Long bool
}

func (f Flag) spelled() string {
	if f.Long {
		return "--" + f.Name
	}
	return "-" + f.Name
}

// Options are the options found on a command line: flag name -> value
// ("" for booleans). Later occurrences win, as in commons-cli.
type Options map[string]string

// Has reports whether the boolean or valued flag was given.
func (o Options) Has(name string) bool {
	_, ok := o[name]
	return ok
}

// Get returns a flag's value, or def when absent.
func (o Options) Get(name, def string) string {
	if v, ok := o[name]; ok {
		return v
	}
	return def
}

// Int32 parses a flag's value as an int32, or returns def.
func (o Options) Int32(name string, def int32) (int32, bool) {
	v, ok := o[name]
	if !ok {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// ParseArgs splits args into options and positional arguments the way
// zkCli.sh's commons-cli parser does, but with options allowed anywhere
// (before, between or after the arguments): "get /p -s" == "get -s /p".
// "--" ends the options; a lone "-" is an argument (stdin). Boolean
// single-letter flags may be grouped ("-sw"). A valued flag takes the next
// word, or "=value" ("-o=json", "--output=json"). Unknown options are
// usage errors.
func ParseArgs(flags []Flag, args []string) (Options, []string, error) {
	opts := Options{}
	var pos []string
	find := func(name string, long bool) *Flag {
		for i := range flags {
			f := &flags[i]
			if f.Name == name && (f.Long == long || len(name) > 1) {
				return f
			}
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		long := strings.HasPrefix(a, "--")
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if j := strings.IndexByte(name, '='); j >= 0 {
			name, value, hasValue = name[:j], name[j+1:], true
		}
		f := find(name, long)
		if f == nil && !long && !hasValue && len(name) > 1 {
			// Grouped boolean short flags: -sw.
			ok := true
			for _, r := range name {
				g := find(string(r), false)
				if g == nil || g.Arg != "" {
					ok = false
					break
				}
			}
			if ok {
				for _, r := range name {
					opts[string(r)] = ""
				}
				continue
			}
		}
		if f == nil {
			return nil, nil, &UsageError{Msg: "unknown option: " + a}
		}
		if f.Arg == "" {
			if hasValue {
				return nil, nil, &UsageError{Msg: "option " + f.spelled() + " takes no value"}
			}
			opts[f.Name] = ""
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, &UsageError{Msg: "option " + f.spelled() + " needs a value (" + f.Arg + ")"}
			}
			i++
			value = args[i]
		}
		opts[f.Name] = value
	}
	return opts, pos, nil
}

// SplitLine splits a shell line into words as zkCli.sh does, but also
// honouring single and double quotes so data can contain spaces:
// `set /a "hello world"`.
func SplitLine(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
