// Package webhookretry is the retry scheduler: Cloud Scheduler publishes a tick to
// tok-webhook-retry-tick every minute, and for most of that minute this function polls the
// retry queue every few seconds, re-publishing each due delivery to tok-webhook-deliveries.
package webhookretry

import (
	"context"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.Event("WebhookRetry", platform.With(webhooks.FromEnvWithoutSecrets, handler))
}

func handler(svc *webhooks.Service) platform.EventHandler {
	return Handler(svc, webhooks.PollWindow, webhooks.PollInterval)
}

// Handler polls for window, every interval. Overlapping ticks are safe: each queue entry is
// leased with a precondition before it is published.
func Handler(svc *webhooks.Service, window, interval time.Duration) platform.EventHandler {
	return func(ctx context.Context, _ event.Event) error {
		n, err := svc.Poll(ctx, window, interval)
		if n > 0 {
			slog.InfoContext(ctx, "due webhook deliveries published", "count", n)
		}
		return err
	}
}
