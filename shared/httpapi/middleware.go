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

// RequestTimeout is the deadline of a request unless the function asks for another
// (WithTimeout): a dependency that has not answered by then makes the request fail with 503
// SERVICE_UNAVAILABLE instead of holding the client.
const RequestTimeout = 10 * time.Second

// maxClientRequestID bounds how much of a client's X-Request-Id is logged.
const maxClientRequestID = 128

// Middleware wraps every Tok HTTP function with the default RequestTimeout.
func Middleware(project string, next http.Handler) http.Handler {
	return MiddlewareWithTimeout(project, RequestTimeout, next)
}

// MiddlewareWithTimeout assigns the request its ID (always Tok's own; a client's
// X-Request-Id is only logged, as clientRequestId), gives it a deadline of timeout, adds
// request and trace fields to the logs, recovers panics into a 500 envelope, and writes one
// access log line.
func MiddlewareWithTimeout(project string, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ids.New(ids.Request)
		w.Header().Set(RequestIDHeader, id)
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		ctx = context.WithValue(ctx, requestIDKey{}, id)
		attrs := append([]slog.Attr{slog.String("requestId", id)}, logging.TraceAttrs(project, r.Header)...)
		if client := r.Header.Get(RequestIDHeader); client != "" {
			attrs = append(attrs, slog.String("clientRequestId", truncate(client, maxClientRequestID)))
		}
		ctx = logging.With(ctx, attrs...)
		r = r.WithContext(ctx)
		sw := &StatusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.Status() == 0 {
					WriteError(sw, r, Internal(fmt.Errorf("panic: %v", p)))
				}
			}
			// The path only: query strings can hold OAuth codes and state.
			slog.InfoContext(ctx, "request", "method", r.Method, "path", r.URL.Path,
				"status", sw.Status(), "latencyMs", time.Since(start).Milliseconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
