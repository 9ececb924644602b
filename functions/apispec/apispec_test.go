package apispec

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/gentest"
)

// handler is the function as deployed: public, behind the platform's middleware.
func handler(t *testing.T) http.Handler {
	t.Helper()
	env := platform.NewEnvFrom(platform.Config{GCP: gcp.Config{ProjectID: "p"}})
	return platform.LazyHTTP(build, func(context.Context) (*platform.Env, error) { return env, nil }, platform.Public())
}

func get(t *testing.T, h http.Handler, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return apitest.Do(t, h, req)
}

func TestServesTheRepositorySpecWithoutAKey(t *testing.T) {
	h := handler(t)
	yamlRec := get(t, h, "/v1/openapi.yaml", nil)
	if yamlRec.Code != http.StatusOK || yamlRec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("yaml: %d %q", yamlRec.Code, yamlRec.Header().Get("Content-Type"))
	}
	if yamlRec.Body.String() != string(gentest.Spec(t)) {
		t.Error("GET /v1/openapi.yaml is not api/openapi.yaml byte for byte")
	}
	jsonRec := get(t, h, "/v1/openapi.json", map[string]string{"Authorization": "ApiKey nonsense"})
	if jsonRec.Code != http.StatusOK || jsonRec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %q", jsonRec.Code, jsonRec.Header().Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(jsonRec.Body.Bytes(), &doc); err != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/openapi.json"] == nil {
		t.Errorf("json: not the OpenAPI document (%v): %.200s", err, jsonRec.Body.String())
	}
	for _, rec := range []*httptest.ResponseRecorder{yamlRec, jsonRec} {
		if rec.Header().Get("Cache-Control") != CacheControl || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("headers: %v", rec.Header())
		}
	}
	if yamlRec.Header().Get("ETag") == jsonRec.Header().Get("ETag") {
		t.Error("the two forms share an ETag")
	}
}

func TestRevalidationAnswers304(t *testing.T) {
	h := handler(t)
	for _, path := range []string{"/v1/openapi.yaml", "/v1/openapi.json"} {
		first := get(t, h, path, nil)
		etag := first.Header().Get("ETag")
		if len(etag) < 10 || etag[0] != '"' {
			t.Fatalf("%s: ETag %q is not a strong entity tag", path, etag)
		}
		for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
			rec := get(t, h, path, map[string]string{"If-None-Match": inm})
			if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
				t.Errorf("%s If-None-Match %s: %d, %d bytes, ETag %q", path, inm, rec.Code, rec.Body.Len(), rec.Header().Get("ETag"))
			}
		}
		if rec := get(t, h, path, map[string]string{"If-None-Match": `"stale"`}); rec.Code != http.StatusOK || rec.Body.Len() != first.Body.Len() {
			t.Errorf("%s with a stale ETag: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
}

func TestOtherMethodsAndPathsInTheEnvelope(t *testing.T) {
	h := handler(t)
	req := httptest.NewRequest(http.MethodPost, "/v1/openapi.yaml", nil)
	if rec := apitest.Do(t, h, req); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	if rec := get(t, h, "/v1/openapi.yml", nil); rec.Code != http.StatusNotFound {
		t.Errorf("openapi.yml: %d", rec.Code)
	}
}
