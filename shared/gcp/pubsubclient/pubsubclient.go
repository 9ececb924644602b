// Package pubsubclient gives an instance its Pub/Sub client, and functions that publish the
// dependency that carries it. It is a package of its own so that only the functions that
// publish link the Pub/Sub library.
package pubsubclient

import (
	"context"

	"cloud.google.com/go/pubsub/v2"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/platform"
)

var kind = gcp.NewKind(func(ctx context.Context, cfg gcp.Config) (*pubsub.Client, error) {
	// PUBSUB_EMULATOR_HOST is honoured by the client itself.
	return pubsub.NewClient(ctx, cfg.ProjectID, gcp.ClientOptions("")...)
})

// Get returns the instance's Pub/Sub client, created on first use.
func Get(ctx context.Context, c *gcp.Clients) (*pubsub.Client, error) {
	return kind.Get(ctx, c)
}

// Publishing is a dependency with the instance's Pub/Sub client, for a function that also
// publishes to topics of its own (And).
type Publishing[D any] struct {
	Dep    D
	PubSub *pubsub.Client
}

// And is dep followed by the instance's Pub/Sub client:
//
//	platform.HTTP("Consents", platform.Using(pubsubclient.And(connections.FromEnv), build))
//	func build(ctx context.Context, env *platform.Env, p pubsubclient.Publishing[*connections.Service], urls platform.PublicURLs) (http.Handler, error)
func And[K, D any](dep platform.Dependency[K, D]) platform.Dependency[K, Publishing[D]] {
	return func(ctx context.Context, env *platform.Env, cfg K) (Publishing[D], error) {
		d, err := dep(ctx, env, cfg)
		if err != nil {
			return Publishing[D]{}, err
		}
		ps, err := Get(ctx, env.Clients)
		if err != nil {
			return Publishing[D]{}, err
		}
		return Publishing[D]{Dep: d, PubSub: ps}, nil
	}
}
