package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeLink writes, under a work folder of its own, the files a link reads, and returns the
// link go would ask for.
func fakeLink(t *testing.T, archive string) link {
	t.Helper()
	work := filepath.Join(t.TempDir(), "go-build1234")
	if err := os.MkdirAll(filepath.Join(work, "b001"), 0o750); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(work, "b002", "_pkg_.a")
	if err := os.MkdirAll(filepath.Dir(pkg), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, []byte(archive), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(work, "b001", "importcfg.link")
	if err := os.WriteFile(cfg, []byte("packagefile example.com/p="+pkg+"\nmodinfo \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tool, err := exec.LookPath("go") // any file stands for the linker
	if err != nil {
		t.Fatal(err)
	}
	l, ok := parseLink(filepath.Join(filepath.Dir(tool), "link"), []string{"-o", filepath.Join(work, "b001", "p.test"), "-importcfg", cfg, "-s", "-w", pkg})
	if !ok {
		t.Fatal("parseLink did not take a link")
	}
	l.tool = tool
	return l
}

func TestKeyIsTheLinksInputs(t *testing.T) {
	env := []string{"GOAMD64=v1", "HOME=/a"}
	a, err := fakeLink(t, "archive one").key(env)
	if err != nil {
		t.Fatal(err)
	}
	same, err := fakeLink(t, "archive one").key([]string{"HOME=/b", "GOAMD64=v1"})
	if err != nil {
		t.Fatal(err)
	}
	if a != same {
		t.Errorf("the same inputs in another work folder (and another HOME) got another key: %s, %s", a, same)
	}
	changed := map[string]func() (string, error){
		"an archive's content": func() (string, error) { return fakeLink(t, "archive two").key(env) },
		"the Go environment":   func() (string, error) { return fakeLink(t, "archive one").key([]string{"GOAMD64=v3"}) },
		"an argument": func() (string, error) {
			l := fakeLink(t, "archive one")
			l.args = append([]string{"-X", "main.v=2"}, l.args...)
			return l.key(env)
		},
		"the import configuration": func() (string, error) {
			l := fakeLink(t, "archive one")
			if err := os.WriteFile(l.importcfg, []byte("modinfo \"y\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return l.key(env)
		},
	}
	for what, key := range changed {
		k, err := key()
		if err != nil {
			t.Fatal(err)
		}
		if k == a {
			t.Errorf("a change of %s kept the key", what)
		}
	}
}

func TestOnlyLinksAreTaken(t *testing.T) {
	for _, c := range []struct {
		tool string
		args []string
	}{
		{"/go/pkg/tool/linux_amd64/compile", []string{"-o", "/tmp/go-build1/b001/_pkg_.a", "-importcfg", "/tmp/go-build1/b001/importcfg"}},
		{"/go/pkg/tool/linux_amd64/link", []string{"-V=full"}},
		{"/go/pkg/tool/linux_amd64/link", []string{"-o", "/elsewhere/p.test", "-importcfg", "/tmp/cfg"}},
	} {
		if _, ok := parseLink(c.tool, c.args); ok {
			t.Errorf("%s %v was taken for a cacheable link", c.tool, c.args)
		}
	}
}

// module writes a module with one test that prints word into a new folder and returns it.
func module(t *testing.T, word string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module example.com/m\n\ngo 1.24\n",
		"m_test.go": "package m\n\nimport \"testing\"\n\nfunc TestWord(t *testing.T) { t.Log(word) }\n",
		"m.go":      "package m\n\nconst word = \"" + word + "\"\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goTest runs go test -v in dir through the wrapper with cache as its cache and returns the output.
func goTest(t *testing.T, wrapper, cache, dir string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "test", "-v", "-count=1", "-trimpath", "-toolexec="+wrapper, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOK_LINKCACHE="+cache, "GOFLAGS=", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}
	return string(out)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestGoTestRunsTheCachedBinary builds the wrapper and runs go test through it: the first run
// links and keeps the binary, a run of the same sources in another folder (a fresh clone) runs
// the kept binary without linking, and a change of the sources links anew.
func TestGoTestRunsTheCachedBinary(t *testing.T) {
	wrapper := filepath.Join(t.TempDir(), "linkcache")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", wrapper, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cache := t.TempDir()

	if out := goTest(t, wrapper, cache, module(t, "first")); !strings.Contains(out, "first") {
		t.Fatalf("the first run did not run the test:\n%s", out)
	}
	kept := entries(t, cache)
	if len(kept) != 1 {
		t.Fatalf("the first link kept %v, want one binary", kept)
	}

	// Put another test binary in the kept one's place: a run of the same sources that prints
	// its word proves that go test ran what the cache held, not a link of its own.
	other := t.TempDir()
	c := exec.CommandContext(t.Context(), "go", "test", "-c", "-trimpath", "-o", filepath.Join(other, "m.test"), ".")
	c.Dir = module(t, "fromthecache")
	c.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(other, "m.test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, kept[0]), bin, 0o700); err != nil { //nolint:gosec // a test binary
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(cache, kept[0]), old, old); err != nil {
		t.Fatal(err)
	}
	if out := goTest(t, wrapper, cache, module(t, "first")); !strings.Contains(out, "fromthecache") {
		t.Fatalf("the second run of the same sources linked again instead of running the kept binary:\n%s", out)
	}
	if info, err := os.Stat(filepath.Join(cache, kept[0])); err != nil || !info.ModTime().After(old) {
		t.Errorf("a hit did not mark the binary used (%v)", err)
	}

	if out := goTest(t, wrapper, cache, module(t, "second")); !strings.Contains(out, "second") {
		t.Fatalf("changed sources ran an old binary:\n%s", out)
	}
	if n := len(entries(t, cache)); n != 2 {
		t.Errorf("after a change the cache holds %d binaries, want 2", n)
	}
}

func TestTrimDropsTheLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, name := range []string{"oldest", "older", "newest"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{'x'}, 100), 0o600); err != nil {
			t.Fatal(err)
		}
		at := now.Add(time.Duration(i-3) * time.Hour)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	trim(dir, 150)
	if got := strings.Join(entries(t, dir), " "); got != "newest" {
		t.Errorf("after trimming to 150 bytes the cache holds %q, want newest", got)
	}
}
