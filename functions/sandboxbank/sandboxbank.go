// Package sandboxbank is the SandboxBank function: it serves Tok's sandbox bank
// (shared/sandboxbank) under /sandbox-bank/. It is public (banks' pages and APIs carry no
// Tok API key) but wrapped by the platform like every function: request IDs, JSON logs and
// panic recovery.
package sandboxbank

import (
	"context"
	"net/http"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/sandboxbank"
)

func init() {
	platform.HTTP("SandboxBank", platform.Using(platform.Firestore, build), platform.Public())
}

// settings are what the function reads from the environment.
type settings struct {
	// SlowDelay delays every AIS and PIS call of the slow persona (0: the bank's default).
	SlowDelay time.Duration `env:"TOK_SANDBOX_SLOW_DELAY"`
}

func build(_ context.Context, _ *platform.Env, fs *firestore.Client, s settings) (http.Handler, error) {
	return sandboxbank.New(sandboxbank.Options{Store: sandboxbank.FirestoreStore{Client: fs}, SlowDelay: s.SlowDelay}), nil
}
