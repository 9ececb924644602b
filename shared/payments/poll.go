package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// StatusTopic carries PollRequests to the payment-status function; Cloud Scheduler also
// publishes "{}" on it every minute, which runs the sweep.
const StatusTopic = "tok-payment-status"

// PollRequest asks for one payment's status to be checked (PaymentID is a payment's or a
// refund's ID).
type PollRequest struct {
	Env       string `json:"env"`
	OrgID     string `json:"orgId"`
	PaymentID string `json:"paymentId"`
}

// Tenant is the request's tenant.
func (r PollRequest) Tenant() tenant.Tenant { return tenant.Tenant{Env: r.Env, OrgID: r.OrgID} }

// PollPublisher publishes PollRequests.
type PollPublisher struct{ publisher *pubsub.Publisher }

// NewPollPublisher publishes to topic (StatusTopic unless a test names another).
func NewPollPublisher(client *pubsub.Client, topic string) *PollPublisher {
	if topic == "" {
		topic = StatusTopic
	}
	return &PollPublisher{publisher: client.Publisher(topic)}
}

// Publish sends one request and waits until Pub/Sub has it.
func (p *PollPublisher) Publish(ctx context.Context, req PollRequest) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	res := p.publisher.Publish(ctx, &pubsub.Message{Data: body, Attributes: map[string]string{events.AttrEnv: req.Env, events.AttrOrg: req.OrgID}})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish poll request for %s: %w", req.PaymentID, err)
	}
	return nil
}

// DecodePollRequest reads a message of StatusTopic: ok is false for a scheduler tick
// (no payment named); a malformed request is an error.
func DecodePollRequest(m events.PubSubMessage) (PollRequest, bool, error) {
	var req PollRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return PollRequest{}, false, fmt.Errorf("decode poll request %s: %w", m.MessageID, err)
	}
	if req == (PollRequest{}) {
		return req, false, nil
	}
	if !req.Tenant().Valid() || (!ids.Valid(ids.Payment, req.PaymentID) && !ids.Valid(ids.Refund, req.PaymentID)) ||
		m.Attributes[events.AttrEnv] != req.Env || m.Attributes[events.AttrOrg] != req.OrgID {
		return PollRequest{}, false, fmt.Errorf("poll request %s: tenant attributes and body disagree or are invalid", m.MessageID)
	}
	return req, true, nil
}

// Poll checks one payment's status at the bank under a lease (one poller per payment): it
// asks at once, then after each QuickPolls wait, until the status is final, and then
// schedules the next run (NextPollAt, for the sweep) with Backoff. Statuses only move
// forwards, so a redelivered or overlapping request changes nothing it should not. A run
// that finds another poller's live lease does nothing.
func (s *Service) Poll(ctx context.Context, t tenant.Tenant, id string) error {
	scope := store.For(s.Store.FS, t)
	holder := ids.New("lease")
	p, claimed, err := s.claim(ctx, scope, id, holder)
	if err != nil || !claimed {
		return err
	}
	for i, wait := range s.quickPolls() {
		if i > 0 && p.Status == StatusScheduled {
			break // accepted for a later date: the sweep asks again then
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		if p, err = s.pollOnce(ctx, scope, p); err != nil {
			return err
		}
		if Final(p.Status) {
			return nil
		}
	}
	return s.release(ctx, scope, id, holder)
}

// claim takes the payment's poll lease; claimed is false for a final payment or one whose
// lease another poller holds. While held, NextPollAt is the lease's end, so the sweep
// retries a payment whose poller died.
func (s *Service) claim(ctx context.Context, scope store.Scope, id, holder string) (Payment, bool, error) {
	claimed := false
	p, _, err := s.Store.Update(ctx, scope, id, func(p *Payment, now time.Time) (bool, error) {
		claimed = false
		if Final(p.Status) || p.Status == StatusAwaiting || (p.PollLease != nil && p.PollLease.Until.After(now)) {
			return false, nil
		}
		until := now.Add(s.leaseTTL())
		p.PollLease, p.NextPollAt, p.PollActive = &Lease{Holder: holder, Until: until}, &until, true
		claimed = true
		return true, nil
	})
	if err != nil {
		return Payment{}, false, err
	}
	return p, claimed, nil
}

// VRPFollower sends and follows VRP payments (shared/vrp): Follow sends a payment not yet
// at the bank (idempotently: the bank answers a repeat with the payment it has) or asks
// the bank for its status, and applies the answer.
type VRPFollower interface {
	Follow(ctx context.Context, scope store.Scope, p Payment) (Payment, error)
}

// pollOnce asks the bank and applies its answer. A bank failure is logged: the payment is
// asked again on the next poll.
func (s *Service) pollOnce(ctx context.Context, scope store.Scope, p Payment) (Payment, error) {
	if p.VRPConsentID != "" {
		if s.VRP == nil {
			return p, fmt.Errorf("payment %s is a VRP payment, but the poller has no VRP follower", p.ID)
		}
		return s.VRP.Follow(ctx, scope, p)
	}
	conn, sess, err := s.connect(ctx, scope, p)
	if err != nil {
		return p, err
	}
	ps, err := s.bankStatus(ctx, conn, sess, p)
	if err != nil {
		slog.WarnContext(ctx, "payment status call failed; asking again later", "paymentId", p.ID, "error", err)
		return p, nil
	}
	c := FromBank(ps, p.ExecutionDate != "")
	info := s.debtorFromBank(ctx, conn, sess, p, c.Status)
	// The status and what the bank told of the debtor are written together, with the
	// status's events, in one transaction.
	next, _, err := s.Store.Update(ctx, scope, p.ID, func(p *Payment, now time.Time) (bool, error) {
		changed, err := p.advanceWithEvents(c, now)
		if changed && Final(p.Status) {
			p.PollLease = nil
		}
		if info != nil && !p.DebtorChecked {
			if p.DebtorIBAN == "" {
				p.DebtorIBAN = info.DebtorIBAN
			}
			if p.DebtorName == "" {
				p.DebtorName = info.DebtorName
			}
			p.DebtorChecked, changed = true, true
		}
		return changed, err
	})
	if err != nil {
		return p, err
	}
	return next, nil
}

// debtorFromBank asks the bank, once the customer authorised, which account paid and whose
// it is (a payment by bankId knows neither; refunds need both); nil when there is nothing
// to ask, or the bank failed (the next poll asks again).
func (s *Service) debtorFromBank(ctx context.Context, conn bank.Connector, sess bank.Session, p Payment, status string) *bank.PaymentInfo {
	authorised := status == StatusPending || status == StatusScheduled || status == StatusCompleted
	if p.DebtorChecked || p.IsRefund() || !authorised || (p.DebtorIBAN != "" && p.DebtorName != "") {
		return nil
	}
	info, err := conn.Payment(ctx, sess, p.Product, p.BankPaymentID)
	if err != nil {
		slog.WarnContext(ctx, "payment details call failed; asking again later", "paymentId", p.ID, "error", err)
		return nil
	}
	return &info
}

// bankStatus asks the bank for p's status: of its single payment, or of the bulk payment
// its refund batch sent.
func (s *Service) bankStatus(ctx context.Context, conn bank.Connector, sess bank.Session, p Payment) (bank.PaymentState, error) {
	if p.Bulk {
		return conn.BulkPaymentStatus(ctx, sess, p.Product, p.BankPaymentID)
	}
	return conn.PaymentStatus(ctx, sess, p.Product, p.BankPaymentID)
}

// release ends a run that found no final status: the lease goes and NextPollAt says when
// the sweep asks again.
func (s *Service) release(ctx context.Context, scope store.Scope, id, holder string) error {
	_, _, err := s.Store.Update(ctx, scope, id, func(p *Payment, now time.Time) (bool, error) {
		if p.PollLease == nil || p.PollLease.Holder != holder {
			return false, nil
		}
		p.PollLease = nil
		if Final(p.Status) {
			return true, nil
		}
		next := now.Add(s.backoff(p.PollAttempts))
		p.PollAttempts++
		if p.Status == StatusScheduled {
			if day, err := time.Parse(time.DateOnly, p.ExecutionDate); err == nil && day.After(next) {
				next = day
			}
		} else if p.AuthorizedAt != nil && now.Sub(*p.AuthorizedAt) > s.pollBound() {
			p.StatusCheckOverdue = true
			next = now.Add(24 * time.Hour)
		}
		p.NextPollAt = &next
		return true, nil
	})
	return err
}

// SweepResult counts what a sweep did.
type SweepResult struct{ Expired, Polled, Flushed int }

// sweepBatch bounds the documents one query of a sweep handles; the next tick takes the rest.
const sweepBatch = 200

// Sweep runs on each scheduler tick, across every tenant: payments whose authorisation
// window passed are settled (the bank is asked first: a customer who authorised but never
// came back has paid), payments due a poll are polled (through Polls when set), and events
// left in an outbox are published.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	for _, col := range []string{Collection, RefundsCollection} {
		if err := s.sweep(ctx, col, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sweep is one collection's part of the Sweep: payments or refunds.
func (s *Service) sweep(ctx context.Context, col string, res *SweepResult) error {
	now := s.now()
	group := s.Store.FS.CollectionGroup(col)
	expired, err := group.Where("status", "==", StatusAwaiting).Where("authorizeBy", "<=", now).
		OrderBy("authorizeBy", firestore.Asc).Limit(sweepBatch).Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("query expired authorisations: %w", err)
	}
	for _, d := range expired {
		if t, ok := connections.TenantOf(d.Ref); ok {
			if err := s.expire(ctx, store.For(s.Store.FS, t), d.Ref.ID); err != nil {
				return err
			}
			res.Expired++
		}
	}
	due, err := group.Where("pollActive", "==", true).Where("nextPollAt", "<=", now).
		OrderBy("nextPollAt", firestore.Asc).Limit(sweepBatch).Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("query due polls: %w", err)
	}
	for _, d := range due {
		t, ok := connections.TenantOf(d.Ref)
		if !ok {
			continue
		}
		if s.Polls != nil {
			err = s.Polls.Publish(ctx, PollRequest{Env: t.Env, OrgID: t.OrgID, PaymentID: d.Ref.ID})
		} else {
			err = s.Poll(ctx, t, d.Ref.ID)
		}
		if err != nil {
			return err
		}
		res.Polled++
	}
	flushed, err := FlushStuck(ctx, group.Query, "outboxes", func(t tenant.Tenant, _ *firestore.DocumentSnapshot, p Payment) error {
		return s.Store.Flush(ctx, store.For(s.Store.FS, t), p)
	})
	res.Flushed += flushed
	return err
}

// FlushStuck flushes the outboxes left pending in group (a sweep's batch, the oldest
// first): flush gets each document of a tenant that decodes into a T. It returns how many
// it flushed; what names the outboxes in errors.
func FlushStuck[T any](ctx context.Context, group firestore.Query, what string, flush func(tenant.Tenant, *firestore.DocumentSnapshot, T) error) (int, error) {
	stuck, err := group.Where("outboxPending", "==", true).OrderBy("updatedAt", firestore.Asc).Limit(sweepBatch).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("query %s: %w", what, err)
	}
	n := 0
	for _, d := range stuck {
		t, ok := connections.TenantOf(d.Ref)
		var v T
		if !ok || d.DataTo(&v) != nil {
			continue
		}
		if err := flush(t, d, v); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// expire ends a payment whose authorisation window passed: FAILED with
// AUTHORIZATION_EXPIRED, unless the bank says the customer did authorise.
func (s *Service) expire(ctx context.Context, scope store.Scope, id string) error {
	p, err := s.Store.Get(ctx, scope, id)
	if err != nil {
		return err
	}
	c := Change{Status: StatusFailed, Reason: ReasonAuthorizationExpired}
	if conn, err := s.Connectors.For(p.Env, p.BankID); err == nil && p.BankPaymentID != "" {
		if ps, err := s.bankStatus(ctx, conn, bank.Session{}, p); err == nil && ps.Status != bank.PaymentReceived {
			c = FromBank(ps, p.ExecutionDate != "")
		}
	}
	if p.StateHash != "" {
		if err := s.States.Delete(ctx, p.StateHash); err != nil {
			return fmt.Errorf("delete state of %s: %w", id, err)
		}
	}
	_, err = s.Store.Advance(ctx, scope, id, c, func(p *Payment) {
		if !Final(p.Status) {
			next := s.now()
			p.PollActive, p.NextPollAt = true, &next
		}
	})
	return err
}
