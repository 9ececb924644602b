package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// ErrNotFound is a payment the tenant does not have.
var ErrNotFound = errors.New("payments: not found")

// Publisher publishes domain events (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, t tenant.Tenant, e events.Event) error
}

// Store reads and writes payments of tenants and publishes their outbox.
type Store struct {
	FS     *firestore.Client
	Events Publisher
	Now    func() time.Time
}

func (s *Store) now() time.Time { return clock.Stored(s.Now) }

// Scope is the store's scope of tenant t.
func (s *Store) Scope(t tenant.Tenant) store.Scope { return store.For(s.FS, t) }

// ref is the document of a payment or a refund (by its ID's prefix).
func ref(scope store.Scope, id string) *firestore.DocumentRef {
	if strings.HasPrefix(id, ids.Refund+"_") {
		return scope.Collection(RefundsCollection).Doc(id)
	}
	return scope.Collection(Collection).Doc(id)
}

// Get returns a payment or refund of the scope's tenant.
func (s *Store) Get(ctx context.Context, scope store.Scope, id string) (Payment, error) {
	if !ids.Valid(ids.Payment, id) && !ids.Valid(ids.Refund, id) {
		return Payment{}, fmt.Errorf("payment %q: %w", id, ErrNotFound)
	}
	return store.Get[Payment](ctx, ref(scope, id), "payment "+id, ErrNotFound)
}

// errUnchanged aborts an Update whose fn changed nothing.
var errUnchanged = errors.New("unchanged")

// Update changes a payment in one transaction: fn gets the current record and returns
// whether it changed it (nothing is written otherwise). A VRP payment that fn ends without
// paying gives its reservation back in the same transaction. The outbox is published after the
// commit; a publishing failure is logged and leaves the events for the sweep (Flush).
func (s *Store) Update(ctx context.Context, scope store.Scope, id string, fn func(p *Payment, now time.Time) (bool, error)) (Payment, bool, error) {
	return s.UpdateTx(ctx, scope, id, func(_ *firestore.Transaction, p *Payment, now time.Time) (bool, error) { return fn(p, now) })
}

// UpdateTx is Update with fn inside the transaction, for changes to other documents with
// the payment's (fn does its reads before its writes). A refund's change of status moves
// its payment's refund totals (applyRefund) in the same transaction.
func (s *Store) UpdateTx(ctx context.Context, scope store.Scope, id string, fn func(tx *firestore.Transaction, p *Payment, now time.Time) (bool, error)) (Payment, bool, error) {
	var p Payment
	err := s.FS.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		p = Payment{}
		if err := getTx(tx, scope, id, &p); err != nil {
			return err
		}
		var parent *Payment
		if p.IsRefund() {
			parent = &Payment{}
			if err := getTx(tx, scope, p.RefundOf, parent); err != nil {
				return err
			}
		}
		before := p.Status
		now := s.now()
		changed, err := fn(tx, &p, now)
		if err != nil {
			return err
		}
		if !changed {
			return errUnchanged
		}
		if parent != nil && parent.applyRefund(p, before, now) {
			if err := tx.Set(ref(scope, parent.ID), *parent); err != nil {
				return err
			}
		}
		p.reconcileFlags()
		if err := releaseIn(tx, scope, &p); err != nil {
			return err
		}
		return tx.Set(ref(scope, id), p)
	})
	changed := !errors.Is(err, errUnchanged)
	if err != nil && changed {
		return Payment{}, false, fmt.Errorf("update payment %s: %w", id, err)
	}
	s.flushLogged(ctx, scope, p)
	return p, changed, nil
}

func getTx(tx *firestore.Transaction, scope store.Scope, id string, p *Payment) error {
	snap, err := tx.Get(ref(scope, id))
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("payment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return snap.DataTo(p)
}

func (s *Store) flushLogged(ctx context.Context, scope store.Scope, p Payment) {
	if err := s.Flush(ctx, scope, p); err != nil {
		slog.WarnContext(ctx, "payment events left in the outbox for the sweep", "paymentId", p.ID, "error", err)
	}
}

// Advance applies a status change (Payment.Advance) with its event in one transaction,
// then publishes the event.
func (s *Store) Advance(ctx context.Context, scope store.Scope, id string, c Change, also func(p *Payment)) (Payment, error) {
	p, _, err := s.Update(ctx, scope, id, func(p *Payment, now time.Time) (bool, error) {
		changed, err := p.advanceWithEvents(c, now)
		if changed && also != nil {
			also(p)
		}
		return changed, err
	})
	return p, err
}

// advanceWithEvents applies c (Advance) and adds the events it calls for to the outbox.
func (p *Payment) advanceWithEvents(c Change, now time.Time) (bool, error) {
	types, changed := p.Advance(c, now)
	for _, typ := range types {
		if err := p.Enqueue(typ, now); err != nil {
			return false, err
		}
	}
	return changed, nil
}

// EventID is the ID of a payment's event of one type: derived, so a worker that publishes
// it again after a crash sends the same event, which the event log and the webhook fan-out
// deduplicate.
func EventID(t tenant.Tenant, paymentID, typ string) string {
	return ids.Derive(ids.Event, t.Env, t.OrgID, paymentID, typ)
}

// Enqueue adds the event typ (a payment.* type; refund.* for a refund), carrying the
// payment as it is now, to the outbox.
func (p *Payment) Enqueue(typ string, now time.Time) error {
	var v any = EventDataOf(*p)
	if p.IsRefund() {
		typ = "refund." + strings.TrimPrefix(typ, "payment.")
		v = RefundEventDataOf(*p)
	}
	o, err := NewOutboxEvent(p.Tenant(), p.ID, typ, now, v)
	if err != nil {
		return err
	}
	p.Outbox = append(p.Outbox, o)
	p.OutboxPending = true
	return nil
}

// Flush publishes a payment's outbox in order and removes what was published. A failure
// leaves the rest for the next Flush (any worker's next step on the payment).
func (s *Store) Flush(ctx context.Context, scope store.Scope, p Payment) error {
	if err := FlushOutbox(ctx, s.FS, s.Events, scope.Tenant(), ref(scope, p.ID), p.Outbox); err != nil {
		return fmt.Errorf("payment %s: %w", p.ID, err)
	}
	return nil
}

// FlushOutbox publishes outbox, the events a document of tenant t wrote with the changes
// that caused them (its fields outbox and outboxPending), in order, and removes from the
// document what was published. A failure leaves the rest for the next flush; an event
// published but not removed (a crash in between) goes out again with the same ID, which
// the event log and the webhook fan-out take once.
func FlushOutbox(ctx context.Context, fs *firestore.Client, pub Publisher, t tenant.Tenant, doc *firestore.DocumentRef, outbox []OutboxEvent) error {
	if len(outbox) == 0 || pub == nil {
		return nil
	}
	sent := map[string]bool{}
	var pubErr error
	for _, o := range outbox {
		ev := events.Event{ID: o.ID, Type: o.Type, CreatedAt: o.CreatedAt, Data: o.Data}
		if pubErr = pub.Publish(ctx, t, ev); pubErr != nil {
			break
		}
		sent[o.ID] = true
	}
	if len(sent) > 0 {
		err := fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			snap, err := tx.Get(doc)
			if err != nil {
				return err
			}
			var cur struct {
				Outbox []OutboxEvent `firestore:"outbox"`
			}
			if err := snap.DataTo(&cur); err != nil {
				return err
			}
			left := []OutboxEvent{}
			for _, o := range cur.Outbox {
				if !sent[o.ID] {
					left = append(left, o)
				}
			}
			return tx.Update(doc, []firestore.Update{{Path: "outbox", Value: left}, {Path: "outboxPending", Value: len(left) > 0}})
		})
		if err != nil {
			return fmt.Errorf("clear outbox: %w", err)
		}
	}
	if pubErr != nil {
		return fmt.Errorf("publish events: %w", pubErr)
	}
	return nil
}

// NewOutboxEvent is the outbox entry of event typ about subject (a payment, a refund or a
// VRP consent) of tenant t, carrying data; its ID is derived (EventID).
func NewOutboxEvent(t tenant.Tenant, subjectID, typ string, now time.Time, data any) (OutboxEvent, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return OutboxEvent{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return OutboxEvent{ID: EventID(t, subjectID, typ), Type: typ, CreatedAt: now, Data: raw}, nil
}

// ListQuery selects payments (or, with Refunds, refunds) of a tenant, newest first.
type ListQuery struct {
	Refunds   bool
	Status    string
	AccountID string
	// RefundOf selects the refunds of one payment.
	RefundOf string
	// VRPConsentID lists the payments under one VRP consent; VRPOnly every VRP payment.
	VRPConsentID string
	VRPOnly      bool
	CreatedFrom  *time.Time
	CreatedTo    *time.Time
	// After resumes after the payment at (CreatedAt, ID).
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// List returns up to q.Limit payments matching q, newest first (ID as tie-break).
func (s *Store) List(ctx context.Context, scope store.Scope, q ListQuery) ([]Payment, error) {
	col := Collection
	if q.Refunds {
		col = RefundsCollection
	}
	fq := scope.Collection(col).Query
	if q.Status != "" {
		fq = fq.Where("status", "==", q.Status)
	}
	if q.RefundOf != "" {
		fq = fq.Where("refundOf", "==", q.RefundOf)
	}
	if q.AccountID != "" {
		fq = fq.Where("accountId", "==", q.AccountID)
	}
	if q.VRPConsentID != "" {
		fq = fq.Where("vrpConsentId", "==", q.VRPConsentID)
	} else if q.VRPOnly {
		fq = fq.Where("vrp", "==", true)
	}
	if q.CreatedFrom != nil {
		fq = fq.Where("createdAt", ">=", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		fq = fq.Where("createdAt", "<", *q.CreatedTo)
	}
	fq = fq.OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	if q.AfterID != "" {
		fq = fq.StartAfter(q.AfterCreated, q.AfterID)
	}
	out, err := store.All[Payment](ctx, fq.Limit(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return out, nil
}
