// Package config reads Tok's configuration from the environment, once per instance.
// Every setting is listed here, so the README's configuration reference and the code agree.
package config

import (
	"context"
	"fmt"

	"github.com/sethvargo/go-envconfig"
)

// Config is the configuration shared by every function. Emulator endpoints are empty in
// production, where the official clients reach the real services.
type Config struct {
	// ProjectID is the Google Cloud project. Cloud Run functions set it; locally make dev does.
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT, required"`
	// KMSEndpoint and SecretManagerEndpoint point the official clients at Tok's local
	// emulator (emulators/kmssm). Firestore and Pub/Sub clients read their own
	// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST variables.
	KMSEndpoint           string `env:"TOK_KMS_ENDPOINT"`
	SecretManagerEndpoint string `env:"TOK_SECRETMANAGER_ENDPOINT"`
	// FirestoreDatabase is the Firestore database the function uses: Tok's (default), or the
	// function's own (the sandbox bank's sandbox-bank, from the manifest).
	FirestoreDatabase string `env:"TOK_FIRESTORE_DATABASE, default=(default)"`
	// TokensKey is the Cloud KMS crypto key that wraps the data keys of bank tokens.
	TokensKey string `env:"TOK_KMS_KEY"`
	// PublicURL is the API's public base URL (without /v1), used for the bank callback.
	PublicURL string `env:"TOK_PUBLIC_URL, default=http://127.0.0.1:8080"`
	// SandboxPublicURL is the sandbox API host's base URL (without /v1): sandbox keys are
	// served there, live keys at PublicURL.
	SandboxPublicURL string `env:"TOK_SANDBOX_PUBLIC_URL, default=http://127.0.0.1:8081"`
	// SandboxBankURL is the base URL of the sandbox bank function.
	SandboxBankURL string `env:"TOK_SANDBOX_BANK_URL, default=http://127.0.0.1:8080/sandbox-bank"`
	// WebhookLoopback lets sandbox webhook endpoints be http(s)://localhost or 127.0.0.1.
	// Only the local stack sets it; a deployment never does.
	WebhookLoopback bool `env:"TOK_WEBHOOK_LOOPBACK, default=false"`
	// InternalAddrs are addresses of Tok's own processes ("ip" or "ip:port", comma-separated)
	// that webhook deliveries never connect to, whatever a name resolves to.
	InternalAddrs []string `env:"TOK_INTERNAL_ADDRS"`
	// EventsTopic receives domain events for the webhooks and the event log.
	EventsTopic string `env:"TOK_EVENTS_TOPIC, default=tok-events"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"TOK_LOG_LEVEL, default=info"`
}

// Load reads the configuration from the process environment.
func Load(ctx context.Context) (*Config, error) {
	return LoadFrom(ctx, envconfig.OsLookuper())
}

// LoadFrom reads the configuration through a lookuper, so tests need not touch the process
// environment.
func LoadFrom(ctx context.Context, l envconfig.Lookuper) (*Config, error) {
	var c Config
	if err := ProcessFrom(ctx, l, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Process reads a configuration struct of one function or package (fields tagged `env`,
// as in Config) from the process environment, so each declares only the settings it reads.
func Process(ctx context.Context, target any) error {
	return ProcessFrom(ctx, envconfig.OsLookuper(), target)
}

// ProcessFrom is Process through a lookuper.
func ProcessFrom(ctx context.Context, l envconfig.Lookuper, target any) error {
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: target, Lookuper: l}); err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	return nil
}
