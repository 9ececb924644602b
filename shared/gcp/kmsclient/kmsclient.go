// Package kmsclient gives an instance its Cloud KMS client and envelope sealer. It is a
// package of its own so that only the functions that seal or open data link the KMS library.
package kmsclient

import (
	"context"
	"errors"

	kms "cloud.google.com/go/kms/apiv1"

	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/gcp"
)

var kind = gcp.NewKind(func(ctx context.Context, cfg gcp.Config) (*kms.KeyManagementClient, error) {
	return kms.NewKeyManagementClient(ctx, gcp.ClientOptions(cfg.KMSEndpoint)...)
})

// Get returns the instance's Cloud KMS client, created on first use.
func Get(ctx context.Context, c *gcp.Clients) (*kms.KeyManagementClient, error) {
	return kind.Get(ctx, c)
}

// Sealer returns an envelope sealer under the configured KMS key, on the instance's KMS
// client.
func Sealer(ctx context.Context, c *gcp.Clients, cfg envelope.Config) (*envelope.Sealer, error) {
	if cfg.Key == "" {
		return nil, errors.New("TOK_KMS_KEY (the KMS key that wraps data keys) is not configured")
	}
	kc, err := Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return envelope.New(envelope.NewKMS(kc), cfg.Key)
}
