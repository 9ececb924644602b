package webhooks

import (
	"context"

	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/platform"
)

// FromEnv builds the instance's Service from its clients: Firestore, the Pub/Sub deliveries
// topic, and, when withSecrets is set, the KMS envelope that seals signing secrets (the
// tokens key). Functions that never touch a secret create no KMS client. The endpoint
// policy comes from the configuration: Tok's own URLs and internal addresses, and whether
// sandbox endpoints may be on loopback.
func FromEnv(ctx context.Context, env *platform.Env, withSecrets bool, opts ...Option) (*Service, error) {
	fs, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := env.Clients.PubSub(ctx)
	if err != nil {
		return nil, err
	}
	var sealer Sealer
	if withSecrets {
		kc, err := env.Clients.KMS(ctx)
		if err != nil {
			return nil, err
		}
		if sealer, err = envelope.New(envelope.NewKMS(kc), env.Config.TokensKey); err != nil {
			return nil, err
		}
	}
	c := env.Config
	policy := Policy{Loopback: c.WebhookLoopback, Own: []string{c.PublicURL, c.SandboxPublicURL, c.SandboxBankURL}, Internal: c.InternalAddrs}
	return New(fs, sealer, NewPubSubQueue(ps, DeliveriesTopic), append([]Option{WithPolicy(policy)}, opts...)...), nil
}
