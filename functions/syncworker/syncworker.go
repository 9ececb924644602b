// Package syncworker syncs one bank connection per message of tok-sync-requests.
package syncworker

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
)

func init() {
	platform.Event("SyncWorker", platform.Using(connections.FromEnv, build))
}

func build(_ context.Context, _ *platform.Env, conns *connections.Service, _ struct{}) (platform.EventHandler, error) {
	w := &banksync.Worker{FS: conns.Repo.Client, Sessions: conns, Connections: conns.Repo, Accounts: conns, Events: conns.Events,
		Reconciler: &payments.Reconciler{Store: &payments.Store{FS: conns.Repo.Client, Events: conns.Events, Now: conns.Now}}}
	return func(ctx context.Context, e event.Event) error {
		m, err := events.FromCloudEvent(e)
		if err != nil {
			slog.ErrorContext(ctx, "undecodable sync request; dropped", "error", err)
			return nil
		}
		req, err := banksync.DecodeRequest(m)
		if err != nil {
			slog.ErrorContext(ctx, "invalid sync request; dropped", "error", err)
			return nil
		}
		res, err := w.Handle(ctx, req)
		slog.InfoContext(ctx, "sync", "connectionId", req.ConnectionID, "attended", req.Attended,
			"created", res.Created, "updated", res.Updated, "removed", res.Removed, "skipped", res.Skipped, "error", err)
		return err
	}, nil
}
