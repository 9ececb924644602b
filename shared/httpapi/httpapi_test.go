package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"tokapi.io/tok/shared/ids"
)

type createThing struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
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
	return Middleware("p", rt)
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
	// A well-formed upstream ID (the gateway's) is kept; anything else is replaced.
	upstream := ids.New(ids.Request)
	for in, keep := range map[string]bool{upstream: true, "req_forged<script>": false} {
		req := httptest.NewRequest("GET", "/v1/things/x", nil)
		req.Header.Set(RequestIDHeader, in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get(RequestIDHeader); (got == in) != keep {
			t.Errorf("upstream ID %q: response ID %q", in, got)
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
