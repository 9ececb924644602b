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
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/connections"
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
	platform.HTTP("VRP", platform.Using(platform.AndPubSub(connections.FromEnv), build))
}

func build(_ context.Context, _ *platform.Env, p platform.Publishing[*connections.Service], urls platform.PublicURLs) (http.Handler, error) {
	o := orgs.New(p.Dep.Repo.Client, nil)
	return NewHandler(vrps.New(payments.ForConnections(p.Dep, o, payments.NewPollPublisher(p.PubSub, ""), urls.Live), o)), nil
}

type server struct {
	svc *vrps.Service
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(svc *vrps.Service) http.Handler {
	s := &server{svc: svc}
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/vrp-consents", s.create)
	rt.Handle("GET /v1/vrp-consents", s.listConsents)
	rt.Handle("GET /v1/vrp-consents/{id}", s.get)
	rt.Handle("DELETE /v1/vrp-consents/{id}", s.revoke)
	rt.Handle("GET /v1/vrp-consents/{id}/payments", s.consentPayments)
	rt.Handle("POST /v1/vrp-consents/{id}/confirm-funds", s.confirmFunds)
	rt.Handle("POST /v1/vrps", s.pay)
	rt.Handle("GET /v1/vrps", s.listPayments)
	rt.Handle("GET /v1/vrps/{id}", s.getPayment)
	return rt
}

func (s *server) now() time.Time { return s.svc.Payments.Clock() }

func (s *server) scope(ctx context.Context) (store.Scope, error) {
	return store.ForCaller(ctx, s.svc.Payments.Store.FS)
}

// developer admits a developer key and returns its scope.
func (s *server) developer(r *http.Request) (store.Scope, error) {
	return store.ForRole(r.Context(), s.svc.Payments.Store.FS, auth.RoleDeveloper)
}

func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.developer, func(ctx context.Context, scope store.Scope, in vrps.CreateRequest) (string, any, error) {
		c, err := s.svc.Create(ctx, scope, in, httpapi.ClientIP(r))
		if err != nil {
			return "", nil, err
		}
		return "/v1/vrp-consents/" + c.ID, vrps.View(c, s.now()), nil
	})
}

func (s *server) load(r *http.Request) (store.Scope, vrps.Consent, error) {
	scope, err := s.scope(r.Context())
	if err != nil {
		return store.Scope{}, vrps.Consent{}, err
	}
	c, err := s.svc.Get(r.Context(), scope, r.PathValue("id"))
	if errors.Is(err, vrps.ErrNotFound) {
		return scope, c, httpapi.NotFound("VRP consent " + r.PathValue("id"))
	}
	return scope, c, err
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	_, c, err := s.load(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, vrps.View(c, s.now()))
	return nil
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.RoleDeveloper); err != nil {
		return err
	}
	scope, c, err := s.load(r)
	if err != nil {
		return err
	}
	if c, err = s.svc.Revoke(ctx, scope, c.ID); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, vrps.View(c, s.now()))
	return nil
}

func (s *server) listConsents(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(vrps.Statuses, status) {
		return httpapi.InvalidField("status", "must be one of "+strings.Join(vrps.Statuses, ", "))
	}
	now := s.now()
	return lists.Serve(w, r, lists.Spec[lists.CreatedID, vrps.JSON]{
		Valid:    func(p lists.CreatedID) bool { return p.Is(ids.VRPConsent) },
		Fetch:    lists.Query[lists.CreatedID](s.svc.ListQuery(scope, status), func(c vrps.Consent) vrps.JSON { return vrps.View(c, now) }),
		Position: func(c vrps.JSON) lists.CreatedID { return lists.CreatedID{CreatedAt: c.CreatedAt, ID: c.ID} },
	})
}

func (s *server) consentPayments(w http.ResponseWriter, r *http.Request) error {
	scope, c, err := s.load(r)
	if err != nil {
		return err
	}
	return lists.Serve(w, r, s.svc.Payments.Store.ListSpec(scope, payments.ListQuery{VRPConsentID: c.ID}))
}

func (s *server) listPayments(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(payments.Statuses, status) {
		return httpapi.InvalidField("status", "must be one of "+strings.Join(payments.Statuses, ", "))
	}
	return lists.Serve(w, r, s.svc.Payments.Store.ListSpec(scope, payments.ListQuery{Status: status, VRPOnly: true}))
}

func (s *server) getPayment(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	p, err := s.svc.Payments.Store.Get(r.Context(), scope, r.PathValue("id"))
	if errors.Is(err, payments.ErrNotFound) || (err == nil && p.VRPConsentID == "") {
		return httpapi.NotFound("VRP payment " + r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, payments.View(p, s.now()))
	return nil
}

// pay makes a payment under a consent. Idempotency-Key is required here: the customer is
// not present, so only the key stops a retried request from paying twice.
func (s *server) pay(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.payer, func(ctx context.Context, scope store.Scope, in vrps.PayRequest) (string, any, error) {
		p, err := s.svc.Pay(ctx, scope, in, r.Header.Get(idempotency.Header))
		if err != nil {
			return "", nil, err
		}
		return "/v1/vrps/" + p.ID, payments.View(p, s.now()), nil
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
	return s.scope(r.Context())
}

func (s *server) confirmFunds(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	scope, err := s.developer(r)
	if err != nil {
		return err
	}
	var in struct {
		Amount string `json:"amount"`
	}
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	ok, err := s.svc.ConfirmFunds(ctx, scope, r.PathValue("id"), in.Amount)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"fundsAvailable": ok, "checkedAt": s.now()})
	return nil
}
