package webhooks

import (
	"context"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/gcp/kmsclient"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/platform"
)

// Config is what a Service reads from the environment: the KMS key that seals signing
// secrets, and the endpoint policy's inputs (Tok's own URLs and internal addresses, and
// whether sandbox endpoints may be on loopback).
type Config struct {
	Sealing   envelope.Config
	URLs      platform.PublicURLs
	Catalogue bankcatalog.Config
	// Loopback lets sandbox endpoints be http(s)://localhost or 127.0.0.1. Only the local
	// stack sets it; a deployment never does.
	Loopback bool `env:"TOK_WEBHOOK_LOOPBACK, default=false"`
	// InternalAddrs are addresses of Tok's own processes ("ip" or "ip:port", comma-separated)
	// that deliveries never connect to, whatever a name resolves to.
	InternalAddrs []string `env:"TOK_INTERNAL_ADDRS"`
}

// FromEnv builds the instance's Service from its clients: Firestore, the Pub/Sub deliveries
// topic, and the KMS envelope that seals signing secrets.
func FromEnv(ctx context.Context, env *platform.Env, cfg Config) (*Service, error) {
	return fromEnv(ctx, env, cfg, true)
}

// FromEnvWithoutSecrets is FromEnv for a function that never touches a signing secret: it
// creates no KMS client.
func FromEnvWithoutSecrets(ctx context.Context, env *platform.Env, cfg Config) (*Service, error) {
	return fromEnv(ctx, env, cfg, false)
}

func fromEnv(ctx context.Context, env *platform.Env, cfg Config, withSecrets bool) (*Service, error) {
	fs, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := pubsubclient.Get(ctx, env.Clients)
	if err != nil {
		return nil, err
	}
	var sealer Sealer
	if withSecrets {
		if sealer, err = kmsclient.Sealer(ctx, env.Clients, cfg.Sealing); err != nil {
			return nil, err
		}
	}
	policy := Policy{Loopback: cfg.Loopback, Own: []string{cfg.URLs.Live, cfg.URLs.Sandbox, cfg.Catalogue.SandboxBankURL}, Internal: cfg.InternalAddrs}
	return New(fs, sealer, NewPubSubQueue(ps, DeliveriesTopic), WithPolicy(policy)), nil
}
