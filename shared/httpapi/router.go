package httpapi

import (
	"net/http"
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
	if _, pattern := rt.mux.Handler(r); pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}
	// No pattern matched: let the mux decide between 404, 405 (with its Allow header) and
	// a path-cleaning redirect, then answer 404 and 405 in the envelope.
	probe := &probeWriter{header: http.Header{}}
	h, _ := rt.mux.Handler(r)
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		WriteError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
			Message: r.Method + " is not allowed here; allowed: " + probe.header.Get("Allow") + "."})
	case http.StatusNotFound, 0:
		WriteError(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "No endpoint at " + r.URL.Path + "."})
	default:
		for k, v := range probe.header {
			w.Header()[k] = v
		}
		w.WriteHeader(probe.status)
	}
}

// probeWriter records what the mux would answer, without writing it.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *probeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
