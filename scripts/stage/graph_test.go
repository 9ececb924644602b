package main

import (
	"os/exec"
	"strings"
	"testing"

	"tokapi.io/tok/shared/manifest"
)

// module is the path of this repository's module.
const module = "tokapi.io/tok"

// goList runs go list with args in the repository and returns its output lines.
func goList(t *testing.T, root string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// isTestSupport tells whether an import path is a package meant only for tests: the
// standard testing packages, shared/testing/..., or a package of this module named *test.
func isTestSupport(path string) bool {
	return path == "testing" || strings.HasPrefix(path, "testing/") ||
		strings.HasPrefix(path, module+"/shared/"+TestSupportDir+"/") ||
		(strings.HasPrefix(path, module+"/") && strings.HasSuffix(path, "test"))
}

// No deployed function's package graph (its own package and everything it imports, tests
// left out, as the buildpack builds it) holds a test-support package.
func TestDeployedGraphsHoldNoTestSupport(t *testing.T) {
	m, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	deployed := map[string]bool{}
	for _, f := range m.Functions {
		deployed[module+"/functions/"+f.Name] = true
	}
	checked := 0
	for _, line := range goList(t, root, "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./functions/...") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !deployed[fields[0]] {
			continue
		}
		checked++
		for _, dep := range fields[1:] {
			if isTestSupport(dep) {
				t.Errorf("%s (deployed) depends on the test-support package %s", fields[0], dep)
			}
		}
	}
	if checked != len(deployed) {
		t.Errorf("checked %d function packages, the manifest lists %d", checked, len(deployed))
	}
	if !isTestSupport(module+"/shared/testing/testenv") || !isTestSupport(module+"/shared/orgs/orgstest") || isTestSupport(module+"/shared/orgs") {
		t.Error("isTestSupport does not tell test support from production packages")
	}
}
