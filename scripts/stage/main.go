// Command stage prepares each function for deployment: build/<name>/ holds go.mod, go.sum,
// shared/ (no tests) and the function's own files at the root, because the Cloud Functions
// Go buildpack builds only the root package. Terraform (infra/) zips and uploads build/<name>/.
//
//	go run ./scripts/stage [-out build] NAME...
//	go run ./scripts/stage [-out build] -all
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"tokapi.io/tok/shared/manifest"
)

func main() {
	out := flag.String("out", "build", "output folder; relative paths are relative to the module root")
	all := flag.Bool("all", false, "stage every function in functions/manifest.yaml")
	flag.Usage = func() {
		_, _ = fmt.Fprintln(flag.CommandLine.Output(), "usage: go run ./scripts/stage [-out build] NAME... | -all")
		flag.PrintDefaults()
	}
	flag.Parse()

	if err := run(*out, *all, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "stage:", err)
		os.Exit(1)
	}
}

func run(out string, all bool, names []string) error {
	m, root, err := manifest.LoadDefault()
	if err != nil {
		return err
	}
	switch {
	case all && len(names) > 0:
		return fmt.Errorf("give function names or -all, not both")
	case all:
		for _, f := range m.Functions {
			names = append(names, f.Name)
		}
	case len(names) == 0:
		flag.Usage()
		return fmt.Errorf("no function named")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	// Staged copies must never be committed.
	if err := os.MkdirAll(out, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, ".gitignore"), []byte("# written by scripts/stage\n*\n"), 0o600); err != nil {
		return err
	}
	for _, name := range names {
		dst, err := Stage(root, m, name, out)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, dst)
		fmt.Println("staged", name, "->", rel)
	}
	return nil
}
