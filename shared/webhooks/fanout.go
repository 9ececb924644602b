package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

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
	tasks, err := s.createDeliveries(ctx, t, targets, ev, string(payload), now)
	if err != nil {
		return 0, err
	}
	errs := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errs <- s.queue.Enqueue(ctx, task) }()
	}
	var all []error
	for range tasks {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		// The deliveries exist with leased queue entries: the retry scheduler sends them.
		return 0, err
	}
	return len(targets), nil
}

// createDeliveries creates, in one transaction, the deliveries of ev to targets that do not
// exist yet (the event may be redelivered) with their queue entries, leased so that a lost
// first Task is sent again by the retry scheduler, and returns the Tasks to enqueue.
func (s *Service) createDeliveries(ctx context.Context, t tenant.Tenant, targets []Endpoint, ev events.Event, payload string, now time.Time) ([]Task, error) {
	refs := make([]*firestore.DocumentRef, len(targets))
	for i, ep := range targets {
		refs[i] = s.deliveries(t, ep.ID).Doc(DeliveryID(ev.ID, ep.ID))
	}
	var tasks []Task
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		tasks = tasks[:0]
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		for i, ep := range targets {
			if snaps[i].Exists() {
				continue
			}
			d := Delivery{
				ID: refs[i].ID, WebhookID: ep.ID, EventID: ev.ID, EventType: ev.Type,
				Payload: payload, Status: StatusPending, CreatedAt: now, Attempts: []Attempt{},
				NextAttemptAt: &now, ExpireAt: now.Add(DeliveryRetention),
			}
			task := Task{Env: t.Env, OrgID: t.OrgID, WebhookID: ep.ID, DeliveryID: d.ID}
			if err := tx.Create(refs[i], d); err != nil {
				return err
			}
			if err := tx.Set(s.queueRef(d.ID), queueEntry{Task: task, DueAt: now.Add(Lease)}); err != nil {
				return err
			}
			tasks = append(tasks, task)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create deliveries of %s: %w", ev.ID, err)
	}
	return tasks, nil
}
