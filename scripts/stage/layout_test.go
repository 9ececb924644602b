package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"tokapi.io/tok/shared/manifest"
)

// functionOf returns the function a package path of this module belongs to ("" for none).
func functionOf(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/functions/")
	if !ok {
		return ""
	}
	return rest
}

// The layout rule: a function package imports only shared/... (never another function
// package, tests included); shared/ never imports functions/; no production code imports
// a function package; tests that compose several functions live under e2e/; function
// packages are flat.
func TestLayoutRule(t *testing.T) {
	_, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	pkgs := 0
	for _, line := range goList(t, root, "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", "./...") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("go list line %q", line)
		}
		pkg, imports, testImports := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		pkgs++
		own := functionOf(pkg)
		if strings.Contains(own, "/") {
			t.Errorf("%s: function packages are flat (shared code goes in shared/)", pkg)
		}
		check := func(imp string, test bool) {
			fn := functionOf(imp)
			if fn == "" || fn == own {
				return
			}
			kind := "imports"
			if test {
				kind = "imports in its tests"
			}
			switch {
			case own != "":
				t.Errorf("%s %s the function package %s: functions import only shared/...", pkg, kind, imp)
			case strings.HasPrefix(pkg, module+"/shared/"):
				t.Errorf("%s %s the function package %s: shared/ never imports functions/", pkg, kind, imp)
			case !test:
				t.Errorf("%s imports the function package %s: nothing imports a function package", pkg, imp)
			case !strings.HasPrefix(pkg, module+"/e2e/"):
				t.Errorf("%s imports in its tests the function package %s: tests that compose functions live under e2e/", pkg, imp)
			}
		}
		for _, imp := range imports {
			check(imp, false)
		}
		for _, imp := range testImports {
			check(imp, true)
		}
	}
	if pkgs < 20 {
		t.Fatalf("go list found %d packages", pkgs)
	}
}

// A function's init only registers it with shared/platform: one call of platform.HTTP or
// platform.Event, nothing else (configuration, clients and handlers come on first use).
func TestFunctionInitOnlyRegisters(t *testing.T) {
	m, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Functions {
		files, _ := filepath.Glob(filepath.Join(root, "functions", f.Name, "*.go"))
		inits := 0
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range parsed.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Name.Name != "init" || fd.Recv != nil {
					continue
				}
				inits++
				if !registersOnly(fd.Body) {
					t.Errorf("%s: init does more than one platform.HTTP or platform.Event call", file)
				}
			}
		}
		if inits != 1 {
			t.Errorf("functions/%s has %d init functions, want the one that registers it", f.Name, inits)
		}
	}
}

func registersOnly(body *ast.BlockStmt) bool {
	if len(body.List) != 1 {
		return false
	}
	es, ok := body.List[0].(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "platform" && (sel.Sel.Name == "HTTP" || sel.Sel.Name == "Event")
}
