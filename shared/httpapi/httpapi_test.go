package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/ids"
)

type createThing struct {
	Name  string           `json:"name"`
	Count int              `json:"count"`
	Tags  []map[string]int `json:"tags,omitempty"`
}

func testHandler() http.Handler {
	rt := NewRouter()
	rt.Handle("POST /v1/things", func(w http.ResponseWriter, r *http.Request) error {
		var in createThing
		if err := DecodeJSON(w, r, &in); err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, in)
		return nil
	})
	rt.Handle("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return NotFound("Thing " + r.PathValue("id"))
	})
	rt.Handle("GET /v1/panic", func(http.ResponseWriter, *http.Request) error {
		panic("secret internal detail")
	})
	rt.Handle("GET /v1/slow", func(_ http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done() // a dependency that never answers
		return fmt.Errorf("read thing: %w", r.Context().Err())
	})
	rt.Handle("GET /v1/unavailable", func(http.ResponseWriter, *http.Request) error {
		return fmt.Errorf("read thing: %w", status.Error(codes.Unavailable, "connection refused"))
	})
	return MiddlewareWithTimeout("p", 100*time.Millisecond, rt)
}

type envelopeJSON struct {
	Error struct {
		Code      string       `json:"code"`
		Message   string       `json:"message"`
		RequestID string       `json:"requestId"`
		Details   []FieldError `json:"details"`
	} `json:"error"`
}

func TestErrorsAreEnvelopes(t *testing.T) {
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		code, field                     string
	}{
		{"malformed JSON", "POST", "/v1/things", "application/json", `{"name":`, 400, CodeValidation, ""},
		{"not JSON at all", "POST", "/v1/things", "", `hello`, 400, CodeValidation, ""},
		{"empty body", "POST", "/v1/things", "", ``, 400, CodeValidation, ""},
		{"unknown field", "POST", "/v1/things", "", `{"name":"a","colour":"red"}`, 400, CodeValidation, "colour"},
		{"wrong type", "POST", "/v1/things", "", `{"count":"three"}`, 400, CodeValidation, "count"},
		{"trailing data", "POST", "/v1/things", "", `{"name":"a"} {"name":"b"}`, 400, CodeValidation, ""},
		{"array not object", "POST", "/v1/things", "", `[1]`, 400, CodeValidation, ""},
		{"duplicate key", "POST", "/v1/things", "", `{"name":"a","name":"b"}`, 400, CodeValidation, "name"},
		{"duplicate nested key", "POST", "/v1/things", "", `{"name":"a","tags":[{"k":1},{"k":2,"k":3}]}`, 400, CodeValidation, "tags[1].k"},
		{"invalid UTF-8", "POST", "/v1/things", "", "{\"name\":\"a\xff\"}", 400, CodeValidation, ""},
		{"null body", "POST", "/v1/things", "", `null`, 400, CodeValidation, ""},
		{"null field", "POST", "/v1/things", "", `{"name":null}`, 400, CodeValidation, "name"},
		{"null in array", "POST", "/v1/things", "", `{"tags":[{"k":1},null]}`, 400, CodeValidation, "tags[1]"},
		{"dot-dot segment", "GET", "/v1/things/x/../y", "", ``, 404, CodeNotFound, ""},
		{"encoded dot-dot segment", "GET", "/v1/things/%2e%2e/y", "", ``, 404, CodeNotFound, ""},
		{"double slash", "GET", "/v1//things/x", "", ``, 404, CodeNotFound, ""},
		{"dot segment", "GET", "/v1/./things/x", "", ``, 404, CodeNotFound, ""},
		{"dependency deadline", "GET", "/v1/slow", "", ``, 503, CodeServiceUnavailable, ""},
		{"dependency unavailable", "GET", "/v1/unavailable", "", ``, 503, CodeServiceUnavailable, ""},
		{"oversized body", "POST", "/v1/things", "", `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, CodePayloadTooLarge, ""},
		{"wrong content type", "POST", "/v1/things", "text/plain", `{"name":"a"}`, 415, CodeUnsupportedMedia, ""},
		{"wrong method", "DELETE", "/v1/things", "", ``, 405, CodeMethodNotAllowed, ""},
		{"unknown path", "GET", "/v1/nothing", "", ``, 404, CodeNotFound, ""},
		{"handler not found", "GET", "/v1/things/abc", "", ``, 404, CodeNotFound, ""},
		{"panic", "GET", "/v1/panic", "", ``, 500, CodeInternal, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			rec := httptest.NewRecorder()
			testHandler().ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, c.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var env envelopeJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
			}
			if env.Error.Code != c.code || env.Error.Message == "" {
				t.Errorf("error %+v, want code %s", env.Error, c.code)
			}
			if env.Error.RequestID != rec.Header().Get(RequestIDHeader) || !ids.Valid(ids.Request, env.Error.RequestID) {
				t.Errorf("requestId %q, header %q", env.Error.RequestID, rec.Header().Get(RequestIDHeader))
			}
			if c.field != "" && (len(env.Error.Details) != 1 || env.Error.Details[0].Field != c.field) {
				t.Errorf("details %+v, want field %s", env.Error.Details, c.field)
			}
			if strings.Contains(rec.Body.String(), "secret internal detail") || strings.Contains(rec.Body.String(), "goroutine") {
				t.Errorf("internal detail leaked: %s", rec.Body)
			}
			if c.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if c.status == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
}

func TestValidRequestAndRequestIDs(t *testing.T) {
	h := testHandler()
	seen := map[string]bool{}
	for range 3 {
		req := httptest.NewRequest("POST", "/v1/things", strings.NewReader(`{"name":"a","count":2}`))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 || !regexp.MustCompile(`^\{"name":"a","count":2\}\n$`).MatchString(rec.Body.String()) {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
		id := rec.Header().Get(RequestIDHeader)
		if !ids.Valid(ids.Request, id) || seen[id] {
			t.Fatalf("request ID %q invalid or repeated", id)
		}
		seen[id] = true
	}
	// A client's X-Request-Id, even a well-formed one, is never Tok's request ID.
	for _, in := range []string{ids.New(ids.Request), "req_forged<script>"} {
		req := httptest.NewRequest("GET", "/v1/things/x", nil)
		req.Header.Set(RequestIDHeader, in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var env envelopeJSON
		_ = json.Unmarshal(rec.Body.Bytes(), &env)
		if got := rec.Header().Get(RequestIDHeader); got == in || env.Error.RequestID == in || !ids.Valid(ids.Request, got) {
			t.Errorf("client ID %q: response ID %q, body ID %q", in, got, env.Error.RequestID)
		}
	}
}

func TestRouterListsItsPatterns(t *testing.T) {
	rt := NewRouter()
	for _, p := range []string{"GET /v1/things", "POST /v1/things", "GET /v1/things/{id}"} {
		rt.Handle(p, func(http.ResponseWriter, *http.Request) error { return nil })
	}
	got := rt.Patterns()
	if strings.Join(got, ",") != "GET /v1/things,POST /v1/things,GET /v1/things/{id}" {
		t.Fatalf("Patterns() = %v", got)
	}
	got[0] = "changed"
	if rt.Patterns()[0] != "GET /v1/things" {
		t.Error("Patterns() exposes the router's own slice")
	}
}

// TestStrictJSONHoldsEveryReader: a handler that reads its body leniently (encoding/json,
// which lets the last of two keys win and takes null) still gets only strict bodies.
func TestStrictJSONHoldsEveryReader(t *testing.T) {
	lenient := StrictJSON(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			WriteError(w, r, Validation("not JSON"))
			return
		}
		WriteJSON(w, http.StatusOK, v)
	}))
	for body, want := range map[string]int{
		`{"role":"read_only","role":"admin"}`: 400,
		`{"a":{"b":1,"b":2}}`:                 400,
		`{"a":[{"b":null}]}`:                  400,
		`null`:                                400,
		"{\"a\":\"\xff\"}":                    400,
		`{"a":{"b":1},"c":[1,2]}`:             200,
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/things", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		lenient.ServeHTTP(rec, req)
		if rec.Code != want || (want == 400 && !strings.Contains(rec.Body.String(), CodeValidation)) {
			t.Errorf("%q: %d %s, want %d", body, rec.Code, rec.Body, want)
		}
	}
}
