package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
)

// FromEnv builds a function instance's Vault: Firestore, the KMS envelope under
// config.TokensKey, the bank catalogue's connectors (credentials from Secret Manager) and
// the events publisher. Call it from a function's build, never at start-up.
func FromEnv(ctx context.Context, env *platform.Env) (*Vault, error) {
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
	return &Vault{Repo: NewRepo(fs), Sealer: sealer, Connectors: NewConnectors(catalogue, sr),
		Events: events.NewPublisher(ps, env.Config.EventsTopic)}, nil
}

// SyncPublisher publishes SyncRequests to SyncRequestsTopic.
type SyncPublisher struct {
	publisher *pubsub.Publisher
}

// NewSyncPublisher publishes to topic (SyncRequestsTopic unless a test names another).
func NewSyncPublisher(client *pubsub.Client, topic string) *SyncPublisher {
	if topic == "" {
		topic = SyncRequestsTopic
	}
	return &SyncPublisher{publisher: client.Publisher(topic)}
}

// Publish sends one sync request and waits until Pub/Sub has it.
func (p *SyncPublisher) Publish(ctx context.Context, req SyncRequest) error {
	t := tenant.Tenant{Env: req.Env, OrgID: req.OrgID}
	if !t.Valid() || req.ConnectionID == "" {
		return fmt.Errorf("sync request: invalid tenant or connection: %+v", req)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	res := p.publisher.Publish(ctx, &pubsub.Message{Data: body,
		Attributes: map[string]string{events.AttrEnv: req.Env, events.AttrOrg: req.OrgID}})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish sync request for %s: %w", req.ConnectionID, err)
	}
	return nil
}

// DecodeSyncRequest reads a SyncRequest from a Pub/Sub message, checking the attributes
// agree with the body.
func DecodeSyncRequest(m events.PubSubMessage) (SyncRequest, error) {
	var req SyncRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return SyncRequest{}, fmt.Errorf("decode sync request %s: %w", m.MessageID, err)
	}
	t := tenant.Tenant{Env: req.Env, OrgID: req.OrgID}
	if !t.Valid() || m.Attributes[events.AttrEnv] != req.Env || m.Attributes[events.AttrOrg] != req.OrgID || req.ConnectionID == "" {
		return SyncRequest{}, fmt.Errorf("sync request %s: tenant attributes and body disagree or are missing", m.MessageID)
	}
	return req, nil
}
