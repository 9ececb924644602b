// Package syncworker syncs one bank connection per message of tok-sync-requests.
package syncworker

import (
	"context"
	"log/slog"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
)

func init() {
	platform.Event("SyncWorker", platform.With(connections.FromEnv, handler))
}

func handler(conns *connections.Service) platform.EventHandler {
	w := &banksync.Worker{FS: conns.Repo.Client, Sessions: conns, Connections: conns.Repo, Accounts: conns, Events: conns.Events,
		Reconciler: &payments.Reconciler{Store: &payments.Store{FS: conns.Repo.Client, Events: conns.Events, Now: conns.Now}}}
	return events.Messages("sync request", banksync.DecodeRequest, func(ctx context.Context, req banksync.Request) error {
		res, err := w.Handle(ctx, req)
		slog.InfoContext(ctx, "sync", "connectionId", req.ConnectionID, "attended", req.Attended,
			"created", res.Created, "updated", res.Updated, "removed", res.Removed, "skipped", res.Skipped, "error", err)
		return err
	})
}
