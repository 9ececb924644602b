package sandboxbank

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/random"
)

// Lifetimes of the OAuth artefacts.
const (
	authRequestTTL = 15 * time.Minute
	codeTTL        = 2 * time.Minute
	maxLoginTries  = 5
)

// authRequest is one SCA session across the authorize pages.
type authRequest struct {
	ClientID    string    `firestore:"clientId"`
	RedirectURI string    `firestore:"redirectUri"`
	State       string    `firestore:"state"`
	Challenge   string    `firestore:"challenge"`
	Service     string    `firestore:"service"` // AIS, PIS or VRP
	ResourceID  string    `firestore:"resourceId"`
	Step        string    `firestore:"step"` // login, otp, decision, done
	Persona     string    `firestore:"persona"`
	Tries       int       `firestore:"tries"`
	Expires     time.Time `firestore:"expires"`
}

// grant is an authorization code (by hash): single use, short-lived.
type grant struct {
	ClientID    string    `firestore:"clientId"`
	RedirectURI string    `firestore:"redirectUri"`
	Challenge   string    `firestore:"challenge"`
	Service     string    `firestore:"service"`
	ResourceID  string    `firestore:"resourceId"`
	Persona     string    `firestore:"persona"`
	Expires     time.Time `firestore:"expires"`
	Used        bool      `firestore:"used"`
}

// tokenRecord is an access or refresh token (by hash).
type tokenRecord struct {
	Type       string    `firestore:"type"` // access or refresh
	ClientID   string    `firestore:"clientId"`
	Service    string    `firestore:"service"`
	ResourceID string    `firestore:"resourceId"`
	Persona    string    `firestore:"persona"`
	Expires    time.Time `firestore:"expires"`
	Used       bool      `firestore:"used"` // a rotated refresh token
}

// metadata serves the OAuth 2.0 Authorization Server Metadata (RFC 8414), the target of
// the Berlin Group scaOAuth link.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request, b bankInfo) {
	base := baseURL(r, b)
	writeJSON(w, 200, map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/oauth2/authorize",
		"token_endpoint":                        base + "/oauth2/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"AIS:<consentId>", "PIS:<paymentId>", "VRP:<mandateId>"},
	})
}

// authorize starts the SCA: it checks the OAuth request and shows the login page.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, b bankInfo) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" || q.Get("client_id") == "" {
		// Without a trustworthy redirect URI the error is shown, never redirected (RFC 6749 4.1.2.1).
		s.page(w, http.StatusBadRequest, b, pageData{Title: "Invalid request", Error: "The request has no valid client_id or redirect_uri."})
		return
	}
	fail := func(code, desc string) {
		redirectWith(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}, "state": {q.Get("state")}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "PKCE with code_challenge_method S256 is required")
		return
	}
	service, resource, _ := strings.Cut(q.Get("scope"), ":")
	ctx := r.Context()
	sub, err := s.scaSubject(ctx, b, service, resource)
	if errors.Is(err, errScope) {
		fail("invalid_scope", "scope must be AIS:<consentId>, PIS:<paymentId> or VRP:<mandateId>")
		return
	}
	if err != nil {
		fail("invalid_scope", "unknown "+sub.noun)
		return
	}
	if sub.status != sub.awaiting {
		fail("invalid_request", "the "+sub.noun+" is not awaiting authorisation")
		return
	}
	if sub.redirectURI != "" && sub.redirectURI != redirect {
		s.page(w, http.StatusBadRequest, b, pageData{Title: "Invalid request", Error: "redirect_uri does not match the TPP-Redirect-URI of the " + sub.noun + "."})
		return
	}
	id := random.Token(24)
	ar := authRequest{ClientID: q.Get("client_id"), RedirectURI: redirect, State: q.Get("state"),
		Challenge: q.Get("code_challenge"), Service: service, ResourceID: resource, Step: "login",
		Expires: s.now().Add(authRequestTTL)}
	if err := s.opts.Store.Create(ctx, b.ID, kindAuthReqs, id, &ar); err != nil {
		s.page(w, http.StatusServiceUnavailable, b, pageData{Title: "Try again", Error: "The bank could not start the sign-in. Please try again."})
		return
	}
	s.page(w, 200, b, pageData{Title: "Sign in", Step: "login", Req: id})
}

// scaSubject is what the authorisation of the resource a scope names checks: it exists,
// awaits authorisation, and was created with the redirect URI of the request.
type scaSubject struct {
	noun             string // consent, payment, mandate
	status, awaiting string // its status, and the one that awaits authorisation
	redirectURI      string // its TPP-Redirect-URI, "" when none was given
}

// errScope is a scope of no service the bank authorises.
var errScope = errors.New("unknown scope")

// scaSubject reads the resource id of service (AIS, PIS, VRP); a read failure keeps the noun.
func (s *Server) scaSubject(ctx context.Context, b bankInfo, service, id string) (scaSubject, error) {
	switch service {
	case "AIS":
		var c consentRecord
		err := s.opts.Store.Get(ctx, b.ID, kindConsents, id, &c)
		return scaSubject{noun: "consent", status: c.effectiveStatus(s.now()), awaiting: "received", redirectURI: c.RedirectURI}, err
	case "PIS":
		var p paymentRecord
		err := s.opts.Store.Get(ctx, b.ID, kindPayments, id, &p)
		return scaSubject{noun: "payment", status: p.Status, awaiting: "RCVD", redirectURI: p.RedirectURI}, err
	case "VRP":
		var m mandateRecord
		err := s.opts.Store.Get(ctx, b.ID, kindMandates, id, &m)
		return scaSubject{noun: "mandate", status: m.Status, awaiting: "received", redirectURI: m.RedirectURI}, err
	}
	return scaSubject{}, errScope
}

// errGrant is a code or refresh token that cannot be used.
var errGrant = errors.New("invalid_grant")

// spend uses a single-use record (kind/key: a code, a refresh token) once: in one
// transaction, when usable finds it so, it is marked used. One unusable (unknown, used,
// expired, another client's) is 400 invalid_grant with text. It writes the errors itself.
func (s *Server) spend(ctx context.Context, w http.ResponseWriter, b bankInfo, kind, key string, v any, used *bool, usable func(exists bool) bool, text string) bool {
	err := s.opts.Store.Update(ctx, b.ID, kind, key, v, func(exists bool) error {
		if !usable(exists) {
			return errGrant
		}
		*used = true
		return nil
	})
	if errors.Is(err, errGrant) {
		oauthError(w, 400, "invalid_grant", text)
		return false
	}
	if err != nil {
		s.internal(w, err)
		return false
	}
	return true
}

func redirectWith(w http.ResponseWriter, r *http.Request, target string, v url.Values) {
	u, _ := url.Parse(target)
	q := u.Query()
	for k, vs := range v {
		if len(vs) > 0 && vs[0] != "" {
			q.Set(k, vs[0])
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	// The target is the redirect_uri fixed when the authorisation request was created.
	http.Redirect(w, r, u.String(), http.StatusFound) //nolint:gosec // G710: see above
}

// advance runs one step of the SCA session in a transaction; it renders errors itself.
func (s *Server) advance(w http.ResponseWriter, r *http.Request, b bankInfo, step string, fn func(ar *authRequest) (pageData, error)) (*authRequest, pageData, bool) {
	id := r.PostFormValue("req")
	var ar authRequest
	var pd pageData
	errExpired := errors.New("expired")
	err := s.opts.Store.Update(r.Context(), b.ID, kindAuthReqs, id, &ar, func(exists bool) error {
		if !exists || id == "" || ar.Step != step || s.now().After(ar.Expires) {
			return errExpired
		}
		var err error
		pd, err = fn(&ar)
		return err
	})
	switch {
	case errors.Is(err, errExpired):
		s.page(w, http.StatusBadRequest, b, pageData{Title: "Session expired", Error: "This sign-in is no longer valid. Go back to the application and start again."})
		return nil, pd, false
	case err != nil:
		s.page(w, http.StatusServiceUnavailable, b, pageData{Title: "Try again", Error: "The bank could not process this step. Please try again."})
		return nil, pd, false
	}
	pd.Req = id
	return &ar, pd, true
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, b bankInfo) {
	user := strings.TrimSpace(r.PostFormValue("username"))
	pass := r.PostFormValue("password")
	ar, pd, ok := s.advance(w, r, b, "login", func(ar *authRequest) (pageData, error) {
		p, known := personas[user]
		if !known || subtle.ConstantTimeCompare([]byte(p.Password), []byte(pass)) != 1 {
			ar.Tries++
			if ar.Tries >= maxLoginTries {
				ar.Step = "done"
				return pageData{Title: "Locked", Error: "Too many failed sign-in attempts."}, nil
			}
			return pageData{Title: "Sign in", Step: "login", Error: "Unknown username or wrong password."}, nil
		}
		ar.Persona, ar.Step = user, "otp"
		return pageData{Title: "One-time code", Step: "otp", Persona: p.Owner}, nil
	})
	if !ok {
		return
	}
	_ = ar
	status := 200
	if pd.Error != "" {
		status = http.StatusUnauthorized
	}
	s.page(w, status, b, pd)
}

func (s *Server) otp(w http.ResponseWriter, r *http.Request, b bankInfo) {
	code := strings.TrimSpace(r.PostFormValue("otp"))
	ar, pd, ok := s.advance(w, r, b, "otp", func(ar *authRequest) (pageData, error) {
		if subtle.ConstantTimeCompare([]byte(code), []byte(OneTimeCode)) != 1 {
			ar.Tries++
			if ar.Tries >= maxLoginTries {
				ar.Step = "done"
				return pageData{Title: "Locked", Error: "Too many wrong codes."}, nil
			}
			return pageData{Title: "One-time code", Step: "otp", Error: "The code is not correct."}, nil
		}
		ar.Step = "decision"
		return pageData{Title: "Confirm", Step: "decision"}, nil
	})
	if !ok {
		return
	}
	if pd.Step == "decision" {
		pd = s.decisionPage(r, b, ar, pd.Req)
	}
	status := 200
	if pd.Error != "" {
		status = http.StatusUnauthorized
	}
	s.page(w, status, b, pd)
}

// decisionPage describes what the PSU is asked to approve.
func (s *Server) decisionPage(r *http.Request, b bankInfo, ar *authRequest, req string) pageData {
	pd := pageData{Title: "Confirm", Step: "decision", Req: req, Persona: personas[ar.Persona].Owner}
	if ar.Service == "AIS" {
		var c consentRecord
		_ = s.opts.Store.Get(r.Context(), b.ID, kindConsents, ar.ResourceID, &c)
		pd.Service = "AIS"
		pd.Scopes = []string{"See your accounts"}
		if c.Balances {
			pd.Scopes = append(pd.Scopes, "See your balances")
		}
		if c.Transactions {
			pd.Scopes = append(pd.Scopes, "See your transactions")
		}
		pd.ValidUntil = c.ValidUntil
		for _, a := range accountsOf(b, ar.Persona) {
			pd.Accounts = append(pd.Accounts, a.Name+" · "+a.IBAN+" · "+a.Currency)
		}
		return pd
	}
	if ar.Service == "VRP" {
		return s.mandatePage(r, b, ar, pd)
	}
	var p paymentRecord
	_ = s.opts.Store.Get(r.Context(), b.ID, kindPayments, ar.ResourceID, &p)
	pd.Service = "PIS"
	pd.Payment = p.Amount + " " + p.Currency + " to " + p.CreditorName + " (" + p.CreditorIBAN + ")"
	if p.Service == serviceBulk {
		pd.Payment = fmt.Sprintf("%d payments, %s %s in total, from %s", len(p.Items), p.Amount, p.Currency, p.DebtorIBAN)
	}
	if p.Remittance != "" {
		pd.Payment += " · " + p.Remittance
	}
	return pd
}

func (s *Server) decision(w http.ResponseWriter, r *http.Request, b bankInfo) {
	approve := r.PostFormValue("decision") == "approve"
	code := random.Token(32)
	ar, _, ok := s.advance(w, r, b, "decision", func(ar *authRequest) (pageData, error) {
		ar.Step = "done"
		return pageData{}, nil
	})
	if !ok {
		return
	}
	ctx := r.Context()
	if ar.Persona == PersonaDeny {
		approve = false
	}
	// The resource changes state first; the code is only issued once that is stored.
	var err error
	unavailable := false
	switch ar.Service {
	case "AIS":
		var c consentRecord
		err = s.opts.Store.Update(ctx, b.ID, kindConsents, ar.ResourceID, &c, func(exists bool) error {
			if !exists || c.Status != "received" {
				return errors.New("consent not awaiting authorisation")
			}
			c.Status, c.Persona = "rejected", ar.Persona
			if approve {
				c.Status = "valid"
			}
			return nil
		})
	case "PIS":
		var p paymentRecord
		err = s.opts.Store.Update(ctx, b.ID, kindPayments, ar.ResourceID, &p, func(exists bool) error {
			if !exists || p.Status != "RCVD" {
				return errors.New("payment not awaiting authorisation")
			}
			p.Persona = ar.Persona
			switch {
			case !approve:
				p.Status = "RJCT"
				p.Reason = "Authorisation denied by the PSU."
			case ar.Persona == PersonaDown:
				// The bank's payment engine is down: the authorisation cannot complete.
				unavailable = true
			default:
				if reason := s.checkPayment(b, &p); reason != "" {
					p.Status, p.Reason = "RJCT", reason
				} else if p.ExecutionDate != "" && p.ExecutionDate > s.now().Format(time.DateOnly) {
					p.Status, p.Authorised = "ACCP", s.now()
				} else {
					p.Status, p.Authorised = "ACSP", s.now()
				}
			}
			return nil
		})
	case "VRP":
		err = s.decideMandate(r, b, ar, approve)
	}
	if err == nil && !unavailable && ar.Service == "PIS" && approve {
		err = s.bookAuthorised(ctx, b, ar.ResourceID)
	}
	if err != nil || unavailable {
		redirectWith(w, r, ar.RedirectURI, url.Values{"error": {"server_error"}, "state": {ar.State}})
		return
	}
	if !approve {
		redirectWith(w, r, ar.RedirectURI, url.Values{"error": {"access_denied"}, "error_description": {"The PSU denied the request."}, "state": {ar.State}})
		return
	}
	g := grant{ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, Challenge: ar.Challenge, Service: ar.Service,
		ResourceID: ar.ResourceID, Persona: ar.Persona, Expires: s.now().Add(codeTTL)}
	if err := s.opts.Store.Create(ctx, b.ID, kindCodes, tokenKey(code), &g); err != nil {
		redirectWith(w, r, ar.RedirectURI, url.Values{"error": {"server_error"}, "state": {ar.State}})
		return
	}
	redirectWith(w, r, ar.RedirectURI, url.Values{"code": {code}, "state": {ar.State}})
}

// oauthError writes an RFC 6749 token endpoint error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// clientOf reads the client credentials (HTTP Basic or form). The sandbox bank accepts any
// non-empty client ID and secret, and binds codes and tokens to the client ID.
func clientOf(r *http.Request) (string, bool) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, id != "" && secret != ""
	}
	id := r.PostFormValue("client_id")
	return id, id != "" && r.PostFormValue("client_secret") != ""
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	client, ok := clientOf(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="sandbox-bank"`)
		oauthError(w, 401, "invalid_client", "client authentication failed")
		return
	}
	ctx := r.Context()
	now := s.now()
	var issued tokenRecord
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		code, verifier := r.PostFormValue("code"), r.PostFormValue("code_verifier")
		var g grant
		if !s.spend(ctx, w, b, kindCodes, tokenKey(code), &g, &g.Used, func(exists bool) bool {
			return exists && code != "" && !g.Used && !now.After(g.Expires) && g.ClientID == client &&
				g.RedirectURI == r.PostFormValue("redirect_uri") && pkceMatches(verifier, g.Challenge)
		}, "the code is invalid, expired, used, or does not match the client, redirect_uri or code_verifier") {
			return
		}
		issued = tokenRecord{ClientID: client, Service: g.Service, ResourceID: g.ResourceID, Persona: g.Persona}
	case "refresh_token":
		rt := r.PostFormValue("refresh_token")
		var old tokenRecord
		// Rotation: the old refresh token stops working once used.
		if !s.spend(ctx, w, b, kindTokens, tokenKey(rt), &old, &old.Used, func(exists bool) bool {
			return exists && rt != "" && old.Type == "refresh" && !old.Used && !now.After(old.Expires) && old.ClientID == client
		}, "the refresh token is invalid, expired or already used") {
			return
		}
		if old.Service == "AIS" {
			var c consentRecord
			if err := s.opts.Store.Get(ctx, b.ID, kindConsents, old.ResourceID, &c); err != nil || c.effectiveStatus(now) != "valid" {
				oauthError(w, 400, "invalid_grant", "the consent is no longer valid")
				return
			}
		}
		if old.Service == "VRP" {
			var m mandateRecord
			if err := s.opts.Store.Get(ctx, b.ID, kindMandates, old.ResourceID, &m); err != nil || m.effectiveStatus(now) != "valid" {
				oauthError(w, 400, "invalid_grant", "the mandate is no longer valid")
				return
			}
		}
		issued = tokenRecord{ClientID: client, Service: old.Service, ResourceID: old.ResourceID, Persona: old.Persona}
	default:
		oauthError(w, 400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	refreshExpires := now.AddDate(0, 0, s.opts.MaxConsentDays)
	if issued.Service == "AIS" {
		var c consentRecord
		if err := s.opts.Store.Get(ctx, b.ID, kindConsents, issued.ResourceID, &c); err == nil {
			if until, err := time.Parse(time.DateOnly, c.ValidUntil); err == nil {
				refreshExpires = until.AddDate(0, 0, 1)
			}
		}
	}
	access, refresh := random.Token(32), random.Token(32)
	at := issued
	at.Type, at.Expires = "access", now.Add(s.opts.AccessTokenTTL)
	rt := issued
	rt.Type, rt.Expires = "refresh", refreshExpires
	if err := s.opts.Store.Create(ctx, b.ID, kindTokens, tokenKey(access), &at); err != nil {
		s.internal(w, err)
		return
	}
	if err := s.opts.Store.Create(ctx, b.ID, kindTokens, tokenKey(refresh), &rt); err != nil {
		s.internal(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, 200, map[string]any{
		"access_token":  access,
		"token_type":    "Bearer",
		"expires_in":    int(s.opts.AccessTokenTTL.Seconds()),
		"refresh_token": refresh,
		"scope":         issued.Service + ":" + issued.ResourceID,
	})
}

func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// peekBearer reads the access token of a request without writing anything.
func (s *Server) peekBearer(r *http.Request, b bankInfo) (*tokenRecord, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil, ErrNotFound
	}
	var t tokenRecord
	if err := s.opts.Store.Get(r.Context(), b.ID, kindTokens, tokenKey(raw), &t); err != nil {
		return nil, err
	}
	if t.Type != "access" {
		return nil, ErrNotFound
	}
	return &t, nil
}

// bearer checks the access token of a call for a service; it writes the error itself.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request, b bankInfo, service string) (*tokenRecord, bool) {
	t, err := s.peekBearer(r, b)
	switch {
	case errors.Is(err, ErrNotFound):
		tppError(w, 401, "TOKEN_INVALID", "The access token is missing or unknown.")
		return nil, false
	case err != nil:
		s.internal(w, err)
		return nil, false
	case t.Service != service:
		tppError(w, 401, "TOKEN_INVALID", "The access token is not valid for this service.")
		return nil, false
	case s.now().After(t.Expires):
		tppError(w, 401, "TOKEN_EXPIRED", "The access token expired; refresh it.")
		return nil, false
	}
	return t, true
}

func amountJSON(d decimal.Decimal, currency string) map[string]string {
	return map[string]string{"currency": currency, "amount": d.StringFixed(2)}
}
