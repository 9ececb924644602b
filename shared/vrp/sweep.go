package vrp

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/transactions"
)

func sweepIndex(eq, order string) *transactions.Index {
	return &transactions.Index{CollectionGroup: Collection, QueryScope: "COLLECTION_GROUP",
		Fields: []transactions.IndexField{{FieldPath: eq, Order: "ASCENDING"}, {FieldPath: order, Order: "ASCENDING"}}}
}

// Queries lists every Firestore query of this package with the composite index it needs
// (checked against infra/firestore-indexes.yaml).
var Queries = []transactions.Query{
	// GET /v1/vrp-consents, newest first, optional status.
	{Name: "vrpConsents.list"},
	{Name: "vrpConsents.list.status", Index: &transactions.Index{CollectionGroup: Collection, QueryScope: "COLLECTION",
		Fields: []transactions.IndexField{{FieldPath: "status", Order: "ASCENDING"}, {FieldPath: "createdAt", Order: "DESCENDING"}, {FieldPath: "__name__", Order: "DESCENDING"}}}},
	// The sweep, across every tenant.
	{Name: "vrpConsents.sweep.expired", Index: sweepIndex("status", "validTo")},
	{Name: "vrpConsents.sweep.unauthorised", Index: sweepIndex("status", "authorizeBy")},
	{Name: "vrpConsents.sweep.outbox", Index: sweepIndex("outboxPending", "updatedAt")},
}

// SweepResult counts what a sweep did.
type SweepResult struct{ Expired, Failed, Flushed int }

const sweepBatch = 200

// Sweep records what time did to consents, across every tenant: authorised consents past
// their end are EXPIRED (vrp_consent.expired), consents never authorised within their
// window FAILED with AUTHORIZATION_EXPIRED, and events left in a consent's outbox (its
// publishing failed after the commit) are published. The payment status function runs it every minute.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := s.now()
	group := s.fs().CollectionGroup(Collection)
	for _, q := range []struct {
		status, field, to string
		count             *int
	}{
		{StatusAuthorized, "validTo", StatusExpired, &res.Expired},
		{StatusAwaiting, "authorizeBy", StatusFailed, &res.Failed},
	} {
		docs, err := group.Where("status", "==", q.status).Where(q.field, "<=", now).OrderBy(q.field, firestore.Asc).
			Limit(sweepBatch).Documents(ctx).GetAll()
		if err != nil {
			return res, fmt.Errorf("query %s vrp consents: %w", q.status, err)
		}
		for _, d := range docs {
			t, ok := connections.TenantOf(d.Ref)
			if !ok {
				continue
			}
			scope := store.For(s.fs(), t)
			if q.to == StatusExpired {
				_, ended, err := s.end(ctx, scope, d.Ref.ID, StatusExpired, "", StatusAuthorized)
				if err != nil {
					return res, err
				}
				if ended {
					*q.count++
				}
				continue
			}
			ended := false
			c, err := s.update(ctx, scope, d.Ref.ID, func(c *Consent, now time.Time) (bool, error) {
				ended = false
				if st, _ := c.EffectiveStatus(now); c.Status != q.status || st != q.to {
					return false, nil
				}
				ended = true
				c.Status, c.StatusReason, c.RedirectURL, c.EndedAt, c.UpdatedAt = q.to, payments.ReasonAuthorizationExpired, "", &now, now
				return true, nil
			})
			if err != nil {
				return res, err
			}
			if !ended {
				continue
			}
			if err := s.Payments.States.Delete(ctx, c.StateHash); err != nil {
				return res, fmt.Errorf("delete state of %s: %w", c.ID, err)
			}
			*q.count++
		}
	}
	flushed, err := payments.FlushStuck(ctx, group.Query, "vrp consent outboxes", func(t tenant.Tenant, d *firestore.DocumentSnapshot, c Consent) error {
		if err := payments.FlushOutbox(ctx, s.fs(), s.Payments.Store.Events, t, d.Ref, c.Outbox); err != nil {
			return fmt.Errorf("vrp consent %s: %w", c.ID, err)
		}
		return nil
	})
	res.Flushed += flushed
	return res, err
}
