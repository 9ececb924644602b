package sdktest

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"tokapi.io/tok/shared/testing/apitest"
)

// Operation is one operation of api/openapi.yaml, for the SDKs' coverage tests: every
// operation that takes an API key must have an SDK method. The others (APIKey false) are
// the customer's browser's (the bank callback, the hosted pages) or public documents (the
// spec itself).
type Operation struct {
	ID     string `json:"operationId"`
	Method string `json:"method"`
	Path   string `json:"path"` // the spec's template under /v1, e.g. /consents/{consentId}
	APIKey bool   `json:"apiKey"`
}

// Operations lists the spec's operations, sorted by ID.
func Operations(t testing.TB) []Operation {
	t.Helper()
	spec, _ := apitest.Spec(t)
	var ops []Operation
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			ops = append(ops, Operation{ID: op.OperationID, Method: method, Path: path, APIKey: len(security) > 0})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops
}

// operationOf is the ID of the spec's operation r is a request of, or "" for none.
func operationOf(t testing.TB, r *http.Request) string {
	_, route, _, err := apitest.FindRoute(t, r)
	if err != nil {
		return ""
	}
	return route.Operation.OperationID
}

// writeOperations writes Operations as a JSON file for the other languages' tests.
func writeOperations(t *testing.T) string {
	t.Helper()
	return writeJSONFile(t, "operations.json", Operations(t))
}

// writeJSONFile writes v as indented JSON to name in a temporary directory, for the other
// languages' tests, and returns its path.
func writeJSONFile(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
