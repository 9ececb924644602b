// Package envtags finds the environment variables Tok's code reads: the names in the `env`
// struct tags (go-envconfig) of production Go files. Tests use it to hold the README's
// configuration reference and Terraform's per-function settings to the code.
package envtags

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

var name = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Tag is one setting: the variable and the type that declares it ("pkg.Type").
type Tag struct {
	Name string
	Type string
	File string
}

// InFile returns the env tags declared in one Go file.
func InFile(path string) ([]Tag, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var tags []Tag
	var bad error
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, field := range st.Fields.List {
			if field.Tag == nil {
				continue
			}
			raw, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				bad = fmt.Errorf("%s: tag %s: %w", path, field.Tag.Value, err)
				return false
			}
			v, _, _ := strings.Cut(reflect.StructTag(raw).Get("env"), ",")
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if !name.MatchString(v) {
				bad = fmt.Errorf("%s: env tag %q is not an environment variable name", path, v)
				return false
			}
			tags = append(tags, Tag{Name: v, Type: f.Name.Name + "." + ts.Name.Name, File: path})
		}
		return true
	})
	return tags, bad
}

// InDir returns the env tags of the production (non-test) Go files directly in dir.
func InDir(dir string) ([]Tag, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var tags []Tag
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		got, err := InFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		tags = append(tags, got...)
	}
	return tags, nil
}

// InTree returns the env tags of the production Go files below dir, skipping the
// directories skip (relative to dir, slash-separated).
func InTree(dir string, skip ...string) ([]Tag, error) {
	var tags []Tag
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for _, s := range skip {
			if filepath.ToSlash(rel) == s {
				return filepath.SkipDir
			}
		}
		got, err := InDir(path)
		tags = append(tags, got...)
		return err
	})
	return tags, err
}
