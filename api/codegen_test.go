package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tokapi.io/tok/shared/testing/repotest"
)

// Generator versions customers are known to use; the spec must work with them as it is.
const (
	oapiCodegen    = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"
	oapiRuntime    = "github.com/oapi-codegen/runtime v1.9.0"
	nodeToolsDir   = ".tok/node/node_modules/.bin" // scripts/setup/setup.sh installs api/tools there
	typedEventJSON = `{"id":"evt_01KBR5W1T3X6NQ2ZV7M8C9D0EF","type":"consent.authorized","createdAt":"2026-12-01T10:00:00Z",` +
		`"data":{"consentId":"con_01KBR5W1T3X6NQ2ZV7M8C9D0EF","bankId":"erste-hr","status":"AUTHORIZED"}}`
)

func specPath(t *testing.T) (root, spec string) {
	t.Helper()
	root = repotest.Root(t)
	return root, filepath.Join(root, "api", "openapi.yaml")
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestOapiCodegenClientCompiles generates the Go types and client with oapi-codegen's
// defaults (pruning on) and builds them, with a program that decodes an event into its
// per-type struct through the discriminator.
func TestOapiCodegenClientCompiles(t *testing.T) {
	_, spec := specPath(t)
	dir := t.TempDir()
	run(t, dir, nil, "go", "run", oapiCodegen, "-generate", "types,client", "-package", "tokclient", "-o", "client.gen.go", spec)
	files := map[string]string{
		"go.mod": "module tokclient\n\ngo 1.26\n\nrequire " + oapiRuntime + "\n",
		"event_test.go": `package tokclient

import "testing"

func TestTypedEvent(t *testing.T) {
	var e Event
	if err := e.UnmarshalJSON([]byte(` + "`" + typedEventJSON + "`" + `)); err != nil {
		t.Fatal(err)
	}
	v, err := e.ValueByDiscriminator()
	if err != nil {
		t.Fatal(err)
	}
	c, ok := v.(ConsentAuthorizedEvent)
	if !ok || c.Data.ConsentId != "con_01KBR5W1T3X6NQ2ZV7M8C9D0EF" || c.Data.BankId == nil || *c.Data.BankId != "erste-hr" {
		t.Fatalf("got %T %+v", v, v)
	}
	var _ ClientWithResponsesInterface = (*ClientWithResponses)(nil)
}
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GOFLAGS=-mod=mod", "GOWORK=off"}
	run(t, dir, env, "go", "mod", "tidy")
	dir = byContent(t, dir)
	run(t, dir, env, "go", "vet", "./...")
	run(t, dir, env, "go", "test", "-count=1", "./...")
}

// byContent answers a directory of the user's cache named by the hash of dir's files, holding
// a copy of them: the generated client is 2.5 MB of Go, and Go's build cache knows a package
// by its directory too, so the same client in a new temporary directory compiles again (a
// minute of a loaded machine) where the same directory compiles once per spec. Without a
// cache directory it answers dir.
func byContent(t *testing.T, dir string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Logf("no cache directory, compiling in %s: %v", dir, err)
		return dir
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", f.Name(), len(b))
		h.Write(b)
	}
	parent := filepath.Join(cache, "tok", "oapi-codegen-client")
	kept := filepath.Join(parent, hex.EncodeToString(h.Sum(nil)))
	if _, err := os.Stat(kept); err == nil {
		return kept
	}
	if err := os.MkdirAll(parent, 0o750); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, "tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := os.CopyFS(filepath.Join(tmp, "src"), os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	// Whole or not at all; another run may have kept the same files first.
	if err := os.Rename(filepath.Join(tmp, "src"), kept); err != nil {
		if _, statErr := os.Stat(kept); statErr != nil {
			t.Fatal(err)
		}
	}
	return kept
}

// TestRedoclyLintIsClean lints the spec with Redocly's recommended rules, every finding an
// error (api/tools/redocly.yaml).
func TestRedoclyLintIsClean(t *testing.T) {
	root, spec := specPath(t)
	redocly := nodeTool(t, root, "redocly")
	run(t, root, []string{"REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true"}, redocly,
		"lint", "--config", filepath.Join(root, "api", "tools", "redocly.yaml"), spec)
}

// nodeTool is the path of an npm tool api/tools pins, failing the test when it is missing.
func nodeTool(t *testing.T, root, name string) string {
	t.Helper()
	p := filepath.Join(root, nodeToolsDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed in %s: run scripts/setup/setup.sh (make test does): %v", name, nodeToolsDir, err)
	}
	return p
}

// TestOpenAPITypeScriptPassesStrict generates openapi-typescript's types and type-checks
// them with tsc --strict, with a module that narrows an event on its type.
func TestOpenAPITypeScriptPassesStrict(t *testing.T) {
	root, spec := specPath(t)
	generate, tsc := nodeTool(t, root, "openapi-typescript"), nodeTool(t, root, "tsc")
	dir := t.TempDir()
	run(t, dir, nil, generate, spec, "-o", "tok.d.ts")
	use := `import type { components } from "./tok";

type Event = components["schemas"]["Event"];

export function consentOf(e: Event): string | undefined {
  switch (e.type) {
    case "consent.authorized":
      return e.data.consentId;
    case "transactions.created":
      return e.data.transactionIds[0];
    default:
      return undefined;
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "use.ts"), []byte(use), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dir, nil, tsc, "--strict", "--noEmit", "--target", "es2022", "--module", "nodenext", "tok.d.ts", "use.ts")
}
