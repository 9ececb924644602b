package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/tenant"
)

// PingData is the payload of a webhook.ping event: it goes to WebhookID only.
type PingData struct {
	WebhookID string `json:"webhookId"`
	Message   string `json:"message"`
}

// DeliveryID is the ID of event eventID's delivery to webhookID: derived (a hash, not
// time-ordered) so a redelivered event message finds the delivery it already made.
func DeliveryID(eventID, webhookID string) string {
	return ids.Derive(ids.Delivery, eventID, webhookID)
}

// Fanout makes one delivery per enabled endpoint of t subscribed to ev's type (a ping goes
// only to the endpoint it names) and enqueues its first attempt. It is idempotent: a
// delivery that exists already is left alone.
func (s *Service) Fanout(ctx context.Context, t tenant.Tenant, ev events.Event) (int, error) {
	docs, err := s.endpoints(t).Where("enabled", "==", true).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("list endpoints: %w", err)
	}
	var targets []Endpoint
	var ping PingData
	if ev.Type == EventPing {
		if err := json.Unmarshal(ev.Data, &ping); err != nil || ping.WebhookID == "" {
			return 0, nil // a ping without a target goes nowhere
		}
	}
	for _, d := range docs {
		var ep Endpoint
		if err := d.DataTo(&ep); err != nil {
			return 0, err
		}
		if (ev.Type == EventPing && ep.ID == ping.WebhookID) || (ev.Type != EventPing && ep.Subscribed(ev.Type)) {
			targets = append(targets, ep)
		}
	}
	if len(targets) == 0 {
		return 0, nil
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	errs := make(chan error, len(targets))
	for _, ep := range targets {
		go func() {
			errs <- s.startDelivery(ctx, t, ep, ev, string(payload), now)
		}()
	}
	var all []error
	for range targets {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return 0, err
	}
	return len(targets), nil
}

// startDelivery creates the delivery and its queue entry (leased, so a lost first Task is
// retried by the scheduler) and enqueues the first attempt.
func (s *Service) startDelivery(ctx context.Context, t tenant.Tenant, ep Endpoint, ev events.Event, payload string, now time.Time) error {
	d := Delivery{
		ID: DeliveryID(ev.ID, ep.ID), WebhookID: ep.ID, EventID: ev.ID, EventType: ev.Type,
		Payload: payload, Status: StatusPending, CreatedAt: now, Attempts: []Attempt{},
		NextAttemptAt: &now, ExpireAt: now.Add(DeliveryRetention),
	}
	task := Task{Env: t.Env, OrgID: t.OrgID, WebhookID: ep.ID, DeliveryID: d.ID}
	ref := s.deliveries(t, ep.ID).Doc(d.ID)
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(ref, d); err != nil {
			return err
		}
		return tx.Set(s.queueRef(d.ID), queueEntry{Task: task, DueAt: now.Add(Lease)})
	})
	if status.Code(err) == codes.AlreadyExists {
		// The event was fanned out before (Pub/Sub redelivered it): its first Task went out
		// then, and if that was lost the leased queue entry brings it back.
		return nil
	}
	if err != nil {
		return fmt.Errorf("create delivery %s: %w", d.ID, err)
	}
	return s.queue.Enqueue(ctx, task)
}
