// Package paymentstatus is the PaymentStatus event function on the tok-payment-status
// topic. A message naming a payment ({env, orgId, paymentId}, published by the callback
// after authorisation and by the sweep) polls that payment at the bank until its status is
// final (shared/payments.Service.Poll: under a lease, forwards only); the Cloud Scheduler
// tick ("{}", every minute) runs the sweeps: expired authorisations, payments due a poll,
// events left in an outbox, and VRP consents that expired or were never authorised. VRP
// payments are sent and followed by shared/vrp through the same poller.
package paymentstatus

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/vrp"
)

func init() {
	platform.Event("PaymentStatus", platform.Using(connections.FromEnv, build))
}

func build(ctx context.Context, env *platform.Env, c *connections.Service, urls platform.PublicURLs) (platform.EventHandler, error) {
	ps, err := env.Clients.PubSub(ctx)
	if err != nil {
		return nil, err
	}
	svc := payments.ForConnections(c, nil, payments.NewPollPublisher(ps, ""), urls.Live)
	return Handler(svc, vrp.New(svc, nil)), nil
}

// Handler handles one message of the topic. A malformed message is logged and dropped; an
// error of a poll or sweep is returned, so Pub/Sub redelivers.
func Handler(svc *payments.Service, consents *vrp.Service) platform.EventHandler {
	return func(ctx context.Context, e event.Event) error {
		msg, err := events.FromCloudEvent(e)
		if err != nil {
			slog.ErrorContext(ctx, "dropping malformed payment status message", "error", err)
			return nil
		}
		req, named, err := payments.DecodePollRequest(msg)
		if err != nil {
			slog.ErrorContext(ctx, "dropping invalid payment status message", "error", err)
			return nil
		}
		if !named {
			res, err := svc.Sweep(ctx)
			slog.InfoContext(ctx, "payment sweep", "expired", res.Expired, "polled", res.Polled, "flushed", res.Flushed, "error", err)
			if err != nil {
				return err
			}
			vres, err := consents.Sweep(ctx)
			slog.InfoContext(ctx, "vrp consent sweep", "expired", vres.Expired, "failed", vres.Failed, "flushed", vres.Flushed, "error", err)
			return err
		}
		return svc.Poll(ctx, req.Tenant(), req.PaymentID)
	}
}
