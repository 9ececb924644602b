// Package gentest checks a committed generated file (an SDK's types or models, the bank
// catalogue's table) against what its generator makes of its source now. Only tests import it.
package gentest

import (
	"bytes"
	"testing"

	"tokapi.io/tok/shared/testing/repotest"
)

// Spec is api/openapi.yaml, the spec every generator reads.
func Spec(t testing.TB) []byte {
	t.Helper()
	return repotest.File(t, "api/openapi.yaml")
}

// Matches fails the test unless the file at path (from the repository's root) is want,
// saying that fix regenerates it, and returns the file.
func Matches(t testing.TB, path string, want []byte, fix string) []byte {
	t.Helper()
	got := repotest.File(t, path)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what its generator makes of its source (api/openapi.yaml, banks.yaml): run `%s`", path, fix)
	}
	return got
}
