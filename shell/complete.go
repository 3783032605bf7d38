package shell

import (
	"sort"
	"strings"
	"time"
)

// childCacheEntry is a cached child list for path completion.
type childCacheEntry struct {
	children []string
	at       time.Time
}

// cacheTTL bounds how stale a cached child list can be when its watch did
// not fire (e.g. after a reconnect that lost the watch).
const cacheTTL = 30 * time.Second

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (c *Client) markUserWatch(p string) {
	c.mu.Lock()
	c.userWatch[p] = true
	c.mu.Unlock()
}

// CachedChildren returns the sorted children of p for completion: from the
// cache when fresh, else from the server with a child watch that
// invalidates the cache entry when the children change.
func (c *Client) CachedChildren(p string) ([]string, error) {
	c.mu.Lock()
	if e, ok := c.cache[p]; ok && time.Since(e.at) < cacheTTL {
		c.mu.Unlock()
		return e.children, nil
	}
	c.internalChild[p] = true
	c.mu.Unlock()
	children, _, _, err := c.Conn.ChildrenW(c.abs(p))
	if err != nil {
		c.mu.Lock()
		delete(c.internalChild, p)
		c.mu.Unlock()
		return nil, err
	}
	sort.Strings(children)
	c.mu.Lock()
	c.cache[p] = childCacheEntry{children: children, at: time.Now()}
	c.mu.Unlock()
	return children, nil
}

func (c *Client) clearCache() {
	c.mu.Lock()
	c.cache = map[string]childCacheEntry{}
	c.mu.Unlock()
}

func (s *Shell) clearCache() {
	if s.client != nil {
		s.client.clearCache()
	}
}

// Suggestion is one completion candidate.
type Suggestion struct {
	Text        string
	Description string
}

// Complete returns the candidates for the word being typed at the end of
// line (the text before the cursor): command names for the first word,
// flags for a word starting with '-', znode paths (children of the typed
// parent fetched from the server) for path arguments.
func (s *Shell) Complete(line string) []Suggestion {
	if strings.TrimSpace(line) == "" {
		return nil // no menu on an empty line
	}
	words := SplitLine(line)
	if line[len(line)-1] == ' ' {
		words = append(words, "")
	}
	cur := words[len(words)-1]
	if len(words) == 1 {
		var out []Suggestion
		for _, c := range s.Commands() {
			if strings.HasPrefix(c.Name, cur) {
				out = append(out, Suggestion{Text: c.Name, Description: c.Help})
			}
		}
		return out
	}
	cmd := s.cmds[words[0]]
	if cmd == nil {
		return nil
	}
	flags := cmd.Flags
	if cmd.Output {
		flags = append(append([]Flag{}, flags...), outputFlags...)
	}
	if strings.HasPrefix(cur, "-") {
		var out []Suggestion
		for _, f := range flags {
			if strings.HasPrefix(f.spelled(), cur) {
				out = append(out, Suggestion{Text: f.spelled(), Description: f.Help})
			}
		}
		return out
	}
	// Which positional is being typed? Skip flags and their values.
	npos := 0
	prev := words[1 : len(words)-1]
	for i := 0; i < len(prev); i++ {
		w := prev[i]
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			name := strings.TrimLeft(w, "-")
			for _, f := range flags {
				if f.Name == name && f.Arg != "" {
					i++
				}
			}
			continue
		}
		npos++
	}
	// Value of a flag?
	if len(prev) > 0 {
		name := strings.TrimLeft(prev[len(prev)-1], "-")
		if strings.HasPrefix(prev[len(prev)-1], "-") {
			for _, f := range flags {
				if f.Name == name && f.Arg != "" {
					return flagValues(f, cur)
				}
			}
		}
	}
	kind := ArgOther
	if npos < len(cmd.Args) {
		kind = cmd.Args[npos]
	}
	if kind != ArgPath {
		return nil
	}
	return s.completePath(cur)
}

func flagValues(f Flag, cur string) []Suggestion {
	var vals []string
	switch f.Name {
	case "o", "output":
		vals = []string{FormatText, FormatJSON, FormatYAML}
	case "m":
		vals = []string{"PERSISTENT", "PERSISTENT_RECURSIVE"}
	}
	var out []Suggestion
	for _, v := range vals {
		if strings.HasPrefix(v, cur) {
			out = append(out, Suggestion{Text: v})
		}
	}
	return out
}

func (s *Shell) completePath(cur string) []Suggestion {
	if s.client == nil {
		return nil
	}
	if cur == "" {
		return []Suggestion{{Text: "/"}}
	}
	if cur[0] != '/' {
		return nil
	}
	i := strings.LastIndexByte(cur, '/')
	dir, prefix := cur[:i], cur[i+1:]
	if dir == "" {
		dir = "/"
	}
	children, err := s.client.CachedChildren(dir)
	if err != nil {
		return nil
	}
	var out []Suggestion
	for _, ch := range children {
		if strings.HasPrefix(ch, prefix) {
			out = append(out, Suggestion{Text: JoinPath(dir, ch)})
		}
	}
	return out
}
