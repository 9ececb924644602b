package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
)

func TestCloudLoggingFields(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug)
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx := With(context.Background(), append(TraceAttrs("proj", h), slog.String("requestId", "req_X"))...)
	log.WarnContext(ctx, "hello", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"severity": "WARNING", "message": "hello", "requestId": "req_X",
		"logging.googleapis.com/trace":         "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736",
		"logging.googleapis.com/spanId":        "00f067aa0ba902b7",
		"logging.googleapis.com/trace_sampled": true,
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v (record %v)", k, rec[k], v, rec)
		}
	}
	if _, ok := rec["msg"]; ok {
		t.Error("slog's msg key was not renamed")
	}
}

func TestTraceHeaders(t *testing.T) {
	cases := []struct {
		header, value, trace string
	}{
		{"X-Cloud-Trace-Context", "105445AA7843BC8BF206B12000100000/1;o=1", "projects/p/traces/105445aa7843bc8bf206b12000100000"},
		{"traceparent", "garbage", ""},
		{"X-Cloud-Trace-Context", "nothex/1", ""},
	}
	for _, c := range cases {
		h := http.Header{}
		h.Set(c.header, c.value)
		got := ""
		for _, a := range TraceAttrs("p", h) {
			if a.Key == traceKey {
				got = a.Value.String()
			}
		}
		if got != c.trace {
			t.Errorf("%s: %q -> %q, want %q", c.header, c.value, got, c.trace)
		}
	}
}

func TestSeverities(t *testing.T) {
	for l, want := range map[slog.Level]string{slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelError: "ERROR"} {
		if got := severity(l); got != want {
			t.Errorf("severity(%v) = %s", l, got)
		}
	}
}
