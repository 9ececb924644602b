// Package webhookdeliver is the event function on tok-webhook-deliveries: each message is one
// attempt of one delivery, POSTed signed to the endpoint and recorded with its outcome and the
// next attempt (or the dead letter).
package webhookdeliver

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.Event("WebhookDeliver", platform.Using(webhooks.FromEnv, build))
}

func build(_ context.Context, _ *platform.Env, svc *webhooks.Service, _ struct{}) (platform.EventHandler, error) {
	return Handler(svc), nil
}

// Handler makes the attempt a message asks for. Only a failure to record it is returned
// (Pub/Sub then redelivers); a failed POST is recorded and retried on Tok's own schedule.
func Handler(svc *webhooks.Service) platform.EventHandler {
	return func(ctx context.Context, e event.Event) error {
		msg, err := events.FromCloudEvent(e)
		if err != nil {
			slog.ErrorContext(ctx, "dropping malformed delivery message", "error", err)
			return nil
		}
		task, err := webhooks.DecodeTask(msg.Data)
		if err != nil {
			slog.ErrorContext(ctx, "dropping invalid delivery task", "error", err)
			return nil
		}
		return svc.Deliver(ctx, task)
	}
}
