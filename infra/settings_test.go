package infra

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"tokapi.io/tok/shared/testing/envtags"
)

// platformReads are variables the module sets that Cloud Run, not Tok's code, reads.
var platformReads = []string{"LOG_EXECUTION_ID"}

// TestFunctionsGetTheSettingsTheyRead holds Terraform's environment to the code: each
// function is given exactly the deployment settings that an env tag in its package graph
// reads, and the module sets nothing that no function reads.
func TestFunctionsGetTheSettingsTheyRead(t *testing.T) {
	cfg, m, root := load(t)
	reads := functionReads(t, root)

	l, ok := cfg.locals(".")["function_settings"]
	if !ok {
		t.Fatal("infra/ must define local.function_settings, the settings functions are given by their manifest's settings")
	}
	provided := objectKeys(l.e)
	if len(provided) < 3 {
		t.Fatalf("found only %v in local.function_settings; the scan is broken", provided)
	}

	everRead := map[string]bool{}
	for _, f := range m.Functions {
		got, ok := reads[f.Name]
		if !ok {
			t.Errorf("function %s: no package tokapi.io/tok/functions/%s", f.Name, f.Name)
			continue
		}
		for v := range got {
			everRead[v] = true
		}
		for _, s := range f.Settings {
			if !slices.Contains(provided, s) {
				t.Errorf("function %s: setting %s is not in local.function_settings %v", f.Name, s, provided)
			}
			if !got[s] {
				t.Errorf("function %s is given %s, which its code never reads", f.Name, s)
			}
		}
		for _, s := range provided {
			if got[s] && !slices.Contains(f.Settings, s) {
				t.Errorf("function %s reads %s, which Terraform provides, but its manifest settings omit it", f.Name, s)
			}
		}
	}

	for _, b := range cfg.blocks("modules/function", "locals") {
		a, ok := b.b.Body.Attributes["environment_variables"]
		if !ok {
			continue
		}
		set := objectKeys(a.Expr)
		if !slices.Contains(set, "GOOGLE_CLOUD_PROJECT") {
			t.Fatalf("the function module's environment_variables %v lack GOOGLE_CLOUD_PROJECT; the scan is broken", set)
		}
		for _, v := range set {
			if !everRead[v] && !slices.Contains(platformReads, v) {
				t.Errorf("the function module sets %s, which no function's code reads", v)
			}
		}
		return
	}
	t.Fatal("modules/function has no local environment_variables")
}

// objectKeys returns the literal keys of every object constructor within e.
func objectKeys(e hclsyntax.Expression) []string {
	var keys []string
	_ = hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		item, ok := n.(*hclsyntax.ObjectConsKeyExpr)
		if !ok {
			return nil
		}
		if kw := hcl.ExprAsKeyword(item.Wrapped); kw != "" {
			keys = append(keys, kw)
		} else if v, diags := item.Wrapped.Value(nil); !diags.HasErrors() && v.Type().FriendlyName() == "string" {
			keys = append(keys, v.AsString())
		}
		return nil
	})
	return keys
}

// functionReads maps each function package to the variables the env tags of its package
// graph (the module's own packages) read.
func functionReads(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	list := func(args ...string) []string {
		cmd := exec.Command("go", append([]string{"list"}, args...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	const module = "tokapi.io/tok/"
	dirs := map[string]string{}
	for _, line := range list("-f", "{{.ImportPath}} {{.Dir}}", "./shared/...", "./functions/...") {
		path, dir, _ := strings.Cut(line, " ")
		dirs[path] = dir
	}
	tagsOf := map[string][]string{}
	out := map[string]map[string]bool{}
	for _, line := range list("-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./functions/...") {
		pkgs := strings.Fields(line)
		name, ok := strings.CutPrefix(pkgs[0], module+"functions/")
		if !ok || strings.Contains(name, "/") {
			continue
		}
		got := map[string]bool{}
		for _, p := range pkgs {
			dir, ok := dirs[p]
			if !ok {
				continue
			}
			names, seen := tagsOf[p]
			if !seen {
				tags, err := envtags.InDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, tag := range tags {
					names = append(names, tag.Name)
				}
				tagsOf[p] = names
			}
			for _, n := range names {
				got[n] = true
			}
		}
		out[name] = got
	}
	return out
}
