package admin

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/fourletter"
)

// object is a JSON object that keeps its key order (Apache builds its
// responses in LinkedHashMaps).
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

// set adds k or replaces its value in place, as LinkedHashMap.put.
func (o *object) set(k string, v any) *object {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// writeJSON renders v as Jackson's ObjectMapper with INDENT_OUTPUT
// (DefaultPrettyPrinter): objects one entry per line indented by two
// spaces with `"key" : value`, arrays inline as `[ a, b ]`, empty ones as
// `{ }` and `[ ]`, no final newline. Values: *object, []any, string,
// bool, nil, int/int64, float64 (as a Java double), []string, []int64.
func writeJSON(b *strings.Builder, v any, nesting int) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case *object:
		if len(x.keys) == 0 {
			b.WriteString("{ }")
			return
		}
		b.WriteString("{")
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n" + strings.Repeat("  ", nesting+1))
			writeString(b, k)
			b.WriteString(" : ")
			writeJSON(b, x.vals[k], nesting+1)
		}
		b.WriteString("\n" + strings.Repeat("  ", nesting) + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[ ]")
			return
		}
		b.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, e, nesting)
		}
		b.WriteString(" ]")
	case []string:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		writeJSON(b, a, nesting)
	case []int64:
		a := make([]any, len(x))
		for i, n := range x {
			a[i] = n
		}
		writeJSON(b, a, nesting)
	case string:
		writeString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(fourletter.JavaDouble(x))
	default:
		writeString(b, fourletter.FormatValue(x))
	}
}

// writeString quotes s as JSON without HTML escaping (Jackson leaves <, >
// and & alone).
func writeString(b *strings.Builder, s string) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.WriteString(strings.TrimSuffix(sb.String(), "\n"))
}

func renderJSON(o *object) string {
	var b strings.Builder
	writeJSON(&b, o, 0)
	return b.String()
}
