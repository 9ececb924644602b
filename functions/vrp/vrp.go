// Package vrp is the VRP function: variable recurring payments under a consent the customer
// authorised once at the bank.
//
//	POST   /v1/vrp-consents                      developer; Idempotency-Key; 201 with the bank's SCA redirectUrl
//	GET    /v1/vrp-consents                      filter status; newest first
//	GET    /v1/vrp-consents/{id}                 with remaining (per period: what is left, when it resets; occurrences)
//	DELETE /v1/vrp-consents/{id}                 developer; revoked at the bank too
//	GET    /v1/vrp-consents/{id}/payments        the consent's payments, newest first
//	POST   /v1/vrp-consents/{id}/confirm-funds   developer; {amount} → {fundsAvailable}
//	POST   /v1/vrps                              developer; Idempotency-Key required; 422 LIMIT_EXCEEDED over a limit
//	GET    /v1/vrps                              filter status; newest first
//	GET    /v1/vrps/{id}
//
// The bank sends the customer back to GET /v1/callback (functions/callback), which
// authorises the consent; functions/paymentstatus sends and follows each payment to its
// final status. A consent or payment of another organisation, or of the other environment,
// is 404.
package vrp

import (
	"context"
	"net/http"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/idempotency"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	vrps "tokapi.io/tok/shared/vrp"
)

func init() {
	platform.HTTP("VRP", platform.Using(pubsubclient.And(connections.FromEnv), build))
}

func build(_ context.Context, _ *platform.Env, p pubsubclient.Publishing[*connections.Service], urls platform.PublicURLs) (http.Handler, error) {
	o := orgs.New(p.Dep.Repo.Client, nil)
	return NewHandler(vrps.New(payments.ForConnections(p.Dep, o, payments.NewPollPublisher(p.PubSub, ""), urls.Live), o)), nil
}

type server struct {
	svc *vrps.Service
	// consent and payment are the records routes name by {id}.
	consent payments.Kind[vrps.Consent]
	payment payments.Kind[payments.Payment]
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(svc *vrps.Service) http.Handler {
	s := &server{svc: svc, consent: svc.Consents(), payment: svc.Payments.Store.VRPPayments()}
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/vrp-consents", payments.Creates(s.consent, s.developer, svc.Create))
	rt.Handle("GET /v1/vrp-consents", s.listConsents)
	rt.Handle("GET /v1/vrp-consents/{id}", s.consent.Show(s.reader))
	rt.Handle("DELETE /v1/vrp-consents/{id}", s.consent.Change(s.developer, svc.Revoke))
	rt.Handle("GET /v1/vrp-consents/{id}/payments", s.consentPayments)
	rt.Handle("POST /v1/vrp-consents/{id}/confirm-funds", s.confirmFunds)
	rt.Handle("POST /v1/vrps", s.pay)
	rt.Handle("GET /v1/vrps", s.listPayments)
	rt.Handle("GET /v1/vrps/{id}", s.payment.Show(s.reader))
	return rt
}

func (s *server) now() time.Time { return s.svc.Payments.Clock() }

// reader admits any caller and returns its scope.
func (s *server) reader(r *http.Request) (store.Scope, error) {
	return store.ForCaller(r.Context(), s.svc.Payments.Store.FS)
}

// developer admits a developer key and returns its scope.
func (s *server) developer(r *http.Request) (store.Scope, error) {
	return store.ForRole(r.Context(), s.svc.Payments.Store.FS, auth.RoleDeveloper)
}

func (s *server) listConsents(w http.ResponseWriter, r *http.Request) error {
	scope, status, err := s.filtered(r, vrps.Statuses)
	if err != nil {
		return err
	}
	now := s.now()
	return lists.Serve(w, r, lists.Spec[lists.CreatedID, vrps.JSON]{
		Valid:    func(p lists.CreatedID) bool { return p.Is(ids.VRPConsent) },
		Fetch:    lists.Query[lists.CreatedID](s.svc.ListQuery(scope, status), func(c vrps.Consent) vrps.JSON { return vrps.View(c, now) }),
		Position: func(c vrps.JSON) lists.CreatedID { return lists.CreatedID{CreatedAt: c.CreatedAt, ID: c.ID} },
	})
}

// filtered is the caller's scope and the list's status filter, one of statuses.
func (s *server) filtered(r *http.Request, statuses []string) (store.Scope, string, error) {
	scope, err := s.reader(r)
	if err != nil {
		return store.Scope{}, "", err
	}
	status := r.URL.Query().Get("status")
	return scope, status, httpapi.OneOf("status", status, statuses)
}

func (s *server) consentPayments(w http.ResponseWriter, r *http.Request) error {
	c, err := s.consent.In(r, s.reader)
	if err != nil {
		return err
	}
	return lists.Serve(w, r, s.svc.Payments.Store.ListSpec(c.Scope, payments.ListQuery{VRPConsentID: c.Record.ID}))
}

func (s *server) listPayments(w http.ResponseWriter, r *http.Request) error {
	scope, status, err := s.filtered(r, payments.Statuses)
	if err != nil {
		return err
	}
	return lists.Serve(w, r, s.svc.Payments.Store.ListSpec(scope, payments.ListQuery{Status: status, VRPOnly: true}))
}

// pay makes a payment under a consent. Idempotency-Key is required here: the customer is
// not present, so only the key stops a retried request from paying twice.
func (s *server) pay(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.payer, func(ctx context.Context, scope store.Scope, in vrps.PayRequest) (string, any, error) {
		return s.payment.Created(s.svc.Pay(ctx, scope, in, r.Header.Get(idempotency.Header)))
	})
}

// payer admits a developer's request that carries an Idempotency-Key.
func (s *server) payer(r *http.Request) (store.Scope, error) {
	if err := auth.Require(r.Context(), auth.RoleDeveloper); err != nil {
		return store.Scope{}, err
	}
	if r.Header.Get(idempotency.Header) == "" {
		return store.Scope{}, httpapi.InvalidField(idempotency.Header, "is required: a payment without the customer present must be safe to retry")
	}
	return s.reader(r)
}

// fundsRequest is the body of POST /v1/vrp-consents/{id}/confirm-funds.
type fundsRequest struct {
	Amount string `json:"amount"`
}

func (s *server) confirmFunds(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Respond(w, r, s.developer, func(ctx context.Context, scope store.Scope, in fundsRequest) (any, error) {
		return s.svc.Payments.AnswerFunds(s.svc.ConfirmFunds(ctx, scope, r.PathValue("id"), in.Amount))
	})
}
