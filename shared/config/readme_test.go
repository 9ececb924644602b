package config_test

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tokapi.io/tok/shared/config"
	"tokapi.io/tok/shared/testing/envtags"
	"tokapi.io/tok/shared/testing/repotest"
)

// TestREADMEListsEveryEnvTag holds the README's configuration reference to the code: every
// `env` tag in the production code of shared/ and functions/ has a row naming the type that
// declares it, and every row names a tag that exists.
func TestREADMEListsEveryEnvTag(t *testing.T) {
	inCode := envTags(t, repotest.Root(t))
	if len(inCode) < 10 {
		t.Fatalf("found only %d env tags in the code; the scan is broken: %v", len(inCode), inCode)
	}
	readme := repotest.File(t, "README.md")
	inREADME := readmeTable(t, string(readme))
	for _, v := range slices.Sorted(maps.Keys(inCode)) {
		if got, ok := inREADME[v]; !ok {
			t.Errorf("README's configuration table lacks %s (declared in %s)", v, inCode[v])
		} else if got != inCode[v] {
			t.Errorf("README says %s is declared in %s; the code declares it in %s", v, got, inCode[v])
		}
	}
	for _, v := range slices.Sorted(maps.Keys(inREADME)) {
		if _, ok := inCode[v]; !ok {
			t.Errorf("README's configuration table lists %s, which no env tag reads", v)
		}
	}
}

// envTags maps each variable named by an `env` struct tag in production code to where it is
// declared: "pkg.Type" in shared/, "functions/<name>" in a function package.
func envTags(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, top := range []string{"shared", "functions"} {
		tags, err := envtags.InTree(filepath.Join(root, top), "testing")
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			where := tag.Type
			if top == "functions" {
				where = "functions/" + filepath.Base(filepath.Dir(tag.File))
			}
			if prev, dup := out[tag.Name]; dup && prev != where {
				t.Errorf("%s is declared twice, in %s and %s: declare each setting once", tag.Name, prev, where)
			}
			out[tag.Name] = where
		}
	}
	return out
}

// readmeTable maps each variable of the README's "| variable | declared in | meaning |"
// table to its declared-in cell.
func readmeTable(t *testing.T, readme string) map[string]string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "| variable | declared in | meaning |\n")
	if !ok {
		t.Fatal(`README has no "| variable | declared in | meaning |" table`)
	}
	out := map[string]string{}
	for _, line := range strings.Split(after, "\n")[1:] { // past the |---| row
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README configuration row %q has %d cells, want 3", line, len(cells))
		}
		where := strings.Trim(strings.TrimSpace(cells[1]), "`")
		for _, v := range strings.Split(cells[0], ",") {
			out[strings.Trim(strings.TrimSpace(v), "`")] = where
		}
	}
	return out
}

// TestProcessReadsNestedConfigs: a function's settings are made of the packages' Config
// types, untagged fields that Process fills field by field, defaults included.
func TestProcessReadsNestedConfigs(t *testing.T) {
	type inner struct {
		URL  string `env:"TOK_TEST_CONFIG_URL, default=http://default"`
		Name string `env:"TOK_TEST_CONFIG_NAME"`
	}
	var s struct{ Inner inner }
	t.Setenv("TOK_TEST_CONFIG_NAME", "set")
	if err := config.Process(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Inner.URL != "http://default" || s.Inner.Name != "set" {
		t.Fatalf("got %+v, want the default URL and the set name", s)
	}
}
