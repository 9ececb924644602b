// Package apispec is the HTTP function serving Tok's API contract: GET /v1/openapi.yaml and
// GET /v1/openapi.json, public (no API key) and cacheable (ETag, 304 on If-None-Match). Both
// are api/openapi.yaml as embedded by package api, the document every test checks
// responses against; the JSON form is that document converted.
package apispec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"tokapi.io/tok/api"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/platform"
)

func init() {
	platform.HTTP("APISpec", build, platform.Public())
}

func build(context.Context, *platform.Env) (http.Handler, error) {
	return Handler()
}

// CacheControl lets clients and shared caches keep the spec for five minutes, then
// revalidate it with its ETag.
const CacheControl = "public, max-age=300"

// Handler serves the spec in both forms.
func Handler() (http.Handler, error) {
	js, err := api.JSON()
	if err != nil {
		return nil, err
	}
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/openapi.yaml", document("application/yaml", api.YAML))
	rt.Handle("GET /v1/openapi.json", document("application/json", js))
	return rt, nil
}

// document serves body with a strong ETag of its content; http.ServeContent answers
// If-None-Match with 304, HEAD without a body, and ranges.
func document(contentType string, body []byte) httpapi.HandlerFunc {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(w http.ResponseWriter, r *http.Request) error {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("ETag", etag)
		h.Set("Cache-Control", CacheControl)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return nil
	}
}
