// Package syncworker syncs one bank connection per message of tok-sync-requests.
package syncworker

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
)

func init() {
	platform.Event("SyncWorker", build)
}

func build(ctx context.Context, env *platform.Env) (platform.EventHandler, error) {
	vault, err := connections.FromEnv(ctx, env)
	if err != nil {
		return nil, err
	}
	ps, err := env.Clients.PubSub(ctx)
	if err != nil {
		return nil, err
	}
	w := &banksync.Worker{
		FS: vault.Repo.Client, Sessions: banksync.VaultSessions{Vault: vault},
		Connections: banksync.RepoConnections{Repo: vault.Repo},
		Accounts:    banksync.RepoAccounts{Repo: vault.Repo, Connectors: vault.Connectors},
		Events:      events.NewPublisher(ps, env.Config.EventsTopic),
	}
	return func(ctx context.Context, e event.Event) error {
		m, err := events.FromCloudEvent(e)
		if err != nil {
			slog.ErrorContext(ctx, "undecodable sync request; dropped", "error", err)
			return nil
		}
		var req banksync.Request
		if err := json.Unmarshal(m.Data, &req); err != nil {
			slog.ErrorContext(ctx, "undecodable sync request; dropped", "error", err)
			return nil
		}
		res, err := w.Handle(ctx, req)
		slog.InfoContext(ctx, "sync", "connectionId", req.ConnectionID, "attended", req.Attended,
			"created", res.Created, "updated", res.Updated, "removed", res.Removed, "skipped", res.Skipped, "error", err)
		return err
	}, nil
}
