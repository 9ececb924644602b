package hostedpages

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"cloud.google.com/go/firestore"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/vrp"
)

// maxForm bounds a form post: a token, a bank ID and a language.
const maxForm = 4 << 10

// offered lists the banks of the visit's environment that can take its request: a
// configured connector, the service asked and, for a payment, its currency and amount.
func (s *Server) offered(v *visit, country string) []bankcatalog.Bank {
	var out []bankcatalog.Bank
	for _, b := range s.Conns.Connectors.Catalogue.List(v.sess.Env, country, v.service()) {
		if b.Configured && (v.payment == nil || payments.Offers(*v.payment, b)) {
			out = append(out, b)
		}
	}
	return out
}

// countries is the first page: the markets of the catalogue with a bank for the request.
func (s *Server) countries(w http.ResponseWriter, r *http.Request) error {
	v, err := s.visit(r)
	if err != nil {
		return s.fail(w, r, err, v)
	}
	p := newPage(r, "country", v)
	p.Title, p.CSRF = v.texts.S("title.country"), hosted.CSRF(v.cookie)
	p.withSummary(v)
	seen := map[string]bool{}
	for _, b := range s.offered(v, "") {
		if !seen[b.Country] {
			seen[b.Country] = true
			q := url.Values{"country": {b.Country}, "lang": {v.texts.Locale()}}
			p.Countries = append(p.Countries, choice{Code: b.Country, Name: v.texts.S("country." + b.Country), Href: p.Base + "/banks?" + q.Encode()})
		}
	}
	col := collate.New(language.Make(v.texts.Locale()))
	slices.SortFunc(p.Countries, func(a, b choice) int { return col.CompareString(a.Name, b.Name) })
	render(w, r, http.StatusOK, p, v.sess.Env)
	return nil
}

// banks lists the banks of a country for the request, filtered by the search q.
func (s *Server) banks(w http.ResponseWriter, r *http.Request) error {
	v, err := s.visit(r)
	if err != nil {
		return s.fail(w, r, err, v)
	}
	country := strings.ToUpper(r.URL.Query().Get("country"))
	query := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(query) > 80 {
		query = query[:80]
	}
	p := newPage(r, "banks", v)
	p.Title, p.CSRF, p.Country, p.Query = v.texts.S("title.banks"), hosted.CSRF(v.cookie), country, query
	p.withSummary(v)
	needle := strings.ToLower(query)
	for _, b := range s.offered(v, country) {
		name := strings.ToLower(b.Name)
		if needle == "" || strings.Contains(name, needle) || strings.Contains(b.ID, needle) || strings.Contains(strings.ToLower(b.BIC), needle) {
			p.Banks = append(p.Banks, bankChoice{ID: b.ID, Name: b.Name, Search: name + " " + b.ID + " " + strings.ToLower(b.BIC)})
		}
	}
	render(w, r, http.StatusOK, p, v.sess.Env)
	return nil
}

// postVisit reads a form post of the session and checks its anti-forgery token.
func (s *Server) postVisit(w http.ResponseWriter, r *http.Request) (*visit, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, errForbidden
	}
	v, err := s.visit(r)
	if err != nil {
		return v, err
	}
	if !hosted.CheckCSRF(v.cookie, r.PostFormValue("csrf")) {
		return v, errForbidden
	}
	return v, nil
}

// choose starts the request at the customer's bank and sends the browser to its SCA.
func (s *Server) choose(w http.ResponseWriter, r *http.Request) error {
	v, err := s.postVisit(w, r)
	if err != nil {
		return s.fail(w, r, err, v)
	}
	bankID := r.PostFormValue("bankId")
	if !bankIDValid(bankID) || !slices.ContainsFunc(s.offered(v, ""), func(b bankcatalog.Bank) bool { return b.ID == bankID }) {
		return s.fail(w, r, errForbidden, v)
	}
	return s.finishThenRedirect(w, r, v, func(finish func(*firestore.Transaction) error) (string, error) {
		switch {
		case v.consent != nil:
			return s.consentAtBank(r.Context(), v, bankID, finish)
		case v.vrp != nil:
			return s.VRP.ChooseBank(r.Context(), v.scope, v.vrp.ID, bankID, httpapi.ClientIP(r), finish)
		}
		return s.Payments.ChooseBank(r.Context(), v.scope, v.payment.ID, bankID, httpapi.ClientIP(r), finish)
	})
}

// finishThenRedirect runs the customer's step, which ends the session (finish) in the
// transaction that changes the request, and sends the browser where the step leads.
func (s *Server) finishThenRedirect(w http.ResponseWriter, r *http.Request, v *visit, step func(finish func(*firestore.Transaction) error) (string, error)) error {
	to, err := step(func(tx *firestore.Transaction) error { return s.Sessions.Finish(tx, v.sess.ID, v.cookie, s.now()) })
	if err != nil {
		return s.fail(w, r, s.outcome(err), v)
	}
	setHeaders(w, "", v.sess.Env)
	// The target is the bank's SCA page from the catalogue bank's answer, or the request's
	// callbackUrl, checked against the organisation's origins when it was created.
	http.Redirect(w, r, to, http.StatusSeeOther) //nolint:gosec // G710: see above
	return nil
}

// outcome maps the errors of going on to the bank to what the customer is told.
func (s *Server) outcome(err error) error {
	var api *httpapi.Error
	switch {
	case errors.Is(err, payments.ErrNotAwaiting), errors.Is(err, vrp.ErrNotAwaiting), errors.Is(err, errConsentEnded):
		return errEnded
	case errors.Is(err, hosted.ErrUnknown), errors.Is(err, hosted.ErrUsed), errors.Is(err, hosted.ErrExpired):
		return sessionError(err)
	case errors.As(err, &api) && (api.FromBank || api.Status == http.StatusBadGateway || api.Status == http.StatusServiceUnavailable):
		return &pageError{http.StatusBadGateway, "error.bank"}
	}
	return err
}

var errConsentEnded = errors.New("hosted: the consent no longer awaits its bank")

// consentAtBank asks the bank for the visit's consent and records the choice with its
// single-use state, ending the session in the same transaction; it returns the bank's SCA
// page.
func (s *Server) consentAtBank(ctx context.Context, v *visit, bankID string, finish func(*firestore.Transaction) error) (string, error) {
	b, err := s.Conns.Connectors.Bank(v.sess.Env, bankID)
	if err != nil {
		return "", err
	}
	now := s.now()
	c := *v.consent
	if max := now.AddDate(0, 0, connections.MaxConsentDays(b)); c.ValidUntil.After(max) {
		c.ValidUntil = max
	}
	c, st, err := s.Conns.AtBank(ctx, s.States, b, c, strings.TrimSuffix(s.PublicURL, "/")+"/v1/callback", now)
	if err != nil {
		return "", err
	}
	err = s.updateConsent(ctx, v, finish, func(tx *firestore.Transaction, ref *firestore.DocumentRef) error {
		if err := tx.Set(ref, c); err != nil {
			return err
		}
		return s.States.Create(tx, c.StateHash, st)
	})
	if err != nil {
		return "", err
	}
	return c.RedirectURL, nil
}

// updateConsent runs write in a transaction in which the visit's consent still awaits its
// bank and the session ends (finish).
func (s *Server) updateConsent(ctx context.Context, v *visit, finish func(*firestore.Transaction) error,
	write func(tx *firestore.Transaction, ref *firestore.DocumentRef) error) error {
	ref := v.scope.Collection(connections.CollConsents).Doc(v.consent.ID)
	return s.Conns.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		cur, err := store.GetTx[connections.Consent](tx, ref, "consent "+v.consent.ID, connections.ErrNotFound)
		if err != nil {
			return err
		}
		if cur.BankID != "" || cur.EffectiveStatus(s.now()) != connections.ConsentAwaiting {
			return errConsentEnded
		}
		if err := finish(tx); err != nil {
			return err
		}
		return write(tx, ref)
	})
}

// cancel ends the request as the customer asked and sends the browser to the callbackUrl:
// a consent REJECTED with error access_denied, a payment or VRP consent REJECTED with
// DENIED_BY_USER.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) error {
	v, err := s.postVisit(w, r)
	if err != nil {
		return s.fail(w, r, err, v)
	}
	ctx := r.Context()
	return s.finishThenRedirect(w, r, v, func(finish func(*firestore.Transaction) error) (string, error) {
		switch {
		case v.consent != nil:
			return s.denyConsent(ctx, v, finish)
		case v.vrp != nil:
			return s.VRP.Deny(ctx, v.scope, v.vrp.ID, finish)
		}
		return s.Payments.Deny(ctx, v.scope, v.payment.ID, finish)
	})
}

// consentDenied is the consent's error when the customer cancelled, as when they deny at
// the bank.
const consentDenied = "access_denied"

func (s *Server) denyConsent(ctx context.Context, v *visit, finish func(*firestore.Transaction) error) (string, error) {
	now := s.now()
	c := *v.consent
	err := s.updateConsent(ctx, v, finish, func(tx *firestore.Transaction, ref *firestore.DocumentRef) error {
		return tx.Update(ref, []firestore.Update{{Path: "status", Value: connections.ConsentRejected},
			{Path: "error", Value: consentDenied}, {Path: "updatedAt", Value: now}})
	})
	if err != nil {
		return "", err
	}
	c.Status, c.Error, c.UpdatedAt = connections.ConsentRejected, consentDenied, now
	if err := s.Conns.PublishConsentEvent(ctx, v.sess.Tenant(), connections.EventConsentRejected, c, consentDenied, now); err != nil {
		slog.ErrorContext(ctx, "publish consent event", "type", connections.EventConsentRejected, "consentId", c.ID, "error", err)
	}
	return callbackurl.Redirect(c.CallbackURL, "consentId", c.ID, "status", c.Status, "error", consentDenied)
}
