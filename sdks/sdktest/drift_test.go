package sdktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"tokapi.io/tok/shared/testing/gentest"
)

// TestTypeScriptTypesMatchSpec regenerates the TypeScript SDK's types from api/openapi.yaml
// with its pinned openapi-typescript and fails if they differ from the committed
// src/schema.ts: a spec change must come with `npm run generate` (and tsc then checks the
// SDK's resources against the new types).
func TestTypeScriptTypesMatchSpec(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sdksDir(t), "typescript")
	npmInstall(t, dir)
	out := filepath.Join(t.TempDir(), "schema.ts")
	run(t.Context(), t, dir, os.Environ(), "node", "node_modules/openapi-typescript/bin/cli.js", "../../api/openapi.yaml", "-o", out)
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	gentest.Matches(t, "sdks/typescript/src/schema.ts", want, "npm run generate (in sdks/typescript)")
}

// TestPythonTypes checks the Python SDK's type hints, and the quickstart's use of them, with
// mypy --strict for the oldest Python it supports. (Its models follow the spec by
// sdks/python/genmodels, whose test checks them.)
func TestPythonTypes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sdksDir(t), "python")
	run(t.Context(), t, dir, append(os.Environ(), "MYPYPATH=src"),
		"mypy", "--strict", "--python-version", "3.10", "--cache-dir", os.DevNull, "src/tokapi", "examples/quickstart.py")
}
