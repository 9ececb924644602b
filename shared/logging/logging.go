// Package logging writes structured JSON logs that Cloud Logging understands: `severity`
// and `message` keys, trace correlation from the request, and the Tok request ID.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
)

type ctxKey struct{}

// Cloud Logging's special JSON fields.
const (
	traceKey   = "logging.googleapis.com/trace"
	spanKey    = "logging.googleapis.com/spanId"
	sampledKey = "logging.googleapis.com/trace_sampled"
)

// New returns a JSON logger writing Cloud Logging's field names to w.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				a.Key = "severity"
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(severity(l))
				}
			}
			return a
		},
	})
	return slog.New(contextHandler{h})
}

// ParseLevel maps a configured level name to a slog level, defaulting to info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Default installs a JSON logger on stderr as slog's default.
func Default(level string) *slog.Logger {
	l := New(os.Stderr, ParseLevel(level))
	slog.SetDefault(l)
	return l
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// contextHandler adds the attributes stored in the context (request ID, trace) to every
// record, so handlers log with slog.InfoContext(ctx, ...) and get correlation for free.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(ctxKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// With returns a context whose log records carry attrs too.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(append(all, prev...), attrs...)
	return context.WithValue(ctx, ctxKey{}, all)
}

// The trace headers' patterns are compiled when a request first carries one, not at
// process start, which a cold start waits for.
var (
	traceparentRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)
	})
	cloudTraceRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([0-9a-fA-F]{32})(?:/(\d+))?(?:;o=([01]))?$`)
	})
)

// submatch matches a header's trimmed value; an absent header compiles no pattern.
func submatch(re func() *regexp.Regexp, v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	return re().FindStringSubmatch(v)
}

// TraceAttrs returns Cloud Logging's trace fields for a request, from the W3C `traceparent`
// header or, failing that, the legacy `X-Cloud-Trace-Context`. Malformed headers are ignored.
func TraceAttrs(project string, h http.Header) []slog.Attr {
	var trace, span string
	sampled := false
	if m := submatch(traceparentRE, h.Get("traceparent")); m != nil {
		trace, span = m[1], m[2]
		sampled = m[3] == "01"
	} else if m := submatch(cloudTraceRE, h.Get("X-Cloud-Trace-Context")); m != nil {
		trace, span = strings.ToLower(m[1]), m[2]
		sampled = m[3] == "1"
	}
	if trace == "" || project == "" {
		return nil
	}
	attrs := []slog.Attr{slog.String(traceKey, "projects/"+project+"/traces/"+trace), slog.Bool(sampledKey, sampled)}
	if span != "" {
		attrs = append(attrs, slog.String(spanKey, span))
	}
	return attrs
}
