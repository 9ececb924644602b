// Command gencatalogue writes shared/bankcatalog/banks_gen.go from banks.yaml; go generate
// ./shared/bankcatalog runs it.
package main

import (
	"fmt"
	"os"

	"tokapi.io/tok/shared/bankcatalog/catalogsrc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalogue:", err)
		os.Exit(1)
	}
}

func run() error {
	data, err := os.ReadFile("banks.yaml")
	if err != nil {
		return err
	}
	banks, err := catalogsrc.Decode(data)
	if err != nil {
		return err
	}
	src, err := catalogsrc.Source(banks)
	if err != nil {
		return err
	}
	return os.WriteFile("banks_gen.go", src, 0o600) //nolint:gosec // G703: a constant name in the folder go generate runs in
}
