// Package webhookfanout is the event function on tok-events that turns each domain event into
// one delivery per enabled endpoint of its organisation subscribed to its type, makes each
// delivery's first attempt at once (signed, so it holds the tokens key), and records them all
// in one commit (the successes in one fan-out record per event); attempts that fail are
// retried through the queue on tok-webhook-deliveries.
package webhookfanout

import (
	"context"
	"fmt"
	"log/slog"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.Event("WebhookFanout", platform.With(webhooks.FromEnv, Handler))
}

// Handler fans out one event message. A failure is returned so Pub/Sub redelivers the
// message; fan-out is idempotent (a redelivered event finds its fan-out record).
func Handler(svc *webhooks.Service) platform.EventHandler {
	return events.Domain(func(ctx context.Context, t tenant.Tenant, ev events.Event) error {
		n, err := svc.Fanout(ctx, t, ev)
		if err != nil {
			return fmt.Errorf("fan out %s: %w", ev.ID, err)
		}
		if n > 0 {
			slog.InfoContext(ctx, "event fanned out", "event", ev.ID, "type", ev.Type, "deliveries", n, "org", t.OrgID, "env", t.Env)
		}
		return nil
	})
}
