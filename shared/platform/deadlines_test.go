package platform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/gcp/kmsclient"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
)

// bodyTimeout shortens the body bound for a test.
func bodyTimeout(d time.Duration) Option { return func(o *options) { o.bodyTimeout = d } }

// TestFunctionProcessBoundsEveryRead serves a function as functions-framework-go does (an
// http.Server with no timeouts at all) and sends it, over raw TCP, bodies that never
// complete: each is answered in the envelope with Tok's request ID at the body bound, not
// when the client gives up. A complete body keeps its request whole: a handler that runs
// past the bound keeps its context, and the connection serves a next request.
func TestFunctionProcessBoundsEveryRead(t *testing.T) {
	const bound = 500 * time.Millisecond
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: "unused"}})
	build := func(context.Context, *Env) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				httpapi.WriteError(w, r, fmt.Errorf("read body: %w", err))
				return
			}
			if r.URL.Path == "/slow" {
				time.Sleep(3 * bound)
			}
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"bytes": len(body), "contextErr": fmt.Sprint(r.Context().Err())})
		}), nil
	}
	// The framework's own server: http.ListenAndServe, no ReadTimeout, no WriteTimeout.
	srv := httptest.NewServer(LazyHTTP(build, func(context.Context) (*Env, error) { return env, nil }, Public(), bodyTimeout(bound)))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	for _, c := range []struct {
		name, raw string
		status    int
		code      string
	}{
		{"body shorter than its Content-Length", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"url\":", 408, httpapi.CodeRequestTimeout},
		{"stalled chunked body", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n", 408, httpapi.CodeRequestTimeout},
		{"malformed chunked body", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, httpapi.CodeValidation},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, addr)
			start := time.Now()
			conn.send(t, c.raw)
			resp, body := conn.answer(t)
			elapsed := time.Since(start)
			var envlp struct {
				Error struct{ Code, RequestID string } `json:"error"`
			}
			if err := json.Unmarshal(body, &envlp); err != nil || resp.StatusCode != c.status || envlp.Error.Code != c.code {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
			if id := resp.Header.Get(httpapi.RequestIDHeader); !ids.Valid(ids.Request, id) || envlp.Error.RequestID != id {
				t.Errorf("request ID header %q, body %q", id, envlp.Error.RequestID)
			}
			if elapsed > bound+2*time.Second {
				t.Errorf("answered after %v, the body bound is %v", elapsed, bound)
			}
			if !resp.Close {
				t.Errorf("the connection is kept open after an unreadable body: %v", resp.Header)
			}
		})
	}

	t.Run("a complete body keeps its context and its connection", func(t *testing.T) {
		conn := dial(t, addr)
		for _, path := range []string{"/slow", "/again"} {
			conn.send(t, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
			resp, body := conn.answer(t)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"bytes":2`) || !strings.Contains(string(body), `"contextErr":"\u003cnil\u003e"`) {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
	})
}

// rawConn is a client connection that writes raw HTTP/1.1 and reads the answers.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	// A server that holds the connection fails the test here instead of hanging it.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	return &rawConn{Conn: conn, br: bufio.NewReader(conn)}
}

func (c *rawConn) send(t *testing.T, raw string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
}

// answer is a response read off a rawConn.
type answer struct {
	StatusCode int
	Header     http.Header
	Close      bool // the server closes the connection after it
}

func (c *rawConn) answer(t *testing.T) (answer, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{StatusCode: resp.StatusCode, Header: resp.Header, Close: resp.Close}, body
}

// silentListener accepts connections and never answers on them, as a dependency that hangs.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestEventDeliveryDeadline: an event function whose Firestore, KMS or Secret Manager does
// not answer fails its delivery at the event deadline (the push is answered with an error
// and Pub/Sub delivers it again) instead of hanging until the subscription gives up.
func TestEventDeliveryDeadline(t *testing.T) {
	const bound = 500 * time.Millisecond
	silent := silentListener(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", silent)
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: "p", KMSEndpoint: silent, SecretManagerEndpoint: silent}})
	calls := map[string]func(ctx context.Context, env *Env) error{
		"Firestore": func(ctx context.Context, env *Env) error {
			fs, err := env.Clients.Firestore(ctx)
			if err != nil {
				return err
			}
			_, err = fs.Collection("probe").Doc("x").Get(ctx)
			return err
		},
		"KMS": func(ctx context.Context, env *Env) error {
			kc, err := kmsclient.Get(ctx, env.Clients)
			if err != nil {
				return err
			}
			_, err = kc.Encrypt(ctx, &kmspb.EncryptRequest{Name: "projects/p/locations/l/keyRings/r/cryptoKeys/k", Plaintext: []byte("x")})
			return err
		},
		"Secret Manager": func(ctx context.Context, env *Env) error {
			sr, err := env.Secrets(ctx)
			if err != nil {
				return err
			}
			_, err = sr.Get(ctx, PepperSecret)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			h := lazyEvent(func(context.Context, *Env) (EventHandler, error) {
				return func(ctx context.Context, _ event.Event) error { return call(ctx, env) }, nil
			}, func(context.Context) (*Env, error) { return env, nil }, bound)
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- h(context.Background(), event.New()) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
					t.Errorf("delivery ended with %v, want its deadline exceeded", err)
				}
				if d := time.Since(start); d > bound+2*time.Second {
					t.Errorf("delivery failed after %v, the deadline is %v", d, bound)
				}
			case <-time.After(bound + 10*time.Second):
				t.Fatalf("the delivery still waits on %s after %v", name, time.Since(start))
			}
		})
	}
}
