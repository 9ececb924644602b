// Package webhookdeliver is the event function on tok-webhook-deliveries: each message is one
// attempt of one delivery, POSTed signed to the endpoint and recorded with its outcome and the
// next attempt (or the dead letter).
package webhookdeliver

import (
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.Event("WebhookDeliver", platform.With(webhooks.FromEnv, Handler))
}

// Handler makes the attempt a message asks for. Only a failure to record it is returned
// (Pub/Sub then redelivers); a failed POST is recorded and retried on Tok's own schedule.
func Handler(svc *webhooks.Service) platform.EventHandler {
	decode := func(m events.PubSubMessage) (webhooks.Task, error) { return webhooks.DecodeTask(m.Data) }
	return events.Messages("delivery task", decode, svc.Deliver)
}
