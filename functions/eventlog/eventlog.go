// Package eventlog is the event function that records every domain event published to the
// events topic in its organisation's event log, kept for 30 days (a Firestore TTL policy on
// expireAt deletes older entries).
package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
)

// Retention is how long events stay readable.
const Retention = 30 * 24 * time.Hour

func init() {
	platform.Event("EventLog", build)
}

func build(ctx context.Context, env *platform.Env) (platform.EventHandler, error) {
	client, err := env.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	return Handler(client), nil
}

// Handler stores each event once; a redelivered message rewrites the same document.
func Handler(client *firestore.Client) platform.EventHandler {
	return func(ctx context.Context, e event.Event) error {
		msg, err := events.FromCloudEvent(e)
		if err != nil {
			// A malformed message will never succeed: log it and ack it.
			slog.ErrorContext(ctx, "dropping malformed event message", "error", err)
			return nil
		}
		t, ev, err := events.Decode(msg)
		if err != nil {
			slog.ErrorContext(ctx, "dropping invalid event", "error", err)
			return nil
		}
		doc := store.For(client, t).Collection("events").Doc(ev.ID)
		_, err = doc.Create(ctx, Record{ID: ev.ID, Type: ev.Type, CreatedAt: ev.CreatedAt, Data: string(ev.Data), ExpireAt: ev.CreatedAt.Add(Retention)})
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record event %s: %w", ev.ID, err)
		}
		slog.InfoContext(ctx, "event recorded", "type", ev.Type, "org", t.OrgID, "env", t.Env)
		return nil
	}
}

// Record is an event log entry as stored.
type Record struct {
	ID        string    `firestore:"id"`
	Type      string    `firestore:"type"`
	CreatedAt time.Time `firestore:"createdAt"`
	Data      string    `firestore:"data"`
	ExpireAt  time.Time `firestore:"expireAt"`
}
