// Package consentexpiry is the ConsentExpiry event function, ticked by Cloud Scheduler
// through the tok-consent-expiry-tick topic. Each tick:
//   - a consent still AWAITING_AUTHORIZATION after its authorisation window becomes FAILED
//     (its state is deleted; consent.rejected with reason authorization_timeout);
//   - an ACTIVE connection within 7 days of validUntil gets one consent.expiring per consent;
//   - an ACTIVE connection past validUntil becomes EXPIRED with its consent (tokens
//     destroyed; consent.expired).
//
// The queries are collection-group queries over every tenant (indexes in
// infra/firestore-indexes.yaml); each update is a transaction that re-checks the state, so
// overlapping ticks are harmless.
package consentexpiry

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

func init() {
	platform.Event("ConsentExpiry", platform.With(connections.FromEnv, handler))
}

// ExpiringNotice is how long before validUntil consent.expiring is published.
const ExpiringNotice = 7 * 24 * time.Hour

// batch bounds the documents one query of a tick handles; the next tick takes the rest.
const batch = 500

func handler(v *connections.Service) platform.EventHandler {
	j := &Job{Conns: v, States: authstate.Store{Client: v.Repo.Client}}
	return func(ctx context.Context, _ event.Event) error {
		res, err := j.Run(ctx)
		slog.InfoContext(ctx, "consent expiry tick", "failed", res.Failed, "expiring", res.Expiring, "expired", res.Expired, "error", err)
		return err
	}
}

// Job runs the expiry checks.
type Job struct {
	Conns  *connections.Service
	States authstate.Store
	Now    func() time.Time
}

// Result counts what a run changed.
type Result struct{ Failed, Expiring, Expired int }

func (j *Job) now() time.Time { return clock.Stored(j.Now) }

// Run performs one tick.
func (j *Job) Run(ctx context.Context) (Result, error) {
	var res Result
	now := j.now()
	fs := j.Conns.Repo.Client

	// 1. Authorisation windows that closed.
	docs, err := passed(ctx, fs.CollectionGroup(connections.CollConsents), connections.ConsentAwaiting, "authorizeBy", now)
	if err != nil {
		return res, fmt.Errorf("query unauthorised consents: %w", err)
	}
	for _, d := range docs {
		c, changed, err := j.failConsent(ctx, d.Ref, now)
		if err != nil {
			return res, err
		}
		if changed {
			res.Failed++
			_ = j.States.Delete(ctx, c.StateHash)
			j.publish(ctx, store.For(fs, d.tenant), connections.EventConsentRejected, c, "authorization_timeout", now)
		}
	}

	// 2. Connections within the notice period or past validUntil.
	docs, err = passed(ctx, fs.CollectionGroup(connections.CollConnections), connections.StatusActive, "validUntil", now.Add(ExpiringNotice))
	if err != nil {
		return res, fmt.Errorf("query expiring connections: %w", err)
	}
	for _, d := range docs {
		var c connections.Connection
		if err := d.DataTo(&c); err != nil {
			return res, err
		}
		scope := store.For(fs, d.tenant)
		if !now.Before(c.ValidUntil) {
			consent, changed, err := j.Conns.Repo.End(ctx, scope, c.ID, connections.StatusExpired, "", now)
			if err != nil {
				return res, err
			}
			if changed {
				res.Expired++
				j.publish(ctx, scope, connections.EventConsentExpired, consent, "", now)
			}
			continue
		}
		if c.ExpiringNotified == c.ConsentID {
			continue
		}
		consent, err := j.Conns.Repo.GetConsent(ctx, scope, c.ConsentID)
		if err != nil {
			return res, err
		}
		if _, err := d.Ref.Update(ctx, []firestore.Update{{Path: "expiringNotified", Value: c.ConsentID}},
			firestore.LastUpdateTime(d.UpdateTime)); err != nil {
			continue // changed meanwhile: the next tick looks again
		}
		res.Expiring++
		j.publish(ctx, scope, connections.EventConsentExpiring, consent, "", now)
	}
	return res, nil
}

// tenantDoc is a document found across tenants, with its tenant.
type tenantDoc struct {
	*firestore.DocumentSnapshot
	tenant tenant.Tenant
}

// passed returns, across tenants, up to batch documents of a collection group in status
// whose field is at or before at, oldest first.
func passed(ctx context.Context, group *firestore.CollectionGroupRef, status, field string, at time.Time) ([]tenantDoc, error) {
	snaps, err := group.Where("status", "==", status).Where(field, "<=", at).
		OrderBy(field, firestore.Asc).Limit(batch).Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	var out []tenantDoc
	for _, s := range snaps {
		if t, ok := connections.TenantOf(s.Ref); ok {
			out = append(out, tenantDoc{s, t})
		}
	}
	return out, nil
}

func (j *Job) failConsent(ctx context.Context, ref *firestore.DocumentRef, now time.Time) (connections.Consent, bool, error) {
	var c connections.Consent
	changed := false
	err := j.Conns.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		changed = false
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		if err := snap.DataTo(&c); err != nil {
			return err
		}
		if c.Status != connections.ConsentAwaiting || now.Before(c.AuthorizeBy) {
			return nil
		}
		changed = true
		c.Status, c.Error, c.UpdatedAt = connections.ConsentFailed, "authorization_timeout", now
		return tx.Update(ref, []firestore.Update{{Path: "status", Value: c.Status}, {Path: "error", Value: c.Error}, {Path: "updatedAt", Value: now}})
	})
	if err != nil {
		return c, false, fmt.Errorf("fail consent %s: %w", ref.ID, err)
	}
	return c, changed, nil
}

func (j *Job) publish(ctx context.Context, scope store.Scope, typ string, c connections.Consent, reason string, now time.Time) {
	if err := j.Conns.PublishConsentEvent(ctx, scope.Tenant(), typ, c, reason, now); err != nil {
		slog.ErrorContext(ctx, "publish consent event", "type", typ, "consentId", c.ID, "error", err)
	}
}
