// Package apitest checks, in tests, that real responses of Tok's handlers match the OpenAPI
// spec in api/openapi.yaml. It is imported only by tests.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"tokapi.io/tok/shared/manifest"
)

var (
	loadOnce sync.Once
	spec     *openapi3.T
	router   routers.Router
	loadErr  error
)

// Spec loads and validates api/openapi.yaml once per test binary.
func Spec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	loadOnce.Do(func() {
		// The callback's pages (a 400 for a bad state) are HTML; let the checks read them.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
		root, err := manifest.FindRoot()
		if err != nil {
			loadErr = err
			return
		}
		loader := openapi3.NewLoader()
		spec, loadErr = loader.LoadFromFile(filepath.Join(root, "api", "openapi.yaml"))
		if loadErr != nil {
			return
		}
		if loadErr = spec.Validate(context.Background()); loadErr != nil {
			return
		}
		// Route on paths only: the servers' hosts differ between production and tests.
		spec.Servers = openapi3.Servers{{URL: "/v1"}}
		router, loadErr = gorillamux.NewRouter(spec)
	})
	if loadErr != nil {
		t.Fatalf("load OpenAPI spec: %v", loadErr)
	}
	return spec, router
}

// FindRoute finds the spec's operation req is a request of (the host aside), with its path
// parameters; probe is req as the router saw it.
func FindRoute(t testing.TB, req *http.Request) (probe *http.Request, route *routers.Route, params map[string]string, err error) {
	t.Helper()
	_, r := Spec(t)
	u := *req.URL
	u.Scheme, u.Host = "", ""
	probe = req.Clone(context.Background())
	probe.URL = &u
	route, params, err = r.FindRoute(probe)
	return probe, route, params, err
}

// Check validates a response to req against the spec: the operation must exist and the
// status, headers and body must match what it documents. Request parameters are not
// checked: tests send invalid requests on purpose.
func Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	probe, route, params, err := FindRoute(t, req)
	if err != nil {
		// Unknown paths and methods are fine when they are refused in the envelope.
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			checkEnvelope(t, req, status, body)
			return
		}
		t.Errorf("%s %s answered %d but is not in the OpenAPI spec: %v", req.Method, req.URL.Path, status, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: probe, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, which does not match the OpenAPI spec:\n%v\nbody: %s",
			req.Method, req.URL.Path, status, err, truncate(body))
	}
}

// Do serves req with h, checks the response against the spec, and returns it.
func Do(t testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	Check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
	return rec
}

// Transport is an http.RoundTripper that checks every response it carries against the
// spec, for tests that go through a real server (the gateway, make dev).
type Transport struct {
	T    testing.TB
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (tr Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := tr.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasPrefix(req.URL.Path, "/v1/") {
		Check(tr.T, req, resp.StatusCode, resp.Header, body)
	}
	return resp, nil
}

// CheckWebhook validates a webhook delivery Tok made (its headers and JSON body) against the
// spec's webhook of the event's type: the Standard Webhooks headers and the typed event.
func CheckWebhook(t testing.TB, header http.Header, body []byte) {
	t.Helper()
	doc, _ := Spec(t)
	var ev struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Errorf("webhook body is not JSON: %v: %s", err, truncate(body))
		return
	}
	item := doc.Webhooks[ev.Type]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		t.Errorf("webhook of type %q is not in the spec's webhooks", ev.Type)
		return
	}
	op := item.Post
	for _, p := range op.Parameters {
		if p.Value.In != openapi3.ParameterInHeader {
			continue
		}
		v := header.Get(p.Value.Name)
		if v == "" {
			if p.Value.Required {
				t.Errorf("webhook %s lacks the %s header", ev.Type, p.Value.Name)
			}
			continue
		}
		if err := p.Value.Schema.Value.VisitJSON(v); err != nil {
			t.Errorf("webhook %s header %s=%q does not match the spec: %v", ev.Type, p.Value.Name, v, err)
		}
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("webhook body is not JSON: %v", err)
		return
	}
	schema := op.RequestBody.Value.Content.Get("application/json").Schema
	if err := schema.Value.VisitJSON(v); err != nil {
		t.Errorf("webhook %s body does not match the spec: %v\nbody: %s", ev.Type, err, truncate(body))
	}
}

// checkEnvelope validates an error body against the spec's Error schema.
func checkEnvelope(t testing.TB, req *http.Request, status int, body []byte) {
	t.Helper()
	doc, _ := Spec(t)
	ref := doc.Components.Schemas["Error"]
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %s answered %d with a non-JSON body: %s", req.Method, req.URL.Path, status, truncate(body))
		return
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		t.Errorf("%s %s answered %d outside the error envelope: %v", req.Method, req.URL.Path, status, err)
	}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Object decodes body, answered with status code, as a JSON object, failing the test when it
// is not one.
func Object(t testing.TB, code int, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", code, err, body)
	}
	return m
}

// ErrorCode returns error.code of body, answered with status code ("" when it has none).
func ErrorCode(t testing.TB, code int, body []byte) string {
	t.Helper()
	e, _ := Object(t, code, body)["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}
