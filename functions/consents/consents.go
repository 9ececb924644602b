// Package consents is the Consents function: the PSD2 consent flow's API.
//
//	POST   /v1/consents               developer; Idempotency-Key; 201 with the bank's SCA redirectUrl
//	                                  (without bankId: Tok's hosted pages, where the customer picks the bank)
//	GET    /v1/consents               filters status, bankId; cursor list, newest first
//	GET    /v1/consents/{id}
//	DELETE /v1/consents/{id}          developer; deleted at the bank, tokens destroyed, REVOKED
//	POST   /v1/consents/{id}/renew    developer; Idempotency-Key; a new SCA for the same connection
//	POST   /v1/consents/{id}/refresh  developer; 202, a sync now (an unattended access unless psuIpAddress)
//
// The bank redirects the PSU to GET /v1/callback (functions/callback), which completes the
// consent. A consent of another organisation, or of the other environment, is 404.
package consents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
)

func init() {
	platform.HTTP("Consents", platform.Using(pubsubclient.And(connections.FromEnv), build))
}

func build(_ context.Context, _ *platform.Env, p pubsubclient.Publishing[*connections.Service], urls platform.PublicURLs) (http.Handler, error) {
	conns := p.Dep
	return NewHandler(&Server{Conns: conns, States: authstate.Store{Client: conns.Repo.Client, Sealer: conns.Vault.Sealer},
		Hosted: hosted.Store{Client: conns.Repo.Client}, Orgs: orgs.New(conns.Repo.Client, nil), Sync: banksync.NewRequestPublisher(p.PubSub, ""),
		PublicURL: urls.Live}), nil
}

// Server holds the function's dependencies.
type Server struct {
	Conns     *connections.Service
	States    authstate.Store
	Hosted    hosted.Store
	Orgs      *orgs.Repo
	Sync      SyncRequester // refreshes
	PublicURL string        // the API's base URL without /v1; the callback is PublicURL + "/v1/callback"
	Now       func() time.Time
}

func (s *Server) now() time.Time { return clock.Stored(s.Now) }

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(s *Server) http.Handler {
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/consents", s.create)
	rt.Handle("GET /v1/consents", s.list)
	rt.Handle("GET /v1/consents/{id}", s.get)
	rt.Handle("DELETE /v1/consents/{id}", s.delete)
	rt.Handle("POST /v1/consents/{id}/renew", s.renew)
	rt.Handle("POST /v1/consents/{id}/refresh", s.refresh)
	return rt
}

// ConsentJSON is the API's consent object.
type ConsentJSON struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	BankID       *string    `json:"bankId"`
	ConnectionID string     `json:"connectionId"`
	Access       []string   `json:"access"`
	CallbackURL  string     `json:"callbackUrl"`
	RedirectURL  *string    `json:"redirectUrl"`
	AuthorizeBy  time.Time  `json:"authorizeBy"`
	ValidUntil   time.Time  `json:"validUntil"`
	Renews       *string    `json:"renews,omitempty"`
	ReplacedBy   *string    `json:"replacedBy,omitempty"`
	Error        *string    `json:"error,omitempty"`
	AuthorizedAt *time.Time `json:"authorizedAt"`
	RevokedAt    *time.Time `json:"revokedAt"`
	RevokedBy    *string    `json:"revokedBy"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
}

func toJSON(c connections.Consent, now time.Time) ConsentJSON {
	st := c.EffectiveStatus(now)
	out := ConsentJSON{ID: c.ID, Status: st, BankID: httpapi.Optional(c.BankID), ConnectionID: c.ConnectionID, Access: c.Access,
		CallbackURL: c.CallbackURL, AuthorizeBy: c.AuthorizeBy, ValidUntil: c.ValidUntil,
		Renews: httpapi.Optional(c.Renews), ReplacedBy: httpapi.Optional(c.ReplacedBy), Error: httpapi.Optional(c.Error),
		AuthorizedAt: c.AuthorizedAt, RevokedAt: c.RevokedAt, RevokedBy: httpapi.Optional(c.RevokedBy), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if st == connections.ConsentAwaiting {
		out.RedirectURL = &c.RedirectURL
	}
	if out.Access == nil {
		out.Access = []string{}
	}
	return out
}

type createRequest struct {
	BankID      string   `json:"bankId"`
	CallbackURL string   `json:"callbackUrl"`
	Access      []string `json:"access"`
	ValidUntil  *string  `json:"validUntil"`
	Locale      string   `json:"locale"`
}

type renewRequest struct {
	CallbackURL string  `json:"callbackUrl"`
	ValidUntil  *string `json:"validUntil"`
}

func (s *Server) scope(ctx context.Context) (store.Scope, error) {
	return store.ForCaller(ctx, s.Conns.Repo.Client)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Create(w, r, s.developer, func(ctx context.Context, scope store.Scope, in createRequest) (string, any, error) {
		c, err := s.newConsent(ctx, scope, in)
		if err != nil {
			return "", nil, err
		}
		return "/v1/consents/" + c.ID, toJSON(c, s.now()), nil
	})
}

// developer admits a developer key and returns its scope.
func (s *Server) developer(r *http.Request) (store.Scope, error) {
	return store.ForRole(r.Context(), s.Conns.Repo.Client, auth.RoleDeveloper)
}

// newConsent checks a consent request and starts the consent: at the bank, or at Tok's
// hosted pages when it names no bank.
func (s *Server) newConsent(ctx context.Context, scope store.Scope, in createRequest) (connections.Consent, error) {
	var (
		b   bankcatalog.Bank
		err error
	)
	if in.BankID != "" {
		if b, err = s.Conns.Connectors.Bank(scope.Tenant().Env, in.BankID); err != nil || !b.Services.AIS {
			if listed, ok := s.Conns.Connectors.Catalogue.Get(scope.Tenant().Env, in.BankID); ok && listed.Services.AIS && !listed.Configured {
				return connections.Consent{}, httpapi.InvalidField("bankId", "is "+listed.Name+", which is listed but not yet available: Tok has no connection to it yet (GET /v1/banks shows configured: false)")
			}
			return connections.Consent{}, httpapi.InvalidField("bankId", "is not a bank offering account access in this environment (see GET /v1/banks)")
		}
	}
	locale := ""
	if in.Locale != "" {
		var ok bool
		if locale, ok = hosted.ParseLocale(in.Locale); !ok {
			return connections.Consent{}, httpapi.InvalidField("locale", "must be one of "+strings.Join(hosted.Locales, ", "))
		}
	}
	if err := s.checkCallback(ctx, scope.Tenant(), in.CallbackURL); err != nil {
		return connections.Consent{}, err
	}
	access, err := checkAccess(in.Access)
	if err != nil {
		return connections.Consent{}, err
	}
	until, err := s.validUntil(in.ValidUntil, b)
	if err != nil {
		return connections.Consent{}, err
	}
	c := connections.Consent{ID: ids.New(ids.Consent), Env: scope.Tenant().Env, OrgID: scope.Tenant().OrgID,
		ConnectionID: ids.New(connections.PrefixConnection), Access: access, ValidUntil: until, CallbackURL: in.CallbackURL}
	if in.BankID == "" {
		c, err = s.startHosted(ctx, scope, c, locale)
	} else {
		c, err = s.start(ctx, scope, b, c)
	}
	return c, err
}

func checkAccess(access []string) ([]string, error) {
	if access == nil {
		return []string{bank.AccessAccounts, bank.AccessBalances, bank.AccessTransactions}, nil
	}
	out := []string{}
	for _, a := range access {
		switch a {
		case bank.AccessAccounts, bank.AccessBalances, bank.AccessTransactions, bank.AccessFunds:
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		default:
			return nil, httpapi.InvalidField("access", "may hold only accounts, balances, transactions and funds")
		}
	}
	if !slices.Contains(out, bank.AccessAccounts) {
		out = append([]string{bank.AccessAccounts}, out...)
	}
	return out, nil
}

// validUntil reads an optional date (YYYY-MM-DD) or date-time; the default and the cap are
// the bank's maximum consent length (at most 180 days).
func (s *Server) validUntil(raw *string, b bankcatalog.Bank) (time.Time, error) {
	days := connections.MaxConsentDays(b)
	now := s.now()
	max := now.AddDate(0, 0, days)
	if raw == nil {
		return max, nil
	}
	t, err := time.Parse(time.DateOnly, *raw)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, *raw); err != nil {
			return time.Time{}, httpapi.InvalidField("validUntil", "must be a date (YYYY-MM-DD) or an RFC 3339 date-time")
		}
	}
	t = t.UTC()
	if !t.After(now.Add(time.Hour)) {
		return time.Time{}, httpapi.InvalidField("validUntil", "must be in the future")
	}
	if t.After(max) {
		return time.Time{}, httpapi.InvalidField("validUntil", fmt.Sprintf("must be at most %d days ahead (the bank's maximum)", days))
	}
	return t, nil
}

func (s *Server) checkCallback(ctx context.Context, t tenant.Tenant, raw string) error {
	return callbackurl.Check(ctx, s.Orgs, t, "callbackUrl", raw)
}

// start asks the bank for consent c and records it awaiting authorisation, with its
// single-use state and sealed PKCE verifier.
func (s *Server) start(ctx context.Context, scope store.Scope, b bankcatalog.Bank, c connections.Consent) (connections.Consent, error) {
	c, st, err := s.Conns.AtBank(ctx, s.States, b, c, strings.TrimSuffix(s.PublicURL, "/")+"/v1/callback", s.now())
	if err != nil {
		return connections.Consent{}, err
	}
	err = s.Conns.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(scope.Collection(connections.CollConsents).Doc(c.ID), c); err != nil {
			return err
		}
		return s.States.Create(tx, c.StateHash, st)
	})
	if err != nil {
		return connections.Consent{}, fmt.Errorf("record consent: %w", err)
	}
	slog.InfoContext(ctx, "consent started", "consentId", c.ID, "bankId", b.ID, "connectionId", c.ConnectionID, "renews", c.Renews)
	return c, nil
}

// startHosted records consent c without a bank, awaiting the customer's choice on Tok's
// hosted pages: its redirectUrl is the session's single-use link.
func (s *Server) startHosted(ctx context.Context, scope store.Scope, c connections.Consent, locale string) (connections.Consent, error) {
	now := s.now()
	sess, secret := hosted.New(scope.Tenant(), hosted.KindConsent, c.ID, locale, now)
	c.Status, c.RedirectURL, c.AuthorizeBy, c.CreatedAt, c.UpdatedAt = connections.ConsentAwaiting, sess.Link(s.PublicURL, secret), sess.ExpiresAt, now, now
	err := s.Conns.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(scope.Collection(connections.CollConsents).Doc(c.ID), c); err != nil {
			return err
		}
		return s.Hosted.Create(tx, sess)
	})
	if err != nil {
		return connections.Consent{}, fmt.Errorf("record consent: %w", err)
	}
	slog.InfoContext(ctx, "consent started on the hosted pages", "consentId", c.ID, "connectionId", c.ConnectionID, "hostedSession", sess.ID)
	return c, nil
}

func (s *Server) load(ctx context.Context, r *http.Request) (store.Scope, connections.Consent, error) {
	scope, err := s.scope(ctx)
	if err != nil {
		return store.Scope{}, connections.Consent{}, err
	}
	c, err := s.Conns.Repo.GetConsent(ctx, scope, r.PathValue("id"))
	if errors.Is(err, connections.ErrNotFound) {
		return scope, c, httpapi.NotFound("Consent " + r.PathValue("id"))
	}
	return scope, c, err
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) error {
	scope, c, err := s.load(r.Context(), r)
	if err != nil {
		return err
	}
	v, err := s.syncOf(r.Context(), scope, c)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, consentWithSync{ConsentJSON: toJSON(c, s.now()), syncView: v})
	return nil
}

var statuses = []string{connections.ConsentAwaiting, connections.ConsentAuthorized, connections.ConsentRejected,
	connections.ConsentFailed, connections.ConsentRevoked, connections.ConsentExpired, connections.ConsentReplaced}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.scope(r.Context())
	if err != nil {
		return err
	}
	q := scope.Collection(connections.CollConsents).Query
	if st := r.URL.Query().Get("status"); st != "" {
		if !slices.Contains(statuses, st) {
			return httpapi.InvalidField("status", "must be one of "+strings.Join(statuses, ", "))
		}
		q = q.Where("status", "==", st)
	}
	if b := r.URL.Query().Get("bankId"); b != "" {
		q = q.Where("bankId", "==", b)
	}
	q = q.OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	now := s.now()
	return lists.Serve(w, r, lists.Spec[lists.CreatedID, ConsentJSON]{
		Valid:    func(p lists.CreatedID) bool { return p.Is(ids.Consent) },
		Fetch:    lists.Query[lists.CreatedID](q, func(c connections.Consent) ConsentJSON { return toJSON(c, now) }),
		Position: func(c ConsentJSON) lists.CreatedID { return lists.CreatedID{CreatedAt: c.CreatedAt, ID: c.ID} },
	})
}

// delete revokes a consent: deleted at the bank (best effort: a bank outage must not keep
// Tok holding tokens the customer asked it to drop), tokens destroyed, status REVOKED.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.RoleDeveloper); err != nil {
		return err
	}
	scope, c, err := s.load(ctx, r)
	if err != nil {
		return err
	}
	now := s.now()
	switch c.Status {
	case connections.ConsentRevoked:
		httpapi.WriteJSON(w, http.StatusOK, toJSON(c, now))
		return nil
	case connections.ConsentRejected, connections.ConsentFailed, connections.ConsentReplaced:
		return httpapi.Conflict("The consent is " + c.Status + "; there is nothing to revoke.")
	case connections.ConsentAwaiting:
		// Not authorised yet: the state dies with it, so a late callback changes nothing.
		_ = s.States.Delete(ctx, c.StateHash)
		if err := markRevoked(ctx, scope, &c, now); err != nil {
			return err
		}
		s.publish(ctx, scope, connections.EventConsentRevoked, c, "deleted")
		httpapi.WriteJSON(w, http.StatusOK, toJSON(c, now))
		return nil
	}
	// AUTHORIZED or EXPIRED: the connection's current consent.
	if sess, conn, err := s.Conns.Session(ctx, scope, c.ConnectionID, nil); err == nil {
		if err := conn.DeleteConsent(ctx, sess); err != nil && connections.EndStatus(err) == "" {
			slog.WarnContext(ctx, "bank consent deletion failed; revoked at Tok", "consentId", c.ID, "error", err)
		}
	} else if !errors.Is(err, tokenvault.ErrNoTokens) && connections.EndStatus(err) == "" {
		slog.WarnContext(ctx, "no bank session to delete the consent at the bank; revoked at Tok", "consentId", c.ID, "error", err)
	}
	cx, err := s.Conns.Repo.Get(ctx, scope, c.ConnectionID)
	if err == nil && cx.ConsentID == c.ID {
		ended, _, err := s.Conns.Repo.End(ctx, scope, c.ConnectionID, connections.StatusRevoked, connections.RevokedByOrganisation, now)
		if err != nil {
			return err
		}
		c = ended
	} else {
		if err := markRevoked(ctx, scope, &c, now); err != nil {
			return err
		}
	}
	s.publish(ctx, scope, connections.EventConsentRevoked, c, "deleted")
	httpapi.WriteJSON(w, http.StatusOK, toJSON(c, now))
	return nil
}

// markRevoked marks the consent revoked at Tok alone, leaving its connection as it is.
func markRevoked(ctx context.Context, scope store.Scope, c *connections.Consent, now time.Time) error {
	ref := scope.Collection(connections.CollConsents).Doc(c.ID)
	if _, err := ref.Update(ctx, []firestore.Update{{Path: "status", Value: connections.ConsentRevoked},
		{Path: "revokedAt", Value: now}, {Path: "revokedBy", Value: connections.RevokedByOrganisation},
		{Path: "updatedAt", Value: now}}); err != nil {
		return err
	}
	c.Status, c.RevokedAt, c.RevokedBy, c.UpdatedAt = connections.ConsentRevoked, &now, connections.RevokedByOrganisation, now
	return nil
}

func (s *Server) publish(ctx context.Context, scope store.Scope, typ string, c connections.Consent, reason string) {
	if err := s.Conns.PublishConsentEvent(ctx, scope.Tenant(), typ, c, reason, s.now()); err != nil {
		slog.ErrorContext(ctx, "publish consent event", "type", typ, "consentId", c.ID, "error", err)
	}
}

// loadToAct is the start of every POST on a consent: the developer role, the consent, and
// the optional body decoded into in.
func (s *Server) loadToAct(w http.ResponseWriter, r *http.Request, in any) (store.Scope, connections.Consent, error) {
	if err := auth.Require(r.Context(), auth.RoleDeveloper); err != nil {
		return store.Scope{}, connections.Consent{}, err
	}
	scope, c, err := s.load(r.Context(), r)
	if err != nil {
		return scope, c, err
	}
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, in); err != nil {
			return scope, c, err
		}
	}
	return scope, c, nil
}

// renew starts a new SCA for the connection of an authorised or expired consent; once
// authorised the new consent replaces it and the accounts keep their IDs.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in renewRequest
	scope, c, err := s.loadToAct(w, r, &in)
	if err != nil {
		return err
	}
	st := c.EffectiveStatus(s.now())
	if st != connections.ConsentAuthorized && st != connections.ConsentExpired {
		return httpapi.Conflict("Only an AUTHORIZED or EXPIRED consent can be renewed; this one is " + st + ". Create a new consent instead.")
	}
	cx, err := s.Conns.Repo.Get(ctx, scope, c.ConnectionID)
	if err != nil {
		return err
	}
	if cx.ConsentID != c.ID || cx.Status == connections.StatusRevoked {
		return httpapi.Conflict("This consent is no longer its connection's current consent.")
	}
	b, err := s.Conns.Connectors.Bank(scope.Tenant().Env, c.BankID)
	if err != nil {
		return err
	}
	callback := c.CallbackURL
	if in.CallbackURL != "" {
		callback = in.CallbackURL
	}
	if err := s.checkCallback(ctx, scope.Tenant(), callback); err != nil {
		return err
	}
	until, err := s.validUntil(in.ValidUntil, b)
	if err != nil {
		return err
	}
	n, err := s.start(ctx, scope, b, connections.Consent{ID: ids.New(ids.Consent), Env: c.Env, OrgID: c.OrgID,
		ConnectionID: c.ConnectionID, Access: c.Access, ValidUntil: until, CallbackURL: callback, Renews: c.ID})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/consents/"+n.ID)
	httpapi.WriteJSON(w, http.StatusCreated, toJSON(n, s.now()))
	return nil
}
