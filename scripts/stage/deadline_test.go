package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"tokapi.io/tok/shared/manifest"
)

// Every dependency call has a deadline: a request's or an event delivery's context has one
// (shared/platform), so the only way to lose it is context.WithoutCancel, which work that
// must outlive its caller uses. Outside shared/gcp (the clients' own contexts, which live as
// long as the instance and make no call), a detached context must at once get a deadline of
// its own: context.WithoutCancel appears only as the parent of context.WithTimeout or
// context.WithDeadline. context.Background is held to the same rule.
func TestDetachedContextsHaveDeadlines(t *testing.T) {
	_, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, dir := range []string{"shared", "functions"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if rel == filepath.Join("shared", "gcp") || rel == filepath.Join("shared", "testing") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			files++
			fset := token.NewFileSet()
			parsed, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			for _, pos := range undeadlinedContexts(parsed) {
				t.Errorf("%s: a detached context without a deadline of its own; wrap it in context.WithTimeout", fset.Position(pos))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 100 {
		t.Fatalf("checked only %d files", files)
	}
}

// undeadlinedContexts returns where f calls context.WithoutCancel or context.Background
// other than as the first argument of context.WithTimeout or context.WithDeadline.
func undeadlinedContexts(f *ast.File) []token.Pos {
	bounded := map[ast.Expr]bool{}
	var out []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch contextFunc(call) {
		case "WithTimeout", "WithDeadline":
			if len(call.Args) > 0 {
				bounded[call.Args[0]] = true
			}
		case "WithoutCancel", "Background", "TODO":
			if !bounded[call] {
				out = append(out, call.Pos())
			}
		}
		return true
	})
	return out
}

// contextFunc is the name of the context package function call calls, or "".
func contextFunc(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "context" {
		return sel.Sel.Name
	}
	return ""
}
