package queryparams_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/queryparams"
	"tokapi.io/tok/shared/queryparams/specrules"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/gentest"
)

type envelope struct {
	Error struct {
		Code      string               `json:"code"`
		Message   string               `json:"message"`
		RequestID string               `json:"requestId"`
		Details   []httpapi.FieldError `json:"details"`
	} `json:"error"`
}

// serve sends method target through the spec's checker in front of a handler that answers
// 204, under the request-ID middleware as in every function.
func serve(t *testing.T, method, target string) (int, envelope) {
	t.Helper()
	c, err := queryparams.Spec()
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Middleware("", c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	var env envelope
	if rec.Code != http.StatusNoContent {
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %s: %d, not the envelope: %s", method, target, rec.Code, rec.Body)
		}
		if env.Error.RequestID == "" || env.Error.RequestID != rec.Header().Get(httpapi.RequestIDHeader) {
			t.Errorf("%s %s: request ID %q, header %q", method, target, env.Error.RequestID, rec.Header().Get(httpapi.RequestIDHeader))
		}
	}
	return rec.Code, env
}

func names(env envelope) []string {
	var out []string
	for _, d := range env.Error.Details {
		out = append(out, d.Field)
	}
	return out
}

// refusedNaming checks that the probe's request is 400 VALIDATION_ERROR naming param alone,
// with a message that does not echo the probe's value.
func refusedNaming(t *testing.T, probe fmt.Stringer, method, target, param, value string) {
	t.Helper()
	code, env := serve(t, method, target)
	if code != http.StatusBadRequest || env.Error.Code != httpapi.CodeValidation {
		t.Errorf("%s: %d %s", probe, code, env.Error.Code)
		return
	}
	if d := names(env); len(d) != 1 || d[0] != param {
		t.Errorf("%s: details name %v", probe, d)
	}
	if strings.Contains(env.Error.Message, value) {
		t.Errorf("%s: the message echoes the value", probe)
	}
}

// TestSpecProbesAreRefused sends every refused query string the spec implies (apitest's
// probes) through the checker: each is 400 VALIDATION_ERROR naming its parameter.
func TestSpecProbesAreRefused(t *testing.T) {
	probes := apitest.QueryProbes(t)
	wrongForm := 0
	for _, p := range probes {
		refusedNaming(t, p, p.Method, p.Path+"?"+p.RawQuery, p.Param, strings.Repeat("A", 100))
		if p.What == "wrong form" {
			wrongForm++
		}
	}
	// Every list of the API has limit and cursor at least; a spec that lost its query
	// parameters would leave few probes.
	if len(probes) < 80 || wrongForm < 20 {
		t.Errorf("only %d probes, %d of the wrong form", len(probes), wrongForm)
	}
}

func TestValidQueriesPass(t *testing.T) {
	for _, target := range []string{
		"/v1/accounts?currency=EUR&bankId=erste-hr&consentId=con_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B&limit=500",
		"/v1/accounts/acc_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B/transactions?dateFrom=2026-01-01&dateTo=2026-02-28&status=booked&limit=1",
		"/v1/banks/erste-hr",
		"/v1/webhooks/whk_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B/deliveries/dlv_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B",
		"/v1/payments?status=COMPLETED&createdFrom=2026-01-01&createdTo=2026-01-31T23:59:59.5%2B01:00",
		"/v1/consents?status=AUTHORIZED&cursor=abc-_DEF",
		"/v1/banks?country=HR&service=pis",
		"/v1/events?type=payment.completed",
		"/v1/banks",
		// No operation: the router answers it.
		"/v1/nowhere?anything=1",
		"/sandbox-bank/v1/accounts?withBalance=true",
	} {
		if code, env := serve(t, http.MethodGet, target); code != http.StatusNoContent {
			t.Errorf("%s: %d %s %v", target, code, env.Error.Message, env.Error.Details)
		}
	}
}

func TestRefusals(t *testing.T) {
	for target, want := range map[string][]string{
		"/v1/accounts?currency=eur":                        {"currency"},
		"/v1/accounts?bankId=" + strings.Repeat("a", 1500): {"bankId"},
		"/v1/accounts?limit=0":                             {"limit"},
		"/v1/accounts?limit=501":                           {"limit"},
		"/v1/accounts?limit=+5":                            {"limit"},
		"/v1/accounts?limit=05":                            {"limit"},
		"/v1/accounts?currency=EUR&currency=RSD":           {"currency"},
		"/v1/accounts?currency=%ff%fe%fd":                  {"currency"},
		"/v1/accounts?Currency=EUR&x=1":                    {"Currency", "x"},
		"/v1/accounts/acc_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B/transactions?dateFrom=2026-02-30":   {"dateFrom"},
		"/v1/accounts/acc_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B/transactions/changes?status=booked": {"status"},
		"/v1/accounts/acc_1/transactions?dateFrom=2026-02-30":                            {"accountId", "dateFrom"},
		"/v1/accounts/" + strings.Repeat("a", 1500):                                      {"accountId"},
		"/v1/accounts/pay_01HZY0V8Q8WJ3Z9Q6V0M0K0A1B":                                    {"accountId"},
		"/v1/accounts/acc_01hzy0v8q8wj3z9q6v0m0k0a1b":                                    {"accountId"},
		"/v1/accounts/acc_%ff%fe":                                                        {"accountId"},
		"/v1/banks/Erste":                                                                {"bankId"},
		"/v1/payments?createdFrom=2026-01-01T10:00":                                      {"createdFrom"},
		"/v1/banks/erste-hr?country=HR":                                                  {"country"},
		"/v1/accounts?%ff=1":                                                             {"(a parameter name)"},
	} {
		code, env := serve(t, http.MethodGet, target)
		if code != http.StatusBadRequest || env.Error.Code != httpapi.CodeValidation {
			t.Errorf("%s: %d %s", target, code, env.Error.Code)
			continue
		}
		if got := names(env); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: details name %v, want %v", target, got, want)
		}
	}
	// A query string that does not parse is refused as a whole, without echoing it.
	for _, raw := range []string{"currency=%zz", "currency=EUR;limit=1"} {
		code, env := serve(t, http.MethodGet, "/v1/accounts?"+raw)
		if code != http.StatusBadRequest || env.Error.Code != httpapi.CodeValidation || strings.Contains(env.Error.Message, raw) {
			t.Errorf("%s: %d %+v", raw, code, env.Error)
		}
	}
}

// TestPathProbesAreRefused sends every refused path the spec implies (apitest's probes)
// through the checker: each is 400 VALIDATION_ERROR naming its parameter, not echoing it.
func TestPathProbesAreRefused(t *testing.T) {
	probes := apitest.PathProbes(t)
	for _, p := range probes {
		refusedNaming(t, p, p.Method, p.Path, p.Param, strings.Repeat("a", 30))
	}
	if len(probes) < 80 {
		t.Errorf("only %d path probes", len(probes))
	}
	for _, path := range apitest.WellFormedPaths(t) {
		if code, env := serve(t, http.MethodGet, path); code != http.StatusNoContent {
			t.Errorf("well-formed %s: %d %s", path, code, env.Error.Message)
		}
	}
}

func TestUnenforcedKeywordsAreRefused(t *testing.T) {
	const spec = `openapi: 3.1.0
info: { title: t, version: "1" }
servers: [{ url: "https://x.test/v1" }]
paths:
  /things:
    get:
      parameters:
        - { name: n, in: query, schema: { type: integer, multipleOf: 2 } }
      responses: { "200": { description: ok } }
`
	if _, err := specrules.Operations([]byte(spec)); err == nil || !strings.Contains(err.Error(), "multipleOf") {
		t.Errorf("a rule the checker cannot hold was accepted: %v", err)
	}
	ops, err := specrules.Operations([]byte(strings.Replace(spec, "multipleOf: 2", "maximum: 2", 1)))
	if err != nil {
		t.Errorf("a plain spec: %v", err)
	}
	if want := []queryparams.Operation{{Method: "GET", Path: "/v1/things", QueryParams: []queryparams.Param{{Name: "n", Type: "integer", Max: 2, HasMax: true}}}}; !reflect.DeepEqual(ops, want) {
		t.Errorf("a plain spec's operations: %+v, want %+v", ops, want)
	}
	// Every path parameter is bounded: Tok's spec loads only because each of its path
	// parameters has a pattern and a maxLength (Spec, used by every function).
	withPath := strings.Replace(strings.Replace(spec, "/things:", "/things/{id}:", 1),
		"- { name: n, in: query, schema: { type: integer, multipleOf: 2 } }", "- { name: id, in: path, required: true, schema: { type: string, maxLength: 30 } }", 1)
	if _, err := specrules.Operations([]byte(withPath)); err == nil || !strings.Contains(err.Error(), "path parameter id") {
		t.Errorf("an unbounded path parameter was accepted: %v", err)
	}
	if _, err := queryparams.New([]queryparams.Operation{{Method: "GET", Path: "/v1/things/{id}", PathParams: []queryparams.Param{{Name: "id", Type: "string", MaxLength: 30}}}}); err == nil {
		t.Error("the checker took an unbounded path parameter")
	}
	if _, err := queryparams.New([]queryparams.Operation{{Method: "GET", Path: "/v1/things", QueryParams: []queryparams.Param{{Name: "q", Type: "string", Pattern: "^(a$"}}}}); err == nil || !strings.Contains(err.Error(), "pattern") {
		t.Errorf("the checker took a pattern that does not compile: %v", err)
	}
	if _, err := queryparams.New([]queryparams.Operation{{Method: "GET", Path: "/v1/things/{id}"}}); err == nil {
		t.Error("the checker took an undeclared path parameter")
	}
	if _, err := specrules.Operations([]byte(strings.Replace(withPath, "maxLength: 30", `maxLength: 30, pattern: "^thg_[0-9]+$"`, 1))); err != nil {
		t.Errorf("a bounded path parameter: %v", err)
	}
	if _, err := queryparams.Spec(); err != nil {
		t.Errorf("the API spec: %v", err)
	}
}

// TestGeneratedRulesAreTheSpecs holds spec_gen.go to api/openapi.yaml: the checker every
// function uses enforces what the spec says now.
func TestGeneratedRulesAreTheSpecs(t *testing.T) {
	ops, err := specrules.Operations(gentest.Spec(t))
	if err != nil {
		t.Fatal(err)
	}
	want, err := specrules.Source(ops)
	if err != nil {
		t.Fatal(err)
	}
	gentest.Matches(t, "shared/queryparams/spec_gen.go", want, "go generate ./shared/queryparams")
	if len(ops) < 60 {
		t.Errorf("only %d operations in the spec", len(ops))
	}
}

// TestSpecForChecksTheServedOperations: a function's checker enforces the spec's rules on
// the operations it serves, whatever its router names their wildcards, and passes the
// others' requests on to its router, which answers them 404; a pattern the spec does not
// declare is left out.
func TestSpecForChecksTheServedOperations(t *testing.T) {
	c, err := queryparams.SpecFor([]string{"GET /v1/banks", "GET /v1/banks/{id}", "GET /v1/not-in-the-spec"})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Middleware("", c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	for target, want := range map[string]int{
		"/v1/banks?country=HR":       http.StatusNoContent,
		"/v1/banks?country=hr":       http.StatusBadRequest,
		"/v1/banks?x=1":              http.StatusBadRequest,
		"/v1/banks/Erste":            http.StatusBadRequest,
		"/v1/banks/erste-hr":         http.StatusNoContent,
		"/v1/accounts?currency=eur":  http.StatusNoContent, // another function's operation
		"/v1/not-in-the-spec?x=1":    http.StatusNoContent,
		"/v1/accounts/acc_1?limit=0": http.StatusNoContent,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d: %s", target, rec.Code, want, rec.Body)
		}
	}
}
