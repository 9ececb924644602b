// Package syncscheduler runs on every tick of Cloud Scheduler (topic tok-sync-tick): it
// publishes a sync request for each connection that is due.
package syncscheduler

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/platform"
)

func init() {
	platform.Event("SyncScheduler", build)
}

func build(ctx context.Context, env *platform.Env) (platform.EventHandler, error) {
	fs, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := env.Clients.PubSub(ctx)
	if err != nil {
		return nil, err
	}
	s := &banksync.Scheduler{FS: fs, Publish: banksync.NewRequestPublisher(ps, "").Publish}
	return func(ctx context.Context, _ event.Event) error {
		st, err := s.Tick(ctx)
		slog.InfoContext(ctx, "sync tick", "published", st.Published, "claimed", st.Claimed, "read", st.Read, "queries", st.Queries, "tookMs", st.Took.Milliseconds())
		return err
	}, nil
}
