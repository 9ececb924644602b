// Package eventlog is the event function that records every domain event published to the
// events topic in its organisation's event log, kept for 30 days (a Firestore TTL policy on
// expireAt deletes older entries).
package eventlog

import (
	"context"
	"fmt"
	"log/slog"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

func init() {
	platform.Event("EventLog", platform.With(platform.Firestore, Handler))
}

// Handler stores each event once; a redelivered message finds its document and succeeds.
func Handler(client *firestore.Client) platform.EventHandler {
	return events.Domain(func(ctx context.Context, t tenant.Tenant, ev events.Event) error {
		doc := store.For(client, t).Collection(events.LogCollection).Doc(ev.ID)
		_, err := doc.Create(ctx, ev.Logged())
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record event %s: %w", ev.ID, err)
		}
		slog.InfoContext(ctx, "event recorded", "type", ev.Type, "org", t.OrgID, "env", t.Env)
		return nil
	})
}
