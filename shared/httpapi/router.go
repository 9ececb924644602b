package httpapi

import (
	"net/http"
	"net/url"
	"strings"
)

// HandlerFunc is a handler that returns its error instead of writing it, so every failure
// path ends in WriteError and the envelope.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Router routes with net/http's method and path patterns ("GET /v1/banks/{bankId}") and
// answers unmatched requests with 404 or 405 in the error envelope.
type Router struct {
	mux      *http.ServeMux
	patterns []string
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{mux: http.NewServeMux()}
}

// Handle registers h for pattern.
func (rt *Router) Handle(pattern string, h HandlerFunc) {
	rt.patterns = append(rt.patterns, pattern)
	rt.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	}))
}

// Patterns lists the registered patterns in registration order: what the router serves,
// which a test compares with the API spec.
func (rt *Router) Patterns() []string {
	return append([]string(nil), rt.patterns...)
}

// ServeHTTP dispatches to the matching handler, or answers 404/405 in the envelope.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !CanonicalPath(r.URL) {
		WriteError(w, r, NotFoundPath(r))
		return
	}
	if _, pattern := rt.mux.Handler(r); pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}
	// No pattern matched: let the mux decide between 404 and 405 (with its Allow header),
	// and answer both in the envelope.
	probe := NewRecorder() // what the mux would answer, not sent
	h, _ := rt.mux.Handler(r)
	h.ServeHTTP(probe, r)
	if probe.Status() == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.Header().Get("Allow"))
		WriteError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
			Message: r.Method + " is not allowed here; allowed: " + probe.Header().Get("Allow") + "."})
		return
	}
	WriteError(w, r, NotFoundPath(r))
}

// CanonicalPath reports whether u's path is one an endpoint can have: no dot segments, no
// empty segments ("//"), no percent-encoded slash. The mux would answer the others with a
// redirect to a cleaned path, outside the envelope; Tok answers them 404.
func CanonicalPath(u *url.URL) bool {
	p := u.Path
	if p == "" || p[0] != '/' || strings.Contains(strings.ToLower(u.RawPath), "%2f") {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}

// NotFoundPath is the 404 for a path no endpoint serves.
func NotFoundPath(r *http.Request) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "No endpoint at " + r.URL.EscapedPath() + "."}
}
