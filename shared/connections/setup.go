package connections

import (
	"context"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/gcp/kmsclient"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tokenvault"
)

// Config is what a Service reads from the environment: the KMS key of the token vault, the
// sandbox bank of the catalogue and the events topic.
type Config struct {
	Sealing   envelope.Config
	Catalogue bankcatalog.Config
	Events    events.Config
}

// FromEnv builds a function instance's Service: Firestore, the token vault under the KMS
// key, the bank catalogue's connectors (credentials from Secret Manager) and the events
// publisher. Call it from a function's build, never at start-up.
func FromEnv(ctx context.Context, env *platform.Env, cfg Config) (*Service, error) {
	fs, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	sealer, err := kmsclient.Sealer(ctx, env.Clients, cfg.Sealing)
	if err != nil {
		return nil, err
	}
	sr, err := env.Secrets(ctx)
	if err != nil {
		return nil, err
	}
	catalogue, err := bankcatalog.Load(cfg.Catalogue.SandboxBankURL)
	if err != nil {
		return nil, err
	}
	ps, err := pubsubclient.Get(ctx, env.Clients)
	if err != nil {
		return nil, err
	}
	return &Service{Repo: NewRepo(fs), Vault: &tokenvault.Vault{Client: fs, Sealer: sealer},
		Connectors: connectors.New(catalogue, sr), Events: events.NewPublisher(ps, cfg.Events.Topic)}, nil
}
