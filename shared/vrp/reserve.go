package vrp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
)

// Reservations on one consent are checked and taken in group commits: requests that arrive
// while a transaction on the consent runs queue in the process, and the next transaction
// takes them all, in arrival order. One transaction reads the consent once, checks each
// request against the counters as the earlier ones of the batch left them, creates the
// accepted payments and writes the counters once. Firestore sustains about one write a
// second on a document, and contending transactions abort each other, so a burst on one
// consent costs a few transactions instead of one each; across instances the transaction is
// still what keeps the limits.

// maxBatch bounds one transaction's payments (Firestore allows 500 writes).
const maxBatch = 200

// batchTimeout bounds one group commit. It runs on its own deadline: a request that gave up
// waiting must not leave a payment made behind its back, so every request waits for its
// batch's outcome.
const batchTimeout = 8 * time.Second

// request is one payment waiting for its reservation, under its derived ID.
type request struct {
	id              string
	amount          decimal.Decimal
	remittance, e2e string
	done            chan reserved
}

type reserved struct {
	p payments.Payment
	// fresh is false for a payment an earlier attempt of the request made.
	fresh bool
	err   error
}

// reservations are the queues of waiting requests, by consent document path.
type reservations struct {
	mu      sync.Mutex
	waiting map[string][]*request
	running map[string]bool
}

// reserve queues r on the consent and returns its outcome: the payment created PENDING
// with its reservation (or found, made by an earlier attempt), or why it was refused.
func (s *Service) reserve(scope store.Scope, consentID string, r request) (payments.Payment, bool, error) {
	r.done = make(chan reserved, 1)
	key := consentRef(scope, consentID).Path
	q := &s.queues
	q.mu.Lock()
	if q.waiting == nil {
		q.waiting, q.running = map[string][]*request{}, map[string]bool{}
	}
	q.waiting[key] = append(q.waiting[key], &r)
	lead := !q.running[key]
	q.running[key] = true
	q.mu.Unlock()
	if lead {
		go s.drain(scope, consentID, key)
	}
	res := <-r.done
	return res.p, res.fresh, res.err
}

// drain commits the queued requests of one consent, batch after batch, until none wait.
func (s *Service) drain(scope store.Scope, consentID, key string) {
	q := &s.queues
	for {
		q.mu.Lock()
		batch := q.waiting[key]
		if len(batch) > maxBatch {
			batch, q.waiting[key] = batch[:maxBatch], batch[maxBatch:]
		} else {
			delete(q.waiting, key)
		}
		if len(batch) == 0 {
			delete(q.running, key)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		results := s.commit(ctx, scope, consentID, batch)
		cancel()
		for i, r := range batch {
			r.done <- results[i]
		}
	}
}

// commit checks and reserves a batch in one transaction.
func (s *Service) commit(ctx context.Context, scope store.Scope, consentID string, batch []*request) []reserved {
	cref := consentRef(scope, consentID)
	var results []reserved
	err := s.fs().RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		results = make([]reserved, len(batch))
		cur, err := store.GetTx[Consent](tx, cref, "vrp consent "+consentID, ErrNotFound)
		if err != nil {
			return err
		}
		refs := make([]*firestore.DocumentRef, len(batch))
		for i, r := range batch {
			refs[i] = scope.Collection(payments.Collection).Doc(r.id)
		}
		existing, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		now := s.now()
		if err := usable(cur, now); err != nil {
			for i := range results {
				results[i].err = err
			}
			return nil
		}
		l, err := cur.Limits()
		if err != nil {
			return err
		}
		if cur.Usage == nil {
			cur.Usage = map[string]Usage{}
		}
		counters := make([]string, 0, len(l.Periodic))
		for i := range l.Periodic {
			counters = append(counters, l.Key(i, now))
		}
		accepted := 0
		for i, r := range batch {
			if existing[i].Exists() {
				if err := existing[i].DataTo(&results[i].p); err != nil {
					return err
				}
				continue
			}
			if v := l.Check(r.amount, cur.Currency, now, cur.used(l)); v != nil {
				results[i].err = limitExceeded(l, cur, v)
				continue
			}
			minor := l.Minor(r.amount)
			for j, k := range counters {
				cur.Usage[k] = Usage{Minor: cur.Usage[k].Minor + minor, Until: l.Period(j, now).End}
			}
			cur.Occurrences++
			p, err := s.newPayment(cur, r, minor, counters, now)
			if err != nil {
				return err
			}
			if err := tx.Create(refs[i], p); err != nil {
				return err
			}
			results[i].p, results[i].fresh = p, true
			accepted++
		}
		if accepted == 0 {
			return nil
		}
		ups := []firestore.Update{{Path: payments.OccurrencesField, Value: cur.Occurrences}, {Path: "updatedAt", Value: now}}
		for k, u := range cur.Usage {
			switch {
			case slices.Contains(counters, k):
				ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{payments.UsageField, k}, Value: u})
			case !u.Until.After(now): // the counter of a period that ended
				ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{payments.UsageField, k}, Value: firestore.Delete})
			}
		}
		return tx.Update(cref, ups)
	})
	if err != nil {
		err = fmt.Errorf("reserve vrp payments: %w", err)
		var ae *httpapi.Error
		if errors.As(err, &ae) {
			err = ae
		}
		for i := range batch {
			results[i] = reserved{err: err}
		}
	}
	return results
}

// newPayment is the record of an accepted request: PENDING, holding its reservation, with
// payment.created in its outbox and its first send to the bank left to the request (the
// status worker sends it after SendGrace if that request dies).
func (s *Service) newPayment(c Consent, r *request, minor int64, counters []string, now time.Time) (payments.Payment, error) {
	id := r.id
	e2e := r.e2e
	if e2e == "" {
		e2e = id // 30 characters: within Max35Text, and unique for reconciliation
	}
	next := now.Add(s.sendGrace())
	p := payments.Payment{ID: id, Env: c.Env, OrgID: c.OrgID, Status: payments.StatusPending, BankID: c.BankID, AccountID: c.AccountID,
		Product: Product, Amount: money.FormatAmount(r.amount), Currency: c.Currency, CreditorIBAN: c.CreditorIBAN,
		CreditorName: c.CreditorName, DebtorIBAN: c.DebtorIBAN, RemittanceInfo: r.remittance, EndToEndID: e2e,
		CallbackURL: c.CallbackURL, AuthorizeBy: now, AuthorizedAt: &now, CreatedAt: now, UpdatedAt: now,
		StatusHistory: []payments.Change{{Status: payments.StatusPending, At: now}},
		VRPConsentID:  c.ID, VRP: true, Reservation: &payments.Reservation{Minor: minor, Counters: slices.Clone(counters)},
		PollActive: true, NextPollAt: &next}
	if err := p.Enqueue(payments.EventCreated, now); err != nil {
		return payments.Payment{}, err
	}
	return p, nil
}
