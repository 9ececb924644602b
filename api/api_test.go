package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"tokapi.io/tok/api"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestJSONIsTheSameDocument(t *testing.T) {
	js, err := api.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	if err := yaml.Unmarshal(api.YAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Through encoding/json, so both sides have the same number types.
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, want) {
		t.Fatal("the JSON spec differs from openapi.yaml")
	}
	// Keys keep the YAML order: the document reads the same in both forms.
	if i, j := strings.Index(string(js), `"/banks"`), strings.Index(string(js), `"/accounts"`); i < 0 || j < 0 || i > j {
		t.Errorf("paths are not in the YAML order (/banks at %d, /accounts at %d)", i, j)
	}
	if _, err := openapi3.NewLoader().LoadFromData(js); err != nil {
		t.Errorf("the JSON spec does not load: %v", err)
	}
}

func TestEveryOperationDeclaresItsErrors(t *testing.T) {
	if problems := contractProblems(load(t)); len(problems) > 0 {
		t.Errorf("%d operations do not declare what they answer:\n%s", len(problems), strings.Join(problems, "\n"))
	}
}

// TestContractRulesCatchOmissions proves the rules above fail on a spec that forgets a
// response or a header.
func TestContractRulesCatchOmissions(t *testing.T) {
	cases := map[string]func(doc *openapi3.T){
		"401 missing": func(doc *openapi3.T) { doc.Paths.Find("/banks").Get.Responses.Delete("401") },
		"404 missing": func(doc *openapi3.T) { doc.Paths.Find("/banks/{bankId}").Get.Responses.Delete("404") },
		"422 missing": func(doc *openapi3.T) { doc.Paths.Find("/consents").Post.Responses.Delete("422") },
		"403 missing": func(doc *openapi3.T) { doc.Paths.Find("/members").Post.Responses.Delete("403") },
		"wrong component": func(doc *openapi3.T) {
			r := doc.Paths.Find("/banks").Get.Responses
			r.Set("429", r.Value("400"))
		},
		"rate-limit headers missing": func(doc *openapi3.T) {
			delete(doc.Paths.Find("/banks").Get.Responses.Value("200").Value.Headers, "X-RateLimit-Remaining")
		},
		"Idempotent-Replayed missing": func(doc *openapi3.T) {
			delete(doc.Paths.Find("/consents").Post.Responses.Value("201").Value.Headers, "Idempotent-Replayed")
		},
		"unbounded query parameter": func(doc *openapi3.T) {
			for _, p := range doc.Paths.Find("/accounts").Get.Parameters {
				if p.Value.Name == "currency" {
					p.Value.Schema.Value.MaxLength = nil
				}
			}
		},
		"request ID missing": func(doc *openapi3.T) {
			delete(doc.Paths.Find("/callback").Get.Responses.Value("303").Value.Headers, "X-Request-Id")
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			doc := load(t)
			mutate(doc)
			if len(contractProblems(doc)) == 0 {
				t.Error("the rules did not notice")
			}
		})
	}
}

// errorResponses names the shared response of each error status.
var errorResponses = map[string]string{
	"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound", "409": "Conflict",
	"413": "PayloadTooLarge", "415": "UnsupportedMediaType", "422": "UnprocessableEntity",
	"429": "TooManyRequests", "500": "InternalError", "502": "BadGateway", "503": "ServiceUnavailable",
}

var rateLimitHeaders = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}

// contractProblems lists what operations fail to declare. Every response has X-Request-Id.
// An authenticated operation answers 400, 401, 429, 500 and 503, and its successes carry the
// rate-limit headers; anything but GET may be 403 (read_only keys); a path with an ID may be
// 404; a JSON body may be 413 or 415; an Idempotency-Key may be 409 (in progress) or 422
// (reused), and successes may be replays (Idempotent-Replayed). Their error statuses use
// the shared response of the status (public operations such as the browser callback answer
// their own).
func contractProblems(doc *openapi3.T) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, "  "+fmt.Sprintf(format, args...)) }
	for _, name := range []string{"TooManyRequests", "ServiceUnavailable"} {
		if r := doc.Components.Responses[name]; r == nil || r.Value.Headers["Retry-After"] == nil {
			add("components/responses/%s must declare Retry-After", name)
		}
	}
	if r := doc.Components.Responses["BadGateway"]; r == nil || r.Value.Headers["X-Tok-Error-Source"] == nil {
		add("components/responses/BadGateway must declare X-Tok-Error-Source")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			id := method + " " + path + " (" + op.OperationID + ")"
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			authenticated := len(security) > 0
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			need := map[string]bool{}
			idempotent := false
			if authenticated {
				for _, s := range []string{"400", "401", "429", "500", "503"} {
					need[s] = true
				}
				if method != "GET" {
					need["403"] = true
				}
				if strings.Contains(path, "{") {
					need["404"] = true
				}
				if op.RequestBody != nil {
					need["413"], need["415"] = true, true
				}
				for _, p := range params {
					if p.Value != nil && p.Value.In == "header" && p.Value.Name == "Idempotency-Key" {
						idempotent = true
						need["409"], need["422"] = true, true
					}
				}
			}
			for _, p := range params {
				if p.Value != nil && p.Value.In == "query" {
					if why := unbounded(p.Value.Schema); why != "" {
						add("%s: query parameter %s %s", id, p.Value.Name, why)
					}
				}
			}
			for s := range need {
				if op.Responses.Value(s) == nil {
					add("%s: no %s response (%s)", id, s, errorResponses[s])
				}
			}
			for status, r := range op.Responses.Map() {
				if name, ok := errorResponses[status]; ok && authenticated && r.Ref != "#/components/responses/"+name {
					add("%s: %s must be $ref: #/components/responses/%s, not %q", id, status, name, r.Ref)
				}
				if r.Value.Headers["X-Request-Id"] == nil {
					add("%s: response %s does not declare X-Request-Id", id, status)
				}
				if !authenticated || !strings.HasPrefix(status, "2") {
					continue
				}
				for _, h := range rateLimitHeaders {
					if hv := r.Value.Headers[h]; hv == nil || !hv.Value.Required {
						add("%s: response %s does not declare %s as required", id, status, h)
					}
				}
				if idempotent && r.Value.Headers["Idempotent-Replayed"] == nil {
					add("%s: response %s does not declare Idempotent-Replayed", id, status)
				}
			}
		}
	}
	return out
}

// unbounded says why a query parameter's schema lets a value of any size through, or "":
// a string needs a maxLength, an enum or a date format; a number a minimum and a maximum.
// shared/queryparams holds every request to these bounds.
func unbounded(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil {
		return "has no schema"
	}
	s := ref.Value
	switch {
	case s.Type.Is(openapi3.TypeInteger) || s.Type.Is(openapi3.TypeNumber):
		if s.Min == nil || s.Max == nil {
			return "needs a minimum and a maximum"
		}
	case s.Type.Is(openapi3.TypeBoolean):
	case s.MaxLength == nil && len(s.Enum) == 0 && s.Format != "date" && s.Format != "date-time":
		return "needs a maxLength, an enum or a date format"
	}
	return ""
}
