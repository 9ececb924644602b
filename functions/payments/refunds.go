package payments

import (
	"context"
	"errors"
	"net/http"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/idempotency"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
)

// requireKey refuses a request that moves money without an Idempotency-Key.
func requireKey(r *http.Request) error {
	if r.Header.Get(idempotency.Header) == "" {
		return httpapi.InvalidField(idempotency.Header, "is required: a refund moves money, so a retried request must not pay twice")
	}
	return nil
}

// createRefund is POST /v1/payments/{id}/refunds.
func (s *server) createRefund(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.refundable, func(ctx context.Context, p payments.Found[payments.Payment], in payments.RefundRequest) (string, any, error) {
		return s.refund.Created(s.svc.CreateRefund(ctx, p.Scope, p.Record.ID, in, httpapi.ClientIP(r)))
	})
}

// refundable admits a developer's request that carries an Idempotency-Key, for a payment of
// the caller's.
func (s *server) refundable(r *http.Request) (payments.Found[payments.Payment], error) {
	return s.payment.In(r, s.developerWithKey)
}

// cancelRefund is POST /v1/refunds/{id}/cancel: the service reads the refund in the
// transaction that cancels it.
func (s *server) cancelRefund(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Answer(w, r, s.developer, func(ctx context.Context, scope store.Scope) (any, error) {
		refund, err := s.svc.CancelRefund(ctx, scope, r.PathValue("id"))
		if errors.Is(err, payments.ErrNotFound) {
			return nil, httpapi.NotFound("Refund " + r.PathValue("id"))
		}
		return s.refund.Answer(refund, err)
	})
}

// paymentRefunds is GET /v1/payments/{id}/refunds: the refunds of one payment.
func (s *server) paymentRefunds(w http.ResponseWriter, r *http.Request) error {
	p, err := s.payment.In(r, s.reader)
	if err != nil {
		return err
	}
	return s.listRefunds(w, r, p.Record.ID)
}

// refunds is GET /v1/refunds, filters status, paymentId, createdFrom and createdTo.
func (s *server) refunds(w http.ResponseWriter, r *http.Request) error {
	paymentID := r.URL.Query().Get("paymentId")
	if paymentID != "" && !ids.Valid(ids.Payment, paymentID) {
		return httpapi.InvalidField("paymentId", "is not a payment ID (pay_…)")
	}
	return s.listRefunds(w, r, paymentID)
}

func (s *server) listRefunds(w http.ResponseWriter, r *http.Request, paymentID string) error {
	q := payments.ListQuery{Refunds: true, RefundOf: paymentID}
	return serveList(s, w, r, q, ids.Refund, payments.RefundView,
		func(p payments.RefundJSON) lists.CreatedID { return lists.CreatedID{CreatedAt: p.CreatedAt, ID: p.ID} })
}

// serveList serves a list of payments or refunds (q.Refunds) with the common filters.
func serveList[T any](s *server, w http.ResponseWriter, r *http.Request, q payments.ListQuery, kind string,
	view func(payments.Payment, time.Time) T, pos func(T) lists.CreatedID) error {
	scope, err := s.reader(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q.Status = qs.Get("status")
	if err := httpapi.OneOf("status", q.Status, payments.Statuses); err != nil {
		return err
	}
	if q.CreatedFrom, err = parseTime(qs.Get("createdFrom"), "createdFrom", false); err != nil {
		return err
	}
	if q.CreatedTo, err = parseTime(qs.Get("createdTo"), "createdTo", true); err != nil {
		return err
	}
	if q.CreatedFrom != nil && q.CreatedTo != nil && !q.CreatedFrom.Before(*q.CreatedTo) {
		return httpapi.InvalidField("createdTo", "must be after createdFrom")
	}
	return lists.Serve(w, r, payments.ListSpecOf(s.svc.Store, scope, q, kind, view, pos))
}

// developerWithKey admits a developer's request that carries an Idempotency-Key.
func (s *server) developerWithKey(r *http.Request) (store.Scope, error) {
	if err := auth.Require(r.Context(), auth.RoleDeveloper); err != nil {
		return store.Scope{}, err
	}
	if err := requireKey(r); err != nil {
		return store.Scope{}, err
	}
	return s.reader(r)
}
