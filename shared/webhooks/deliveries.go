package webhooks

import (
	"context"
	"errors"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// ListDeliveries returns up to limit deliveries of an endpoint, newest first, after the
// position (nil from the newest). A delivery is either a document of its own or a delivered
// entry of its event's fan-out record (fanoutRecord): both are read in the list's order and
// merged.
func (s *Service) ListDeliveries(ctx context.Context, t tenant.Tenant, webhookID string, limit int, after *lists.CreatedID) ([]Delivery, error) {
	if _, err := s.GetEndpoint(ctx, t, webhookID); err != nil {
		return nil, err
	}
	q := s.deliveries(t, webhookID).OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	own, err := lists.Query[lists.CreatedID](q, func(d Delivery) Delivery { return d })(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	var afterCreated time.Time
	var afterID string
	if after != nil {
		afterCreated, afterID = after.CreatedAt, after.ID
	}
	delivered, err := s.listDelivered(ctx, t, webhookID, limit, afterCreated, afterID)
	if err != nil {
		return nil, err
	}
	return mergeNewestFirst(own, delivered, limit), nil
}

// mergeNewestFirst merges two lists ordered newest first (creation time, then ID, both
// descending) into the first limit of their union. A delivery in both (its own document
// made while its entry was still listed) is taken once, from its own document.
func mergeNewestFirst(own, delivered []Delivery, limit int) []Delivery {
	out := make([]Delivery, 0, min(limit, len(own)+len(delivered)))
	for len(out) < limit && (len(own) > 0 || len(delivered) > 0) {
		switch {
		case len(delivered) == 0 || (len(own) > 0 && !before(delivered[0], own[0])):
			if len(delivered) > 0 && delivered[0].ID == own[0].ID {
				delivered = delivered[1:]
			}
			out, own = append(out, own[0]), own[1:]
		default:
			out, delivered = append(out, delivered[0]), delivered[1:]
		}
	}
	return out
}

// before reports whether a comes before b in a list ordered newest first.
func before(a, b Delivery) bool { return newestFirst(a, b) < 0 }

// newestFirst orders deliveries as the API lists them: creation time, then ID, both descending.
func newestFirst(a, b Delivery) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// GetDelivery returns one delivery of an endpoint, or ErrNotFound.
func (s *Service) GetDelivery(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (Delivery, error) {
	d, _, err := s.findDelivery(ctx, t, webhookID, deliveryID)
	return d, err
}

// findDelivery returns one delivery of an endpoint and, if it is a delivered entry of a
// fan-out record, that record; or ErrNotFound.
func (s *Service) findDelivery(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (Delivery, *firestore.DocumentRef, error) {
	if !ids.Valid(ids.Webhook, webhookID) || !ids.Valid(ids.Delivery, deliveryID) {
		return Delivery{}, nil, ErrNotFound
	}
	d, err := store.Get[Delivery](ctx, s.deliveries(t, webhookID).Doc(deliveryID), "webhook delivery "+deliveryID, ErrNotFound)
	if !errors.Is(err, ErrNotFound) {
		return d, nil, err
	}
	return s.findDelivered(ctx, t, webhookID, deliveryID)
}

// Redeliver enqueues one more (manual) attempt of a delivery, whatever its status. It does
// not change the automatic schedule of a pending delivery; a success ends it. A delivered
// entry of a fan-out record first moves to a document of its own, which the attempt updates.
func (s *Service) Redeliver(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (Delivery, error) {
	ep, err := s.GetEndpoint(ctx, t, webhookID)
	if err != nil {
		return Delivery{}, err
	}
	d, record, err := s.findDelivery(ctx, t, webhookID, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	if !ep.Enabled {
		return Delivery{}, &ConflictError{"The endpoint is disabled; enable it (PATCH enabled=true) before redelivering."}
	}
	if record != nil {
		if err := s.materialise(ctx, t, webhookID, record, deliveryID); err != nil {
			return Delivery{}, err
		}
	}
	task := Task{Env: t.Env, OrgID: t.OrgID, WebhookID: webhookID, DeliveryID: deliveryID, Seq: len(d.Attempts), Manual: true}
	if err := s.queue.Enqueue(ctx, task); err != nil {
		return Delivery{}, err
	}
	return d, nil
}
