// Package payments is the Payments function: payment initiation (PIS) with the bank's SCA.
//
//	POST   /v1/payments               developer; Idempotency-Key; 201 with the bank's SCA redirectUrl
//	GET    /v1/payments               filters status, accountId, createdFrom, createdTo; newest first
//	GET    /v1/payments/{id}          with statusHistory
//	DELETE /v1/payments/{id}          developer; cancels an AWAITING_AUTHORIZATION or SCHEDULED payment
//	POST   /v1/funds-confirmations    developer; {accountId, amount, currency} → {fundsAvailable}
//	POST   /v1/payments/{id}/refunds  developer; Idempotency-Key required; a refund to the payer, 201 with the organisation's SCA redirectUrl
//	GET    /v1/payments/{id}/refunds  the payment's refunds, filters as GET /v1/refunds
//	GET    /v1/refunds                filters status, paymentId, createdFrom, createdTo; newest first
//	GET    /v1/refunds/{id}           with statusHistory
//	POST   /v1/refund-batches         developer; Idempotency-Key required; refunds awaiting SCA as one bulk payment, one redirectUrl
//	GET    /v1/refund-batches/{id}
//
// The bank sends the customer back to GET /v1/callback (functions/callback), which records
// the SCA result; functions/paymentstatus follows the payment to its final status. A payment
// of another organisation, or of the other environment, is 404.
package payments

import (
	"context"
	"errors"
	"net/http"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
)

func init() {
	platform.HTTP("Payments", platform.Using(connections.FromEnv, build))
}

func build(ctx context.Context, env *platform.Env, c *connections.Service, urls platform.PublicURLs) (http.Handler, error) {
	return NewHandler(payments.ForConnections(c, orgs.New(c.Repo.Client, nil), nil, urls.Live)), nil
}

type server struct {
	svc *payments.Service
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(svc *payments.Service) http.Handler {
	s := &server{svc: svc}
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/payments", s.create)
	rt.Handle("GET /v1/payments", s.list)
	rt.Handle("GET /v1/payments/{id}", s.get)
	rt.Handle("DELETE /v1/payments/{id}", s.cancel)
	rt.Handle("POST /v1/funds-confirmations", s.funds)
	rt.Handle("POST /v1/payments/{id}/refunds", s.createRefund)
	rt.Handle("GET /v1/payments/{id}/refunds", s.paymentRefunds)
	rt.Handle("GET /v1/refunds", s.refunds)
	rt.Handle("GET /v1/refunds/{id}", s.getRefund)
	rt.Handle("POST /v1/refunds/{id}/cancel", s.cancelRefund)
	rt.Handle("POST /v1/refund-batches", s.createBatch)
	rt.Handle("GET /v1/refund-batches/{id}", s.getBatch)
	return rt
}

func (s *server) now() time.Time {
	return s.svc.Clock()
}

func (s *server) scope(ctx context.Context) (store.Scope, error) {
	return store.ForCaller(ctx, s.svc.Store.FS)
}

// developer admits a developer key and returns its scope.
func (s *server) developer(r *http.Request) (store.Scope, error) {
	return store.ForRole(r.Context(), s.svc.Store.FS, auth.RoleDeveloper)
}

func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.developer, func(ctx context.Context, scope store.Scope, in payments.Request) (string, any, error) {
		p, err := s.svc.Initiate(ctx, scope, in, httpapi.ClientIP(r))
		if err != nil {
			return "", nil, err
		}
		return "/v1/payments/" + p.ID, payments.View(p, s.now()), nil
	})
}

func (s *server) load(r *http.Request) (store.Scope, payments.Payment, error) {
	scope, err := s.scope(r.Context())
	if err != nil {
		return store.Scope{}, payments.Payment{}, err
	}
	p, err := s.svc.Store.Get(r.Context(), scope, r.PathValue("id"))
	if errors.Is(err, payments.ErrNotFound) || (err == nil && p.IsRefund()) {
		return scope, p, httpapi.NotFound("Payment " + r.PathValue("id"))
	}
	return scope, p, err
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	_, p, err := s.load(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, payments.View(p, s.now()))
	return nil
}

func (s *server) cancel(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.RoleDeveloper); err != nil {
		return err
	}
	scope, _, err := s.load(r)
	if err != nil {
		return err
	}
	p, err := s.svc.Cancel(ctx, scope, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, payments.View(p, s.now()))
	return nil
}

// funds answers whether an account covers an amount, from its bank's confirmation of funds.
func (s *server) funds(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	scope, err := s.developer(r)
	if err != nil {
		return err
	}
	var in payments.FundsRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	ok, err := s.svc.ConfirmFunds(ctx, scope, in)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"fundsAvailable": ok, "checkedAt": s.now()})
	return nil
}

func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	q := payments.ListQuery{AccountID: r.URL.Query().Get("accountId")}
	if q.AccountID != "" && !ids.Valid(ids.Account, q.AccountID) {
		return httpapi.InvalidField("accountId", "is not an account ID (acc_…)")
	}
	return serveList(s, w, r, q, ids.Payment, payments.View,
		func(p payments.JSON) lists.CreatedID { return lists.CreatedID{CreatedAt: p.CreatedAt, ID: p.ID} })
}

// parseTime reads an RFC 3339 date-time or a date (YYYY-MM-DD). A date as createdTo
// includes that whole day (the bound is the next midnight, exclusive).
func parseTime(raw, field string, endOfDay bool) (*time.Time, error) {
	if raw == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		t = t.UTC()
		if endOfDay {
			t = t.Add(time.Microsecond) // createdTo is inclusive
		}
		return &t, nil
	}
	t, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return nil, httpapi.InvalidField(field, "must be a date (YYYY-MM-DD) or an RFC 3339 date-time")
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return &t, nil
}
