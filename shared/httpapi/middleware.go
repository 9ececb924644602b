package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/logging"
)

// RequestIDHeader carries the request ID on every response.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID returns the request's ID, or "" outside a request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Middleware wraps every Tok HTTP function: it assigns the request ID (kept from an
// upstream Tok hop when it is well-formed, so one ID follows a request through the
// gateway), adds request and trace fields to the logs, recovers panics into a 500
// envelope, and writes one access log line.
func Middleware(project string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !ids.Valid(ids.Request, id) {
			id = ids.New(ids.Request)
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		attrs := append([]slog.Attr{slog.String("requestId", id)}, logging.TraceAttrs(project, r.Header)...)
		ctx = logging.With(ctx, attrs...)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !sw.wrote {
					WriteError(sw, r, Internal(fmt.Errorf("panic: %v", p)))
				}
			}
			// The path only: query strings can hold OAuth codes and state.
			slog.InfoContext(ctx, "request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "latencyMs", time.Since(start).Milliseconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ClientIP is the caller's address: the first X-Forwarded-For entry (the load balancer
// puts the client there), else the connection's peer; "" when neither is an IP address.
func ClientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		if first := strings.TrimSpace(strings.Split(xff, ",")[0]); net.ParseIP(first) != nil {
			return first
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || net.ParseIP(host) == nil {
		return ""
	}
	return host
}
