// Package callback is the Callback function: GET /v1/callback?code&state, where the bank's
// SCA pages send the PSU back (public: no API key; the single-use state names the tenant
// and the consent, the payment or the VRP consent; payments are completed by shared/payments,
// VRP consents by shared/vrp). It exchanges the code with PKCE, seals the tokens, fetches accounts and
// balances, authorises the consent, requests the first sync, publishes consent.authorized,
// and answers 303 to the organisation's callbackUrl with consentId and status (work that
// takes longer than a moment shows a waiting page first: waiting.go). The bank's
// denial (or its error) ends the consent REJECTED or FAILED, redirected with an error; so
// does a failure after the code was exchanged. A forged, replayed or expired state, a
// malformed redirect, or a code the bank does not exchange answers a page and changes
// nothing, leaving the state to the customer's real redirect; after
// authstate.MaxCodeAttempts codes under one state, the next consumes it unseen by the bank.
package callback

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/vrp"
)

func init() {
	platform.HTTP("Callback", platform.Using(pubsubclient.And(connections.FromEnv), build), platform.Public(), platform.Timeout(platform.BankWait))
}

func build(_ context.Context, _ *platform.Env, p pubsubclient.Publishing[*connections.Service], urls platform.PublicURLs) (http.Handler, error) {
	conns := p.Dep
	pay := payments.ForConnections(conns, nil, payments.NewPollPublisher(p.PubSub, ""), urls.Live)
	return NewHandler(&Server{Conns: conns, States: authstate.Store{Client: conns.Repo.Client, Sealer: conns.Vault.Sealer},
		Sync: banksync.NewRequestPublisher(p.PubSub, ""), PublicURL: urls.Live,
		Payments: pay, VRP: vrp.New(pay, nil)}), nil
}

// SyncRequester publishes sync requests (banksync.RequestPublisher).
type SyncRequester interface {
	Publish(ctx context.Context, req banksync.Request) error
}

// Server holds the function's dependencies.
type Server struct {
	Conns     *connections.Service
	States    authstate.Store
	Sync      SyncRequester
	PublicURL string
	Now       func() time.Time
	// Payments completes payment authorisations (states that name a payment).
	Payments *payments.Service
	// VRP completes VRP consent authorisations (states that name a VRP consent).
	VRP *vrp.Service
	// Patience is how long the work may hold the browser without a byte before it gets the
	// waiting page (DefaultPatience when zero).
	Patience time.Duration
}

func (s *Server) now() time.Time { return clock.Stored(s.Now) }

// NewHandler returns the function's route.
func NewHandler(s *Server) http.Handler {
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/callback", s.patient(s.callback))
	rt.Handle("GET /v1/callback/outcomes/{ticket}", s.outcome)
	return rt
}

var page = template.Must(template.New("p").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Tok</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style>
</head><body><main><h1 id="title">{{.Title}}</h1><p id="message">{{.Message}}</p>
<p><small>Request ID: {{.RequestID}}</small></p></main></body></html>
`))

func writePage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	nonce := setPageHeaders(w)
	w.WriteHeader(status)
	_ = page.Execute(w, map[string]string{"Title": title, "Message": msg, "RequestID": httpapi.RequestID(r.Context()), "Nonce": nonce})
}

func badState(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, http.StatusBadRequest, "This link is no longer valid",
		"The bank authorisation could not be matched to a pending request: it was already used, it expired, or it was not issued by Tok. Go back to the application and connect your bank again.")
}

func redirect(w http.ResponseWriter, r *http.Request, callbackURL, consentID, status, errCode string) error {
	to, err := callbackurl.Redirect(callbackURL, "consentId", consentID, "status", status, "error", errCode)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// notAnswer is the page for a redirect that carries no bank answer fitting its state.
func notAnswer(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, http.StatusBadRequest, "The bank's answer could not be read",
		"This address does not carry an answer from the bank for a pending request, so nothing was changed. Go back to the application and try again.")
}

// attemptsSpent is the page for a code tried after the state's attempts were spent.
func attemptsSpent(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, http.StatusBadRequest, "Too many attempts",
		"Too many bank answers were tried for this request, so it was closed and nothing was changed. Go back to the application and connect your bank again.")
}

// bankDidNotAnswer is the page for a code the bank could not exchange because it failed.
func bankDidNotAnswer(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, http.StatusBadGateway, "The bank did not answer",
		"Your bank did not answer in time, so nothing was changed. Try again in a moment.")
}

// redirectQuery parses the bank's redirect: one state of at most authstate.MaxLen (else
// badState, false) and a well-formed code or error (bank.CheckRedirect; else notAnswer,
// false). Either refusal changes nothing.
func redirectQuery(r *http.Request) (url.Values, func(http.ResponseWriter, *http.Request), bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, notAnswer, false
	}
	if len(q["state"]) != 1 || len(q.Get("state")) > authstate.MaxLen {
		return nil, badState, false
	}
	if bank.CheckRedirect(q) != nil {
		return nil, notAnswer, false
	}
	return q, nil, true
}

// callback handles the bank's redirect. The state is only peeked at first: it is consumed
// once the redirect carries an answer that fits it (a denial, or a code the bank exchanges
// under the state's PKCE verifier). A forged, malformed or mismatched redirect is a 400
// that changes nothing, and leaves the state to the customer's real redirect.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, refuse, ok := redirectQuery(r)
	if !ok {
		slog.WarnContext(ctx, "callback without a well-formed state and bank answer")
		refuse(w, r)
		return nil
	}
	repo := s.Conns.Repo
	st, err := s.States.Peek(ctx, q.Get("state"), s.now())
	if errors.Is(err, authstate.ErrBadState) {
		slog.WarnContext(ctx, "callback with an unknown, used or expired state")
		badState(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	if bank.AuthorizationError(q) == nil {
		// A code: counted before it reaches the bank, whatever the state authorises.
		if err := s.States.Attempt(ctx, q.Get("state"), s.now()); err != nil {
			if errors.Is(err, authstate.ErrAttemptsSpent) {
				slog.WarnContext(ctx, "callback code attempts spent; the state is consumed")
				attemptsSpent(w, r)
				return nil
			}
			return s.lostState(w, r, err)
		}
	}
	take := func(ctx context.Context) error {
		_, err := s.States.Consume(ctx, q.Get("state"), s.now())
		return err
	}
	if st.PaymentID != "" {
		return s.payment(w, r, st, q, take)
	}
	if st.VRPConsentID != "" {
		return s.vrpConsent(w, r, st)
	}
	scope := store.For(repo.Client, st.Tenant())
	c, err := repo.GetConsent(ctx, scope, st.ConsentID)
	if err != nil {
		return err
	}
	if c.Status != connections.ConsentAwaiting {
		badState(w, r)
		return nil
	}
	ctx = slogWith(ctx, c)
	if authErr := bank.AuthorizationError(q); authErr != nil {
		status, code := connections.ConsentFailed, "bank_error"
		if bank.KindOf(authErr) == bank.Rejected {
			status, code = connections.ConsentRejected, "access_denied"
		}
		if err := take(ctx); err != nil {
			return s.lostState(w, r, err)
		}
		slog.InfoContext(ctx, "consent not authorised at the bank", "status", status, "error", authErr)
		return s.fail(ctx, w, r, scope, c, status, code)
	}
	verifier, err := s.States.OpenVerifier(ctx, st)
	if err != nil {
		return err
	}
	conn, err := s.Conns.Connectors.For(st.Env, c.BankID)
	if err != nil {
		return err
	}
	b, err := s.Conns.Connectors.Bank(st.Env, c.BankID)
	if err != nil {
		return err
	}
	tokens, err := conn.ExchangeCode(ctx, q.Get("code"), string(verifier), strings.TrimSuffix(s.PublicURL, "/")+"/v1/callback")
	clear(verifier)
	if err != nil {
		return codeNotExchanged(ctx, w, r, err)
	}
	if err := take(ctx); err != nil {
		return s.lostState(w, r, err)
	}
	sess := bank.Session{BankConsentID: c.BankConsentID, AccessToken: tokens.AccessToken, PSUPresent: true, PSUIPAddress: httpapi.ClientIP(r)}
	accts, err := conn.Accounts(ctx, sess)
	if err != nil {
		slog.WarnContext(ctx, "account list failed after authorisation", "error", err)
		return s.fail(ctx, w, r, scope, c, connections.ConsentFailed, "bank_error")
	}
	now := s.now()
	cx := connections.Connection{
		ID: c.ConnectionID, Env: st.Env, OrgID: st.OrgID, BankID: c.BankID, ConsentID: c.ID, BankConsentID: c.BankConsentID,
		Status: connections.StatusActive, Access: c.Access, ValidUntil: c.ValidUntil, FrequencyPerDay: c.FrequencyPerDay,
		TokenExpiresAt: tokens.ExpiresAt.UTC(), CreatedAt: now, UpdatedAt: now,
	}
	accounts := make([]connections.Account, 0, len(accts))
	for _, a := range accts {
		var bals []bank.Balance
		if slices.Contains(c.Access, bank.AccessBalances) {
			if bals, err = conn.Balances(ctx, sess, a.ResourceID); err != nil {
				slog.WarnContext(ctx, "balances failed after authorisation; the first sync will fetch them", "error", err)
				bals = nil
			}
		}
		accounts = append(accounts, connections.NewAccount(scope, b, cx, a, bals, now))
	}
	if cx.Tokens, err = s.Conns.SealTokens(ctx, st.OrgID, cx.ID, tokens); err != nil {
		return err
	}
	var prior connections.Consent
	err = repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		prior = connections.Consent{}
		kref := scope.Collection(connections.CollConsents).Doc(c.ID)
		cref := scope.Collection(connections.CollConnections).Doc(cx.ID)
		cur, err := store.GetTx[connections.Consent](tx, kref, "consent "+c.ID, connections.ErrNotFound)
		if err != nil {
			return err
		}
		if cur.Status != connections.ConsentAwaiting {
			return errNotAwaiting
		}
		row := cx
		var pref *firestore.DocumentRef
		if cs, err := tx.Get(cref); err == nil {
			var old connections.Connection
			if err := cs.DataTo(&old); err != nil {
				return err
			}
			row.CreatedAt, row.LastSyncAt, row.NextSyncAt = old.CreatedAt, old.LastSyncAt, old.NextSyncAt
			if old.ConsentID != "" && old.ConsentID != c.ID {
				pref = scope.Collection(connections.CollConsents).Doc(old.ConsentID)
				if prior, err = store.GetTx[connections.Consent](tx, pref, "consent "+old.ConsentID, connections.ErrNotFound); err != nil {
					return err
				}
			}
		} else if !isNotFound(err) {
			return err
		}
		if err := connections.UpsertAccounts(tx, scope, accounts); err != nil {
			return err
		}
		if err := tx.Set(cref, row); err != nil {
			return err
		}
		if err := tx.Update(kref, []firestore.Update{{Path: "status", Value: connections.ConsentAuthorized},
			{Path: "authorizedAt", Value: now}, {Path: "updatedAt", Value: now}}); err != nil {
			return err
		}
		if pref != nil {
			return tx.Update(pref, []firestore.Update{{Path: "status", Value: connections.ConsentReplaced},
				{Path: "replacedBy", Value: c.ID}, {Path: "updatedAt", Value: now}})
		}
		return nil
	})
	if errors.Is(err, errNotAwaiting) {
		badState(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	c.Status, c.AuthorizedAt, c.UpdatedAt = connections.ConsentAuthorized, &now, now
	slog.InfoContext(ctx, "consent authorised", "accounts", len(accounts), "renewed", prior.ID)
	reason := "authorized"
	if prior.ID != "" {
		reason = "renewed"
	}
	if s.Sync != nil {
		if err := s.Sync.Publish(ctx, banksync.Request{Env: st.Env, OrgID: st.OrgID, ConnectionID: cx.ID, Attended: true, Reason: reason}); err != nil {
			slog.ErrorContext(ctx, "first sync request not published; the scheduler will pick the connection up", "error", err)
		}
	}
	s.publish(ctx, scope, connections.EventConsentAuthorized, c, "")
	return redirect(w, r, c.CallbackURL, c.ID, connections.ConsentAuthorized, "")
}

var errNotAwaiting = errors.New("consent no longer awaiting authorisation")

// codeNotExchanged answers a code the bank did not exchange, changing nothing: a 400 when
// the bank refused it (a code of another authorisation, expired, made up), a 502 when the
// bank failed.
func codeNotExchanged(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) error {
	slog.WarnContext(ctx, "code not exchanged; nothing changed", "error", err)
	if bank.KindOf(err) == bank.Unavailable {
		bankDidNotAnswer(w, r)
		return nil
	}
	notAnswer(w, r)
	return nil
}

// lostState answers a state another callback consumed between the peek and the take.
func (s *Server) lostState(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, authstate.ErrBadState) {
		badState(w, r)
		return nil
	}
	return err
}

// payment records a payment's SCA result and sends the browser to its callbackUrl with
// paymentId and status.
func (s *Server) payment(w http.ResponseWriter, r *http.Request, st authstate.State, q url.Values, take func(context.Context) error) error {
	if s.Payments == nil {
		return errors.New("callback: a payment state, but no payment service")
	}
	to, err := s.Payments.Authorise(r.Context(), st, q, httpapi.ClientIP(r), take)
	return s.lostState(w, r, toCallback(w, r, to, err, payments.ErrNotAwaiting, payments.ErrNotFound))
}

// vrpConsent records a VRP consent's SCA result and sends the browser to its callbackUrl
// with vrpConsentId and status.
func (s *Server) vrpConsent(w http.ResponseWriter, r *http.Request, st authstate.State) error {
	if s.VRP == nil {
		return errors.New("callback: a VRP consent state, but no VRP service")
	}
	to, err := s.VRP.Authorise(r.Context(), st, r.URL.Query())
	return toCallback(w, r, to, err, vrp.ErrNotAwaiting, vrp.ErrNotFound)
}

// toCallback answers the recording of an SCA result that returned to and err: the browser
// goes to to. A resource that no longer awaits its authorisation, or is gone (err is one
// of settled), is the bad-state page; a code the bank did not exchange changes nothing.
// Any other error is returned.
func toCallback(w http.ResponseWriter, r *http.Request, to string, err error, settled ...error) error {
	switch {
	case slices.ContainsFunc(settled, func(s error) bool { return errors.Is(err, s) }):
		badState(w, r)
		return nil
	case errors.Is(err, payments.ErrCodeNotExchanged):
		return codeNotExchanged(r.Context(), w, r, err)
	case err != nil:
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	// The target is the resource's callbackUrl, checked against the organisation's allowed
	// origins when the resource was created.
	http.Redirect(w, r, to, http.StatusSeeOther) //nolint:gosec // G710: see above
	return nil
}

func (s *Server) fail(ctx context.Context, w http.ResponseWriter, r *http.Request, scope store.Scope, c connections.Consent, status, code string) error {
	now := s.now()
	ref := scope.Collection(connections.CollConsents).Doc(c.ID)
	err := s.Conns.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		cur, err := store.GetTx[connections.Consent](tx, ref, "consent "+c.ID, connections.ErrNotFound)
		if err != nil {
			return err
		}
		if cur.Status != connections.ConsentAwaiting {
			return errNotAwaiting
		}
		return tx.Update(ref, []firestore.Update{{Path: "status", Value: status}, {Path: "error", Value: code}, {Path: "updatedAt", Value: now}})
	})
	if errors.Is(err, errNotAwaiting) {
		badState(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	c.Status, c.Error, c.UpdatedAt = status, code, now
	typ := connections.EventConsentRejected
	if status == connections.ConsentFailed {
		typ = connections.EventConsentFailed
	}
	s.publish(ctx, scope, typ, c, code)
	return redirect(w, r, c.CallbackURL, c.ID, status, code)
}

func (s *Server) publish(ctx context.Context, scope store.Scope, typ string, c connections.Consent, reason string) {
	if err := s.Conns.PublishConsentEvent(ctx, scope.Tenant(), typ, c, reason, s.now()); err != nil {
		slog.ErrorContext(ctx, "publish consent event", "type", typ, "error", err)
	}
}
