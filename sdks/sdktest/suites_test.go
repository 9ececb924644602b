package sdktest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tokapi.io/tok/sdks/sdktest"
)

// suite is one SDK's tests and examples: commands run in dir (relative to sdks/) with
// sdktest's environment. Each step must exit 0.
type suite struct {
	name  string
	dir   string
	env   []string
	setup func(t *testing.T, dir string) // installs and builds what the steps need, before the stack starts
	steps [][]string
}

var suites = []suite{
	{
		name: "typescript",
		dir:  "typescript",
		setup: func(t *testing.T, dir string) {
			npmInstall(t, dir)
			buildTypeScript(t, dir)
		},
		steps: [][]string{
			{"npm", "run", "--silent", "test"},
			{"node", "examples/quickstart.mjs"},
		},
	},
	{
		name:  "kotlin",
		dir:   "kotlin",
		setup: compileKotlin,
		steps: [][]string{
			{"java", "-cp", kotlinClasspath, "org.junit.runner.JUnitCore", "io.tokapi.sdk.TokClientTest"},
			{"java", "-cp", kotlinClasspath, "io.tokapi.sdk.examples.QuickstartKt"},
		},
	},
	{
		name: "python",
		dir:  "python",
		env:  []string{"PYTHONPATH=src", "PYTHONDONTWRITEBYTECODE=1"},
		steps: [][]string{
			{"python3", "-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."},
			{"python3", "examples/quickstart.py"},
		},
	},
}

// TestSDKs runs the TypeScript, Kotlin and Python SDKs' own tests and quickstarts against one
// local stack, each in a subprocess with its environment. The three run at once, each with an
// Env of its own (organisations, fault proxy, customer's browser): they spend most of their
// time waiting on the stack and on retries' backoffs.
func TestSDKs(t *testing.T) {
	t.Parallel() // with the type checks, which need no stack
	for _, s := range suites {
		if s.setup != nil {
			s.setup(t, filepath.Join(sdksDir(t), s.dir))
		}
	}
	stack := sdktest.StartStack(t)
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			env := stack.Env(t, "SDK "+s.name)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			defer cancel()
			for _, step := range s.steps {
				env.Faults.Reset()
				run(ctx, t, filepath.Join(sdksDir(t), s.dir), append(env.Vars(), s.env...), step...)
			}
		})
	}
}

func sdksDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs one command in dir and fails the test with its output if it fails.
func run(ctx context.Context, t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(args[0])
	if err != nil {
		t.Fatalf("%s is not installed (make test installs it through scripts/setup/setup.sh): %v", args[0], err)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, path, args[1:]...) //nolint:gosec // the suites' own fixed commands
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("%s (%s):\n%s", strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("%s in %s: %v", strings.Join(args, " "), dir, err)
	}
}

var npmMu sync.Mutex

// npmInstall installs the TypeScript SDK's pinned dev dependencies from its lock file (see
// cachedOutput); one test at a time, as npm ci replaces node_modules.
func npmInstall(t *testing.T, dir string) {
	t.Helper()
	npmMu.Lock()
	defer npmMu.Unlock()
	h := sha256.New()
	hashSources(t, h, dir, "package.json", "package-lock.json")
	hashTools(t, h, "node", "npm")
	cachedOutput(t, "typescript-node-modules", filepath.Join(dir, "node_modules"), filepath.Join(dir, "node_modules", ".tok-lock"),
		hex.EncodeToString(h.Sum(nil)), func() {
			run(context.Background(), t, dir, os.Environ(), "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		})
}

// The Kotlin SDK compiles with Debian's kotlinc (packages kotlin, libgoogle-gson-java and
// junit4, which setup.sh installs) into build/classes; the JUnit tests and the example run
// from there.
var (
	kotlinLibs      = []string{"/usr/share/java/gson.jar", "/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar"}
	kotlinClasspath = strings.Join(append([]string{"build/classes", "/usr/share/java/kotlin-stdlib.jar"}, kotlinLibs...), ":")
)

// compileKotlin compiles the SDK, its tests and its examples in one kotlinc run into
// build/classes (see cachedOutput).
func compileKotlin(t *testing.T, dir string) {
	t.Helper()
	h := sha256.New()
	hashSources(t, h, dir, "src", "examples")
	hashTools(t, h, "kotlinc")
	hashFiles(t, h, append([]string{"/usr/share/java/kotlin-stdlib.jar"}, kotlinLibs...)...)
	cachedOutput(t, "kotlin-classes", filepath.Join(dir, "build", "classes"), filepath.Join(dir, "build", "classes.sha256"),
		hex.EncodeToString(h.Sum(nil)), func() {
			run(t.Context(), t, dir, os.Environ(), "kotlinc", "-nowarn", "-cp", strings.Join(kotlinLibs, ":"),
				"-d", "build/classes", "src/main/kotlin", "src/test/kotlin", "examples")
		})
}

// buildTypeScript runs npm run build (tsc) into dist (see cachedOutput), from the sources,
// configuration and locked dependencies.
func buildTypeScript(t *testing.T, dir string) {
	t.Helper()
	h := sha256.New()
	hashSources(t, h, dir, "src", "scripts", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.esm.json", "tsconfig.cjs.json")
	// The stamp is not in dist, which npm publishes.
	cachedOutput(t, "typescript-dist", filepath.Join(dir, "dist"), filepath.Join(dir, "node_modules", ".tok-dist.sha256"),
		hex.EncodeToString(h.Sum(nil)), func() {
			run(t.Context(), t, dir, os.Environ(), "npm", "run", "--silent", "build")
		})
}

// cachedOutput makes the folder out what build makes from the inputs whose hash is sum. out
// is left as it is when stamp holds sum. Otherwise it is copied from the user's cache
// directory, tok/<kind>/<sum>, or built and then kept there, as Go keeps its builds: a fresh
// clone of unchanged sources builds nothing again. The cache is a help only: when it cannot
// be read or written, build runs.
func cachedOutput(t *testing.T, kind, out, stamp, sum string, build func()) {
	t.Helper()
	if got, err := os.ReadFile(stamp); err == nil && string(got) == sum {
		t.Logf("%s: %s is up to date", kind, out)
		return
	}
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	var cached string
	if c, err := os.UserCacheDir(); err == nil {
		cached = filepath.Join(c, "tok", kind, sum)
	}
	if cached != "" && os.CopyFS(out, os.DirFS(cached)) == nil {
		t.Logf("%s: %s from %s", kind, out, cached)
	} else {
		if err := os.RemoveAll(out); err != nil {
			t.Fatal(err)
		}
		build()
		if cached != "" {
			keep(t, out, cached)
		}
	}
	if err := os.WriteFile(stamp, []byte(sum), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hashSources writes the files under roots (files or directories of dir) into h, each by
// its path relative to dir and its content.
func hashSources(t *testing.T, h io.Writer, dir string, roots ...string) {
	t.Helper()
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join(dir, root), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path) //nolint:gosec // the SDK's own sources
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
			_, _ = h.Write(b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// hashTools writes the programs named (found on PATH, links resolved) into h by path, size
// and time, which change when a package manager installs another version.
func hashTools(t *testing.T, h io.Writer, names ...string) {
	t.Helper()
	for _, name := range names {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is not installed (scripts/setup/setup.sh installs it): %v", name, err)
		}
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		hashFiles(t, h, path)
	}
}

// hashFiles writes files into h by path, size and time.
func hashFiles(t *testing.T, h io.Writer, paths ...string) {
	t.Helper()
	for _, f := range paths {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("toolchain: %v", err)
		}
		fmt.Fprintf(h, "%s %d %d\n", f, fi.Size(), fi.ModTime().UnixNano())
	}
}

// keep copies a build's output into the cache, whole or not at all (a temporary copy renamed).
func keep(t *testing.T, out, cached string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(cached), 0o750); err != nil {
		t.Logf("%s: not kept: %v", out, err)
		return
	}
	tmp, err := os.MkdirTemp(filepath.Dir(cached), "tmp-")
	if err != nil {
		t.Logf("%s: not kept: %v", out, err)
		return
	}
	dst := filepath.Join(tmp, "out")
	if err := os.CopyFS(dst, os.DirFS(out)); err == nil {
		_ = os.Rename(dst, cached) // another run may have kept the same output first
	}
	_ = os.RemoveAll(tmp)
}
