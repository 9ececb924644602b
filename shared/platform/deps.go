package platform

import (
	"context"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/orgs"
)

// Dependency makes a function's dependency from the instance's Env and the dependency's
// configuration K (a shared package's FromEnv, or one of the platform's below).
type Dependency[K, D any] func(ctx context.Context, env *Env, cfg K) (D, error)

// Firestore is the dependency of a function that needs only Tok's Firestore client.
func Firestore(ctx context.Context, env *Env, _ struct{}) (*firestore.Client, error) {
	return env.Clients.Firestore(ctx)
}

// Orgs is the dependency of a function that reads and changes organisations: their
// repository, which hashes API keys under the pepper (Env.Pepper).
func Orgs(ctx context.Context, env *Env, _ struct{}) (*orgs.Repo, error) {
	fs, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	pepper, err := env.Pepper(ctx)
	if err != nil {
		return nil, err
	}
	return orgs.New(fs, pepper), nil
}

// With builds a function that is made from one dependency alone, with no settings of its
// own, by a plain constructor:
//
//	platform.Event("WebhookDeliver", platform.With(webhooks.FromEnv, Handler))
//	func Handler(svc *webhooks.Service) platform.EventHandler
func With[K, D, H any](dep Dependency[K, D], handler func(D) H) func(context.Context, *Env) (H, error) {
	return Using(dep, func(_ context.Context, _ *Env, d D, _ struct{}) (H, error) {
		return handler(d), nil
	})
}
