// Package hostedpages is the HostedPages function: Tok's hosted pages, where a customer
// picks the bank of a consent, payment or VRP consent that the organisation created without
// one, sees what it is agreeing to (for VRP, the mandate's creditor, limits and validity),
// and goes on to the bank's SCA (public: the browser carries no API
// key, only the session's cookie; shared/hosted).
//
//	GET  /v1/hosted/{id}/open/{secret}  the single-use link: sets the session cookie, 303 to the pages
//	GET  /v1/hosted/{id}                country list (the markets with a bank offering the service)
//	GET  /v1/hosted/{id}/banks          banks of a country offering the service, with search (q)
//	POST /v1/hosted/{id}/bank           the choice: Tok asks the bank, 303 to the bank's SCA
//	POST /v1/hosted/{id}/cancel         ends the request REJECTED (denied by the customer), 303 to callbackUrl
//
// Pages are server-rendered HTML that work without JavaScript (a small script only filters
// the bank list as the customer types), under a strict nonce-based Content-Security-Policy,
// never framed, and every form carries a token derived from the session cookie.
package hostedpages

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/vrp"
)

func init() {
	platform.HTTP("HostedPages", platform.Using(connections.FromEnv, build), platform.Public(), platform.Timeout(platform.BankWait))
}

func build(ctx context.Context, env *platform.Env, conns *connections.Service, urls platform.PublicURLs) (http.Handler, error) {
	o := orgs.New(conns.Repo.Client, nil)
	ps := payments.ForConnections(conns, o, nil, urls.Live)
	return NewHandler(&Server{Sessions: hosted.Store{Client: conns.Repo.Client}, Conns: conns,
		States: authstate.Store{Client: conns.Repo.Client, Sealer: conns.Vault.Sealer}, Orgs: o,
		Payments: ps, VRP: vrp.New(ps, o), PublicURL: urls.Live}), nil
}

// Orgs reads organisations (orgs.Repo).
type Orgs interface {
	GetOrg(ctx context.Context, id string) (orgs.Org, error)
}

// Server holds the function's dependencies.
type Server struct {
	Sessions  hosted.Store
	Conns     *connections.Service
	States    authstate.Store
	Orgs      Orgs
	Payments  *payments.Service
	VRP       *vrp.Service
	PublicURL string // the API's base URL without /v1; banks redirect to PublicURL/v1/callback
	Now       func() time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// NewHandler returns the function's routes.
func NewHandler(s *Server) http.Handler {
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/hosted/{id}/open/{secret}", s.html(s.open))
	rt.Handle("GET /v1/hosted/{id}", s.html(s.countries))
	rt.Handle("GET /v1/hosted/{id}/banks", s.html(s.banks))
	rt.Handle("POST /v1/hosted/{id}/bank", s.html(s.choose))
	rt.Handle("POST /v1/hosted/{id}/cancel", s.html(s.cancel))
	return rt
}

// html answers a handler's unexpected error with the error page rather than JSON: the
// reader is a customer in a browser.
func (s *Server) html(h httpapi.HandlerFunc) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := h(w, r); err != nil {
			slog.ErrorContext(r.Context(), "hosted page failed", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal", nil)
		}
		return nil
	}
}

// pageError is an outcome the customer sees explained on the error page.
type pageError struct {
	status int
	key    string
}

func (e *pageError) Error() string { return e.key }

var (
	errUnknown   = &pageError{http.StatusNotFound, "error.unknown"}
	errUsed      = &pageError{http.StatusGone, "error.used"}
	errExpired   = &pageError{http.StatusGone, "error.expired"}
	errEnded     = &pageError{http.StatusConflict, "error.ended"}
	errForbidden = &pageError{http.StatusForbidden, "error.forbidden"}
)

// sessionError maps the session store's answers to what the customer is told.
func sessionError(err error) error {
	switch {
	case errors.Is(err, hosted.ErrUnknown):
		return errUnknown
	case errors.Is(err, hosted.ErrUsed):
		return errUsed
	case errors.Is(err, hosted.ErrExpired):
		return errExpired
	}
	return err
}

// open trades the link for the session cookie and sends the browser to the first page.
func (s *Server) open(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sess, cookie, err := s.Sessions.Open(r.Context(), id, r.PathValue("secret"), cookieOf(r), s.now())
	if err != nil {
		return s.fail(w, r, sessionError(err), nil)
	}
	if cookie != "" {
		// Secure whenever the pages are on https (everywhere but the local stack's http).
		c := &http.Cookie{Name: hosted.CookieName, Value: cookie, Path: hosted.CookiePath(sess.ID), //nolint:gosec // G124: Secure as above
			MaxAge: int(time.Until(sess.ExpiresAt).Seconds()) + 1, HttpOnly: true, Secure: secureCookies(s.PublicURL),
			SameSite: http.SameSiteLaxMode}
		http.SetCookie(w, c)
	}
	setHeaders(w, "", sess.Env)
	http.Redirect(w, r, hosted.CookiePath(sess.ID), http.StatusSeeOther)
	return nil
}

func cookieOf(r *http.Request) string {
	c, err := r.Cookie(hosted.CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// fail renders err: a pageError as its explanation, anything else as the handler's error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, v *visit) error {
	var pe *pageError
	if errors.As(err, &pe) {
		s.errorPage(w, r, pe.status, pe.key, v)
		return nil
	}
	return err
}

// visit is one request of a session's pages: the session, the browser's cookie, the
// organisation and the consent or payment awaiting its bank.
type visit struct {
	sess    hosted.Session
	cookie  string
	scope   store.Scope
	brand   brand
	texts   texts
	consent *connections.Consent
	payment *payments.Payment
	vrp     *vrp.Consent
}

// visit loads what every page of the session needs; the error is a pageError when the
// session or its request can no longer go on.
func (s *Server) visit(r *http.Request) (*visit, error) {
	ctx := r.Context()
	cookie := cookieOf(r)
	sess, err := s.Sessions.Get(ctx, r.PathValue("id"), cookie, s.now())
	if err != nil {
		return nil, sessionError(err)
	}
	v := &visit{sess: sess, cookie: cookie, scope: store.For(s.Conns.Repo.Client, sess.Tenant())}
	v.texts = textsFor(pickLocale(r, sess.Locale))
	// The organisation and the request are read at once: the page waits on both.
	var (
		org     orgs.Org
		consent connections.Consent
		payment payments.Payment
		mandate vrp.Consent
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { org, err = s.Orgs.GetOrg(gctx, sess.OrgID); return err })
	g.Go(func() (err error) {
		switch sess.Kind {
		case hosted.KindConsent:
			consent, err = s.Conns.Repo.GetConsent(gctx, v.scope, sess.ResourceID)
		case hosted.KindPayment:
			payment, err = s.Payments.Store.Get(gctx, v.scope, sess.ResourceID)
		case hosted.KindVRPConsent:
			mandate, err = s.VRP.Get(gctx, v.scope, sess.ResourceID)
		default:
			err = errors.New("hosted session of unknown kind " + sess.Kind)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	v.brand = brandOf(org)
	now := s.now()
	switch sess.Kind {
	case hosted.KindConsent:
		if consent.BankID != "" || consent.EffectiveStatus(now) != connections.ConsentAwaiting {
			return v, errEnded
		}
		v.consent = &consent
	case hosted.KindVRPConsent:
		if !vrp.AwaitingBank(mandate, now) {
			return v, errEnded
		}
		v.vrp = &mandate
	default:
		if st, _ := payment.EffectiveStatus(now); payment.BankID != "" || st != payments.StatusAwaiting {
			return v, errEnded
		}
		v.payment = &payment
	}
	return v, nil
}

// brandOf is the organisation as its customers see it: its settings' display name, logo
// and colour, else its name and Tok's colour.
func brandOf(o orgs.Org) brand {
	name := o.DisplayName
	if name == "" {
		name = o.Name
	}
	return newBrand(name, o.LogoURL, o.BrandColor)
}

// pickLocale is the switcher's choice (lang), else the request's locale field, else the
// browser's Accept-Language.
func pickLocale(r *http.Request, requested string) string {
	if l, ok := hosted.ParseLocale(r.FormValue("lang")); ok {
		return l
	}
	if requested != "" {
		return requested
	}
	return hosted.Negotiate(r.Header.Get("Accept-Language"))
}

var pageTemplates = template.Must(template.New("pages").ParseFS(pagesFS, "pages.html"))
