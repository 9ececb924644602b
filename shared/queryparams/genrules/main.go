// Command genrules writes shared/queryparams/spec_gen.go, the parameter rules of every
// operation of api/openapi.yaml; go generate ./shared/queryparams runs it.
package main

import (
	"fmt"
	"os"

	"tokapi.io/tok/api"
	"tokapi.io/tok/shared/queryparams/specrules"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genrules:", err)
		os.Exit(1)
	}
}

func run() error {
	ops, err := specrules.Operations(api.YAML)
	if err != nil {
		return err
	}
	src, err := specrules.Source(ops)
	if err != nil {
		return err
	}
	return os.WriteFile("spec_gen.go", src, 0o600)
}
