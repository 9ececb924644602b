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

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/vrp"
)

func init() {
	platform.Event("PaymentStatus", platform.Using(pubsubclient.And(connections.FromEnv), build))
}

func build(_ context.Context, _ *platform.Env, p pubsubclient.Publishing[*connections.Service], urls platform.PublicURLs) (platform.EventHandler, error) {
	svc := payments.ForConnections(p.Dep, nil, payments.NewPollPublisher(p.PubSub, ""), urls.Live)
	return Handler(svc, vrp.New(svc, nil)), nil
}

// Handler handles one message of the topic. A malformed message is logged and dropped; an
// error of a poll or sweep is returned, so Pub/Sub redelivers.
func Handler(svc *payments.Service, consents *vrp.Service) platform.EventHandler {
	return events.Messages("payment status request", decode, func(ctx context.Context, req *payments.PollRequest) error {
		if req == nil {
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
	})
}

// decode reads the payment a message names, or nil for the scheduler's "{}", which asks for
// a sweep.
func decode(m events.PubSubMessage) (*payments.PollRequest, error) {
	req, named, err := payments.DecodePollRequest(m)
	if err != nil || !named {
		return nil, err
	}
	return &req, nil
}
