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
	// payment, refund and batch are the records routes name by {id}.
	payment, refund payments.Kind[payments.Payment]
	batch           payments.Kind[payments.Batch]
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(svc *payments.Service) http.Handler {
	s := &server{svc: svc, payment: svc.Store.Payments(), refund: svc.Store.Refunds(), batch: svc.Store.Batches()}
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/payments", payments.Creates(s.payment, s.developer, svc.Initiate))
	rt.Handle("GET /v1/payments", s.list)
	rt.Handle("GET /v1/payments/{id}", s.payment.Show(s.reader))
	rt.Handle("DELETE /v1/payments/{id}", s.payment.Change(s.developer, svc.Cancel))
	rt.Handle("POST /v1/funds-confirmations", s.funds)
	rt.Handle("POST /v1/payments/{id}/refunds", s.createRefund)
	rt.Handle("GET /v1/payments/{id}/refunds", s.paymentRefunds)
	rt.Handle("GET /v1/refunds", s.refunds)
	rt.Handle("GET /v1/refunds/{id}", s.refund.Show(s.reader))
	rt.Handle("POST /v1/refunds/{id}/cancel", s.cancelRefund)
	rt.Handle("POST /v1/refund-batches", payments.Creates(s.batch, s.developerWithKey, svc.CreateBatch))
	rt.Handle("GET /v1/refund-batches/{id}", s.batch.Show(s.reader))
	return rt
}

// reader admits any caller and returns its scope.
func (s *server) reader(r *http.Request) (store.Scope, error) {
	return store.ForCaller(r.Context(), s.svc.Store.FS)
}

// developer admits a developer key and returns its scope.
func (s *server) developer(r *http.Request) (store.Scope, error) {
	return store.ForRole(r.Context(), s.svc.Store.FS, auth.RoleDeveloper)
}

// funds answers whether an account covers an amount, from its bank's confirmation of funds.
func (s *server) funds(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Respond(w, r, s.developer, func(ctx context.Context, scope store.Scope, in payments.FundsRequest) (any, error) {
		return s.svc.AnswerFunds(s.svc.ConfirmFunds(ctx, scope, in))
	})
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
