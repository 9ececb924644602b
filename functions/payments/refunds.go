package payments

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
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
	return httpapi.Create(w, r, s.refundable, func(ctx context.Context, p refundOf, in payments.RefundRequest) (string, any, error) {
		refund, err := s.svc.CreateRefund(ctx, p.scope, p.ID, in, httpapi.ClientIP(r))
		if err != nil {
			return "", nil, err
		}
		return "/v1/refunds/" + refund.ID, payments.RefundView(refund, s.now()), nil
	})
}

// refundOf is the payment a refund is created for, in its scope.
type refundOf struct {
	payments.Payment
	scope store.Scope
}

// refundable admits a developer's request that carries an Idempotency-Key, for a payment of
// the caller's.
func (s *server) refundable(r *http.Request) (refundOf, error) {
	if err := auth.Require(r.Context(), auth.RoleDeveloper); err != nil {
		return refundOf{}, err
	}
	if err := requireKey(r); err != nil {
		return refundOf{}, err
	}
	scope, p, err := s.load(r)
	return refundOf{Payment: p, scope: scope}, err
}

// cancelRefund is POST /v1/refunds/{id}/cancel.
func (s *server) cancelRefund(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.RoleDeveloper); err != nil {
		return err
	}
	scope, err := s.scope(ctx)
	if err != nil {
		return err
	}
	refund, err := s.svc.CancelRefund(ctx, scope, r.PathValue("id"))
	if errors.Is(err, payments.ErrNotFound) {
		return httpapi.NotFound("Refund " + r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, payments.RefundView(refund, s.now()))
	return nil
}

// getRefund is GET /v1/refunds/{id}.
func (s *server) getRefund(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	refund, err := s.svc.Store.Get(r.Context(), scope, id)
	if errors.Is(err, payments.ErrNotFound) || (err == nil && !refund.IsRefund()) {
		return httpapi.NotFound("Refund " + id)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, payments.RefundView(refund, s.now()))
	return nil
}

// paymentRefunds is GET /v1/payments/{id}/refunds: the refunds of one payment.
func (s *server) paymentRefunds(w http.ResponseWriter, r *http.Request) error {
	_, p, err := s.load(r)
	if err != nil {
		return err
	}
	return s.listRefunds(w, r, p.ID)
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
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q.Status = qs.Get("status")
	if q.Status != "" && !slices.Contains(payments.Statuses, q.Status) {
		return httpapi.InvalidField("status", "must be one of "+strings.Join(payments.Statuses, ", "))
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

// createBatch is POST /v1/refund-batches.
func (s *server) createBatch(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.developerWithKey, func(ctx context.Context, scope store.Scope, in payments.BatchRequest) (string, any, error) {
		b, err := s.svc.CreateBatch(ctx, scope, in, httpapi.ClientIP(r))
		if err != nil {
			return "", nil, err
		}
		return "/v1/refund-batches/" + b.ID, payments.BatchView(b), nil
	})
}

// developerWithKey admits a developer's request that carries an Idempotency-Key.
func (s *server) developerWithKey(r *http.Request) (store.Scope, error) {
	if err := auth.Require(r.Context(), auth.RoleDeveloper); err != nil {
		return store.Scope{}, err
	}
	if err := requireKey(r); err != nil {
		return store.Scope{}, err
	}
	return s.scope(r.Context())
}

// getBatch is GET /v1/refund-batches/{id}.
func (s *server) getBatch(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	b, err := s.svc.Store.GetBatch(r.Context(), scope, r.PathValue("id"))
	if errors.Is(err, payments.ErrNotFound) {
		return httpapi.NotFound("Refund batch " + r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, payments.BatchView(b))
	return nil
}
