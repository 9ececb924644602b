package webhooks

import (
	"context"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// ListDeliveries returns up to limit deliveries of an endpoint, newest first, after the
// position (nil from the newest).
func (s *Service) ListDeliveries(ctx context.Context, t tenant.Tenant, webhookID string, limit int, after *lists.CreatedID) ([]Delivery, error) {
	if _, err := s.GetEndpoint(ctx, t, webhookID); err != nil {
		return nil, err
	}
	q := s.deliveries(t, webhookID).OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	return lists.Query[lists.CreatedID](q, func(d Delivery) Delivery { return d })(ctx, after, limit)
}

// GetDelivery returns one delivery of an endpoint, or ErrNotFound.
func (s *Service) GetDelivery(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (Delivery, error) {
	if !ids.Valid(ids.Webhook, webhookID) || !ids.Valid(ids.Delivery, deliveryID) {
		return Delivery{}, ErrNotFound
	}
	return store.Get[Delivery](ctx, s.deliveries(t, webhookID).Doc(deliveryID), "webhook delivery "+deliveryID, ErrNotFound)
}

// Redeliver enqueues one more (manual) attempt of a delivery, whatever its status. It does
// not change the automatic schedule of a pending delivery; a success ends it.
func (s *Service) Redeliver(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (Delivery, error) {
	ep, err := s.GetEndpoint(ctx, t, webhookID)
	if err != nil {
		return Delivery{}, err
	}
	d, err := s.GetDelivery(ctx, t, webhookID, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	if !ep.Enabled {
		return Delivery{}, &ConflictError{"The endpoint is disabled; enable it (PATCH enabled=true) before redelivering."}
	}
	task := Task{Env: t.Env, OrgID: t.OrgID, WebhookID: webhookID, DeliveryID: deliveryID, Seq: len(d.Attempts), Manual: true}
	if err := s.queue.Enqueue(ctx, task); err != nil {
		return Delivery{}, err
	}
	return d, nil
}
