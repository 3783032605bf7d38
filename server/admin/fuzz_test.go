package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzCommand sends arbitrary command names and query strings (the only
// input the AdminServer takes) to the command handler: never a panic;
// a command answers status 200 with one valid JSON object, the bare
// command URL the HTML list.
func FuzzCommand(f *testing.F) {
	for _, c := range []struct{ name, query string }{
		{"ruok", ""}, {"stat", ""}, {"monitor", ""}, {"set_trace_mask", "traceMask=7"},
		{"stmk", "traceMask=zz"}, {"stmk", "traceMask=99999999999999999999"}, {"cons", "x=%zz&y"},
		{"nope", ""}, {"", ""}, {"dump/../ruok", ""}, {"watches_by_path", "a=1;b=2"},
	} {
		f.Add(c.name, c.query)
	}
	fv := newFake(f)
	a := New(fv.cfg, fv, slog.New(slog.DiscardHandler))
	h := a.Handler()
	f.Fuzz(func(t *testing.T, name, query string) {
		u := &url.URL{Path: a.prefix + "/" + name, RawQuery: query}
		r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Host: "x", RequestURI: u.RequestURI()}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusNotFound, http.StatusBadRequest:
			return // the mux cleaned or refused the path
		default:
			t.Fatalf("%q?%q: status %d", name, query, w.Code)
		}
		if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%q?%q: body is not a JSON object: %v\n%s", name, query, err, w.Body.String())
		}
		if _, ok := m["command"]; !ok {
			t.Fatalf("%q?%q: no command field: %s", name, query, w.Body.String())
		}
	})
}
