// Package syncscheduler runs on every tick of Cloud Scheduler (topic tok-sync-tick): it
// publishes a sync request for each connection that is due.
package syncscheduler

import (
	"context"
	"log/slog"

	"cloud.google.com/go/firestore"
	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/platform"
)

func init() {
	platform.Event("SyncScheduler", platform.With(pubsubclient.And(platform.Firestore), handler))
}

func handler(p pubsubclient.Publishing[*firestore.Client]) platform.EventHandler {
	s := &banksync.Scheduler{FS: p.Dep, Publish: banksync.NewRequestPublisher(p.PubSub, "").Publish}
	return func(ctx context.Context, _ event.Event) error {
		st, err := s.Tick(ctx)
		slog.InfoContext(ctx, "sync tick", "published", st.Published, "claimed", st.Claimed, "read", st.Read, "queries", st.Queries, "tookMs", st.Took.Milliseconds())
		return err
	}
}
