package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"tokapi.io/tok/shared/manifest"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

const tempManifest = `runtime: go126
topics: []
functions:
  - name: hello
    entryPoint: Hello
    kind: http
    routes: ["/v1/hello"]
  - name: ghost
    entryPoint: Ghost
    kind: http
    routes: ["/v1/ghost"]
  - name: empty
    entryPoint: Empty
    kind: http
    routes: ["/v1/empty"]
  - name: nested
    entryPoint: Nested
    kind: http
    routes: ["/v1/nested"]
`

// tempModule builds a throwaway module shaped like Tok: shared/ with tests and testdata, and
// a function package importing it.
func tempModule(t *testing.T) (string, *manifest.Manifest) {
	t.Helper()
	return tempModuleAt(t, t.TempDir())
}

func tempModuleAt(t *testing.T, root string) (string, *manifest.Manifest) {
	t.Helper()
	writeFiles(t, root, map[string]string{
		"go.mod":                           "module example.test/tmp\n\ngo 1.26\n",
		"go.sum":                           "",
		"functions/manifest.yaml":          tempManifest,
		"shared/greet/greet.go":            "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
		"shared/greet/greet_test.go":       "package greet\n\nimport \"testing\"\n\nfunc TestHello(t *testing.T) {}\n",
		"shared/greet/testdata/golden.txt": "golden\n",
		"shared/greet/sub/sub.go":          "package sub\n\n// X is x.\nconst X = 1\n",
		"shared/greet/sub/data.json":       "{}\n",
		"api/api.go":                       "package api\n\n// Spec is the contract.\nconst Spec = \"openapi: 3.1.0\"\n",
		"api/openapi.yaml":                 "openapi: 3.1.0\n",
		"api/api_test.go":                  "package api\n",
		"api/tools/package.json":           "{}\n",
		"functions/hello/hello.go": "package hello\n\nimport (\n\t\"fmt\"\n\n\t\"example.test/tmp/shared/greet\"\n)\n\n" +
			"func init() { _ = fmt.Sprint(greet.Hello()) }\n\n// Hello says hello.\nfunc Hello() string { return greet.Hello() }\n",
		"functions/hello/hello_test.go":     "package hello\n\nimport \"testing\"\n\nfunc TestHello(t *testing.T) {}\n",
		"functions/hello/testdata/req.json": "{}\n",
		"functions/empty/only_test.go":      "package empty\n",
		"functions/nested/nested.go":        "package nested\n",
		"functions/nested/inner/inner.go":   "package inner\n",
	})
	m, err := manifest.Load(filepath.Join(root, "functions", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return root, m
}

func TestStageCopiesModuleSharedAndFunction(t *testing.T) {
	root, m := tempModule(t)
	out := filepath.Join(root, "build")
	// A stale file from an earlier run must disappear.
	writeFiles(t, out, map[string]string{"hello/stale.go": "package stale\n"})

	dst, err := Stage(root, m, "hello", out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(listFiles(t, dst), "\n")
	want := strings.Join([]string{
		"api/api.go",
		"api/openapi.yaml",
		"go.mod",
		"go.sum",
		"hello.go",
		"shared/greet/greet.go",
		"shared/greet/sub/data.json",
		"shared/greet/sub/sub.go",
	}, "\n")
	if got != want {
		t.Fatalf("staged files:\n%s\nwant:\n%s", got, want)
	}
	assertNoTests(t, dst)
	goBuild(t, dst)
}

func TestStageErrors(t *testing.T) {
	root, m := tempModule(t)
	out := filepath.Join(root, "build")
	for _, tc := range []struct{ name, want string }{
		{"nothere", "not in functions/manifest.yaml"},
		{"ghost", "does not exist"},
		{"empty", "no non-test .go files"},
		{"nested", "function packages are flat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Stage(root, m, tc.name, out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Stage(%q) error = %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
	// Staging into the sources is refused before anything is removed.
	if _, err := Stage(root, m, "hello", filepath.Join(root, "shared")); err == nil || !strings.Contains(err.Error(), "inside shared/") {
		t.Fatalf("staging into shared/: error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "shared", "greet", "greet.go")); err != nil {
		t.Fatalf("shared/ damaged: %v", err)
	}

	// A target that is the repository itself: base/hello is both the module root and
	// the folder staging "hello" into base would clean.
	base := t.TempDir()
	repo, m2 := tempModuleAt(t, filepath.Join(base, "hello"))
	if _, err := Stage(repo, m2, "hello", base); err == nil || !strings.Contains(err.Error(), "contains the repository") {
		t.Fatalf("staging over the repository: error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		t.Fatalf("repository damaged: %v", err)
	}
}

// stageBuilders is how many staged folders TestStageManifestFunctions builds at once: each
// go build and go vet mostly waits on the build cache, so a few at once finish sooner.
const stageBuilders = 4

// TestStageManifestFunctions stages every manifest function whose package exists in this
// repository and proves the staged folder builds and vets on its own: the function's package
// (what the buildpack builds) in every folder, and all of shared/, identical in each, once.
func TestStageManifestFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function")
	}
	m, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var names []string
	for _, f := range m.Functions {
		if gos, _ := filepath.Glob(filepath.Join(root, "functions", f.Name, "*.go")); len(gos) == 0 {
			// infra's TestFunctionPackagesMatchManifest reports missing packages.
			t.Logf("functions/%s has no Go files yet; not staged", f.Name)
			continue
		}
		names = append(names, f.Name)
	}
	if len(names) == 0 {
		t.Skip("no function package exists yet")
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range stageBuilders {
		wg.Go(func() {
			for i := range work {
				t.Run(names[i], func(t *testing.T) {
					dst, err := Stage(root, m, names[i], out)
					if err != nil {
						t.Fatal(err)
					}
					assertNoTests(t, dst)
					pattern := "."
					if i == 0 {
						pattern = "./..."
					}
					goBuild(t, dst, pattern)
				})
			}
		})
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
}

func assertNoTests(t *testing.T, dir string) {
	t.Helper()
	for _, f := range listFiles(t, dir) {
		if strings.HasSuffix(f, "_test.go") || strings.Contains("/"+f, "/testdata/") || strings.HasPrefix(f, "shared/"+TestSupportDir+"/") {
			t.Errorf("staged output contains %s", f)
		}
	}
}

// goBuild runs go build ./... and go vet . in a staged folder, as the buildpack would build it
// (pattern "." builds only the root package and what it imports).
func goBuild(t *testing.T, dir string, pattern ...string) {
	t.Helper()
	if len(pattern) == 0 {
		pattern = []string{"./..."}
	}
	for _, args := range [][]string{append([]string{"build"}, pattern...), {"vet", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// -trimpath keeps the staged folder's location out of the build cache keys, so the
		// packages every function shares compile once per run, not once per function.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -trimpath", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
		}
	}
}

// TestStageWithRepositoryShared stages a throwaway function against this repository's real
// go.mod, go.sum and shared/ (copied into a temp module root), so the staged build resolves
// the real dependencies, before any real function package exists.
func TestStageWithRepositoryShared(t *testing.T) {
	if testing.Short() {
		t.Skip("builds against the real dependencies")
	}
	_, repo, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(repo, f), filepath.Join(root, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyTree(filepath.Join(repo, "shared"), filepath.Join(root, "shared")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{
		"functions/manifest.yaml": "runtime: go126\nfunctions:\n  - name: probe\n    entryPoint: Probe\n    kind: http\n    routes: [\"/v1/probe\"]\n",
		"functions/probe/probe.go": `// Package probe is a throwaway function for the staging test.
package probe

import (
	"net/http"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/manifest"
)

// Probe answers with the number of emulator options and the manifest kind constant.
func Probe(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte(manifest.KindHTTP))
	_ = gcp.EmulatorOptions("")
}
`,
		"functions/probe/probe_test.go": "package probe\n",
	})
	m, err := manifest.Load(filepath.Join(root, "functions", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := Stage(root, m, "probe", filepath.Join(root, "build"))
	if err != nil {
		t.Fatal(err)
	}
	assertNoTests(t, dst)
	// Only the probe and what it imports: other shared packages may be mid-change.
	goBuild(t, dst, ".")
}
