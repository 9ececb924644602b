// Package config reads configuration from the environment into a struct of `env`-tagged
// fields (go-envconfig). There is no global configuration: shared/platform reads its own
// Config for every function, and each function's build reads a struct of the settings it
// uses, made of the small Config types of the shared packages it builds on. The README's
// configuration reference lists every tag, and a test here keeps the two in step.
package config

import (
	"context"
	"fmt"

	"github.com/sethvargo/go-envconfig"
)

// Process reads target, a pointer to a struct of `env`-tagged fields, from the process
// environment.
func Process(ctx context.Context, target any) error {
	if err := envconfig.Process(ctx, target); err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	return nil
}
