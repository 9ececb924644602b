package connections

import (
	"context"
	"errors"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tokenvault"
)

// FromEnv builds a function instance's Service: Firestore, the token vault under
// config.TokensKey, the bank catalogue's connectors (credentials from Secret Manager) and
// the events publisher. Call it from a function's build, never at start-up.
func FromEnv(ctx context.Context, env *platform.Env) (*Service, error) {
	fs, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	if env.Config.TokensKey == "" {
		return nil, errors.New("connections: TOK_KMS_KEY (the tokens KMS key) is not configured")
	}
	kc, err := env.Clients.KMS(ctx)
	if err != nil {
		return nil, err
	}
	sealer, err := envelope.New(envelope.NewKMS(kc), env.Config.TokensKey)
	if err != nil {
		return nil, err
	}
	sr, err := env.Secrets(ctx)
	if err != nil {
		return nil, err
	}
	catalogue, err := bankcatalog.Load(env.Config.SandboxBankURL)
	if err != nil {
		return nil, err
	}
	ps, err := env.Clients.PubSub(ctx)
	if err != nil {
		return nil, err
	}
	return &Service{Repo: NewRepo(fs), Vault: &tokenvault.Vault{Client: fs, Sealer: sealer},
		Connectors: connectors.New(catalogue, sr), Events: events.NewPublisher(ps, env.Config.EventsTopic)}, nil
}
