// Package repotest gives tests the repository's root and its files, for tests that hold the
// code to what the repository keeps beside it (the spec, the README, the index definitions).
// Only tests import it.
package repotest

import (
	"os"
	"path/filepath"
	"testing"

	"tokapi.io/tok/shared/manifest"
)

// Root is the repository's root: the nearest directory above the test's that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	r, err := manifest.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// File is the file at path, slash-separated from the repository's root.
func File(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
