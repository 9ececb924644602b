package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"tokapi.io/tok/shared/manifest"
)

// TestSupportDir is the folder under shared/ that holds the packages only tests import
// (apitest, testenv, ...); staging leaves it out, so no deployed function can use them.
const TestSupportDir = "testing"

// Stage writes outDir/<name>/ for the manifest function name: go.mod, go.sum, the whole
// shared/ tree (no _test.go files, no testdata/ folders, no shared/testing/), the api
// package (the embedded spec: api/'s own files, no tests, no subfolders) and the function's own files from
// functions/<name>/ at the root, so the Cloud Functions Go buildpack (which builds only the
// root package) builds it. The module path is unchanged, so tokapi.io/tok/shared/... imports
// resolve inside the staged module. The target folder is removed first. It returns the
// staged folder.
func Stage(root string, m *manifest.Manifest, name, outDir string) (string, error) {
	if _, ok := m.Function(name); !ok {
		return "", fmt.Errorf("stage %s: function %q is not in functions/manifest.yaml", name, name)
	}
	srcDir := filepath.Join(root, "functions", name)
	goFiles, err := functionFiles(srcDir)
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}

	dst, err := filepath.Abs(filepath.Join(outDir, name))
	if err != nil {
		return "", err
	}
	if err := checkTarget(root, dst); err != nil {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("stage %s: clean %s: %w", name, dst, err)
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}

	if err := copyFile(filepath.Join(root, "go.mod"), filepath.Join(dst, "go.mod")); err != nil {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}
	if err := copyFile(filepath.Join(root, "go.sum"), filepath.Join(dst, "go.sum")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}
	if err := copyTree(filepath.Join(root, "shared"), filepath.Join(dst, "shared")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stage %s: copy shared/: %w", name, err)
	}
	if err := copyFlat(filepath.Join(root, "api"), filepath.Join(dst, "api")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stage %s: copy api/: %w", name, err)
	}
	for _, f := range goFiles {
		if err := copyFile(filepath.Join(srcDir, f), filepath.Join(dst, f)); err != nil {
			return "", fmt.Errorf("stage %s: %w", name, err)
		}
	}
	return dst, nil
}

// functionFiles lists the files of a function package that go to the staged root: every
// regular file except tests. The package must be flat (design: no subpackages).
func functionFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("function folder %s does not exist (the manifest lists it; create its package)", dir)
	}
	if err != nil {
		return nil, err
	}
	var files []string
	hasGo := false
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
			if n == "testdata" {
				continue
			}
			return nil, fmt.Errorf("function folder %s has a subfolder %q: function packages are flat (shared code goes in shared/)", dir, n)
		case strings.HasSuffix(n, "_test.go"):
			continue
		case n == "go.mod" || n == "go.sum" || n == "shared":
			return nil, fmt.Errorf("function folder %s holds %q, which would clash with the staged module root", dir, n)
		case strings.HasPrefix(n, "."):
			continue
		}
		if strings.HasSuffix(n, ".go") {
			hasGo = true
		}
		files = append(files, n)
	}
	if !hasGo {
		return nil, fmt.Errorf("function folder %s has no non-test .go files", dir)
	}
	return files, nil
}

// checkTarget refuses to clean a folder that holds the repository or its sources.
func checkTarget(root, dst string) error {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dst, absRoot)
	if err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("refusing to clean %s: it contains the repository", dst)
	}
	for _, src := range []string{"shared", "functions"} {
		rel, err := filepath.Rel(filepath.Join(absRoot, src), dst)
		if err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return fmt.Errorf("refusing to stage into %s: it is inside %s/", dst, src)
		}
	}
	return nil
}

// copyTree copies src to dst, leaving out _test.go files, testdata/ folders and the
// test-support folder TestSupportDir at its top.
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "testdata" || rel == TestSupportDir {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o750)
		}
		if strings.HasSuffix(d.Name(), "_test.go") {
			return nil
		}
		return copyFile(path, target)
	})
}

// copyFlat copies the regular files directly in src to dst, leaving out _test.go files and
// every subfolder (api/tools holds the spec's npm tooling, not Go).
func copyFlat(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), "_test.go") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src) //nolint:gosec // G304: src is a file of this repository, walked from its root
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) //nolint:gosec // G304: dst is inside the staging folder checkTarget approved
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
