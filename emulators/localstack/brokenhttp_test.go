package localstack_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/emulators/gateway"
	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
)

// testBrokenHTTP sends, over raw TCP, requests a client library would never send, and
// checks that each is answered in the envelope with Tok's request ID, in bounded time.
func testBrokenHTTP(t *testing.T, st *localstack.Stack, key string) {
	addr := strings.TrimPrefix(st.URL, "http://")
	auth := "Authorization: ApiKey " + key + "\r\n"
	type brokenCase struct {
		name, raw string
		status    int
		code      string
	}
	cases := []brokenCase{
		{"malformed chunked body", "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n" + auth +
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, httpapi.CodeValidation},
		{"body shorter than its Content-Length", "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n" + auth +
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"url\":", 408, httpapi.CodeRequestTimeout},
		{"encoded dot-dot segment", "GET /v1/banks/%2e%2e/webhooks HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 404, httpapi.CodeNotFound},
		{"dot-dot segment", "GET /v1/banks/../webhooks HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 404, httpapi.CodeNotFound},
		{"double slash", "GET /v1//banks HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 404, httpapi.CodeNotFound},
		{"encoded slash", "GET /v1/banks/a%2Fb HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 404, httpapi.CodeNotFound},
	}
	// Headers trickled a byte at a time (slowloris) are cut at HeaderTimeout; checked beside
	// the other cases, since it takes that long.
	slow := make(chan error, 1)
	go func() { slow <- trickleHeaders(t, addr) }()
	defer func() {
		if err := <-slow; err != nil {
			t.Errorf("trickled headers: %v", err)
		}
	}()
	// The function processes bound their own reads too, for a client that reaches one past
	// the gateway: functions-framework-go's server has no timeouts of its own.
	function := strings.TrimPrefix(st.Backends()["webhooks"], "http://")
	direct := []brokenCase{
		{"body shorter than its Content-Length, sent to the function process", "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n" +
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"url\":", 408, httpapi.CodeRequestTimeout},
		{"stalled chunked body, sent to the function process", "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n" +
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"url\":\r\n", 408, httpapi.CodeRequestTimeout},
	}
	for i, c := range append(cases, direct...) {
		to, bound := addr, gateway.BodyReadTimeout
		if i >= len(cases) {
			to, bound = function, httpapi.BodyReadTimeout
		}
		t.Run(c.name, func(t *testing.T) {
			conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", to)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			// The answer must come within the body bound plus a margin; a server that
			// holds the connection fails here instead of hanging the test.
			start := time.Now()
			_ = conn.SetDeadline(start.Add(bound + 5*time.Second))
			if _, err := io.WriteString(conn, c.raw); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			var env struct {
				Error struct{ Code, RequestID string } `json:"error"`
			}
			if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != c.status || env.Error.Code != c.code {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
			if id := resp.Header.Get(httpapi.RequestIDHeader); !ids.Valid(ids.Request, id) || env.Error.RequestID != id {
				t.Errorf("request ID header %q, body %q", id, env.Error.RequestID)
			}
			if d := time.Since(start); d > bound+2*time.Second {
				t.Errorf("answered after %v, the body bound is %v", d, bound)
			}
		})
	}
}

// trickleHeaders sends a request's headers one byte every 200 ms and returns nil once the
// server closes the connection, which it must do within HeaderTimeout and a margin.
func trickleHeaders(t *testing.T, addr string) error {
	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	start := time.Now()
	limit := localstack.HeaderTimeout + 5*time.Second
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes the connection
		close(closed)
	}()
	raw := "GET /v1/banks HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Slow: y\r\n", 1000)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-closed:
			if d := time.Since(start); d < localstack.HeaderTimeout-time.Second {
				return fmt.Errorf("closed after %v, before the header timeout", d)
			}
			return nil
		case <-tick.C:
			if time.Since(start) > limit {
				return fmt.Errorf("still open after %v", time.Since(start))
			}
			if i < len(raw) {
				_, _ = conn.Write([]byte{raw[i]}) // fails once the server has closed; the read side tells
			}
		}
	}
}
