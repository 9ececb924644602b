// Package sandboxbank is Tok's sandbox bank: a Berlin Group NextGenPSD2 ASPSP (AIS, PIS,
// funds confirmation and a VRP mandate service) with an OAuth2 authorization server and SCA pages in plain HTML,
// serving one bank per country (sandbox-rs, sandbox-hr, ...) under
// /sandbox-bank/{bankId}/. See README.md for the URL layout and the personas. The
// SandboxBank function serves it; tests run it in process.
//
// Files by the bank's services: oauth.go (authorization server and SCA pages), consents.go
// (AIS consents), accounts.go (accounts, balances, transactions), payments.go (PIS),
// funds.go (funds confirmation), vrp.go (VRP mandates and payments under them); data.go generates the personas' data, store.go keeps state.
package sandboxbank

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"tokapi.io/tok/shared/httpapi"
)

// Prefix is the path under which the function serves.
const Prefix = "/sandbox-bank"

// Options configure a sandbox bank server.
type Options struct {
	Store Store
	// Now is the bank's clock (default time.Now). Generated transactions are dated relative
	// to it, so tests are deterministic.
	Now func() time.Time
	// SlowDelay is the delay of every AIS and PIS call of the slow persona (default 5s).
	SlowDelay time.Duration
	// SettleAfter is how long an authorised payment stays ACSP before it is ACSC (default
	// 2s); SlowSettle is the same for the slow persona (default 2 minutes).
	SettleAfter time.Duration
	SlowSettle  time.Duration
	// AccessTokenTTL is the lifetime of access tokens (default 1h).
	AccessTokenTTL time.Duration
	// MaxConsentDays caps a consent's validity (default 180).
	MaxConsentDays int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Server is the sandbox bank.
type Server struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the sandbox bank handler.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SlowDelay == 0 {
		opts.SlowDelay = 5 * time.Second
	}
	if opts.SettleAfter == 0 {
		opts.SettleAfter = 2 * time.Second
	}
	if opts.SlowSettle == 0 {
		opts.SlowSettle = 2 * time.Minute
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.MaxConsentDays == 0 {
		opts.MaxConsentDays = 180
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	p := Prefix + "/banks/{bankId}"
	m := s.mux
	m.HandleFunc("GET "+Prefix+"/{$}", s.index)
	m.HandleFunc("GET "+Prefix, s.index)
	m.HandleFunc("GET "+p+"/.well-known/oauth-authorization-server", s.bank(s.metadata))
	m.HandleFunc("GET "+p+"/oauth2/authorize", s.bank(s.authorize))
	m.HandleFunc("POST "+p+"/oauth2/authorize/login", s.bank(s.login))
	m.HandleFunc("POST "+p+"/oauth2/authorize/otp", s.bank(s.otp))
	m.HandleFunc("POST "+p+"/oauth2/authorize/decision", s.bank(s.decision))
	m.HandleFunc("POST "+p+"/oauth2/token", s.bank(s.token))
	m.HandleFunc("POST "+p+"/v1/consents", s.bank(s.createConsent))
	m.HandleFunc("GET "+p+"/v1/consents/{consentId}", s.bank(s.getConsent))
	m.HandleFunc("GET "+p+"/v1/consents/{consentId}/status", s.bank(s.consentStatus))
	m.HandleFunc("DELETE "+p+"/v1/consents/{consentId}", s.bank(s.deleteConsent))
	m.HandleFunc("GET "+p+"/v1/accounts", s.bank(s.accounts))
	m.HandleFunc("GET "+p+"/v1/accounts/{accountId}", s.bank(s.account))
	m.HandleFunc("GET "+p+"/v1/accounts/{accountId}/balances", s.bank(s.balances))
	m.HandleFunc("GET "+p+"/v1/accounts/{accountId}/transactions", s.bank(s.transactions))
	m.HandleFunc("POST "+p+"/v1/accounts/{accountId}/sandbox-transactions", s.bank(s.addTransaction))
	m.HandleFunc("POST "+p+"/v1/payments/{product}", s.bank(s.initiatePayment))
	m.HandleFunc("GET "+p+"/v1/payments/{product}/{paymentId}", s.bank(s.getPayment))
	m.HandleFunc("GET "+p+"/v1/payments/{product}/{paymentId}/status", s.bank(s.paymentStatus))
	m.HandleFunc("DELETE "+p+"/v1/payments/{product}/{paymentId}", s.bank(s.cancelPayment))
	m.HandleFunc("POST "+p+"/v1/bulk-payments/{product}", s.bank(s.initiateBulk))
	m.HandleFunc("GET "+p+"/v1/bulk-payments/{product}/{paymentId}/status", s.bank(s.paymentStatus))
	m.HandleFunc("POST "+p+"/v1/funds-confirmations", s.bank(s.fundsConfirmation))
	m.HandleFunc("POST "+p+"/v1/vrp-mandates", s.bank(s.createMandate))
	m.HandleFunc("GET "+p+"/v1/vrp-mandates/{mandateId}/status", s.bank(s.mandateStatus))
	m.HandleFunc("DELETE "+p+"/v1/vrp-mandates/{mandateId}", s.bank(s.deleteMandate))
	m.HandleFunc("POST "+p+"/v1/vrp-mandates/{mandateId}/sandbox-revoke", s.bank(s.revokeMandate))
	m.HandleFunc("POST "+p+"/v1/vrp-mandates/{mandateId}/payments", s.bank(s.initiateVRP))
	m.HandleFunc("GET "+p+"/v1/vrp-mandates/{mandateId}/payments/{paymentId}/status", s.bank(s.vrpPaymentStatus))
	m.HandleFunc("POST "+p+"/v1/vrp-mandates/{mandateId}/funds-confirmations", s.bank(s.mandateFunds))
	return s
}

// ServeHTTP serves the sandbox bank. Unknown paths get a Berlin Group 404 or 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get("X-Request-ID")
	if _, err := uuid.Parse(rid); err != nil {
		rid = uuid.NewString()
	}
	w.Header().Set("X-Request-ID", rid)
	rec := &httpapi.StatusWriter{ResponseWriter: w}
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		if strings.Contains(r.URL.Path, "/v1/") {
			tppError(rec, http.StatusNotFound, "RESOURCE_UNKNOWN", "Unknown resource.")
		} else {
			http.NotFound(rec, r)
		}
	} else {
		s.mux.ServeHTTP(rec, r)
	}
	// Path templates only: no IDs, tokens or personal data in the log.
	s.opts.Logger.Info("sandbox bank", "method", r.Method, "route", pattern, "status", rec.Status(),
		"latencyMs", time.Since(start).Milliseconds())
}

type bankHandler func(w http.ResponseWriter, r *http.Request, b bankInfo)

// bank resolves {bankId}; an unknown bank is a 404.
func (s *Server) bank(h bankHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, ok := bankByID(r.PathValue("bankId"))
		if !ok {
			if strings.Contains(r.URL.Path, "/v1/") {
				tppError(w, http.StatusNotFound, "RESOURCE_UNKNOWN", "Unknown bank.")
			} else {
				http.NotFound(w, r)
			}
			return
		}
		h(w, r, b)
	}
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// tppMessage is a Berlin Group tppMessages entry.
type tppMessage struct {
	Category string `json:"category"`
	Code     string `json:"code"`
	Text     string `json:"text,omitempty"`
}

// tppError writes a NextGenPSD2 error ({"tppMessages":[...]}); 5xx carry no body, as the
// standard defines none.
// redirectURI reads the TPP-Redirect-URI header of a consent or payment initiation: absent
// is "", anything but an absolute http(s) URL is answered with a 400 and ok false.
func redirectURI(w http.ResponseWriter, r *http.Request) (uri string, ok bool) {
	uri = r.Header.Get("TPP-Redirect-URI")
	if uri == "" {
		return "", true
	}
	if u, err := url.Parse(uri); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		tppError(w, 400, "FORMAT_ERROR", "TPP-Redirect-URI must be an absolute http(s) URL.")
		return "", false
	}
	return uri, true
}

func tppError(w http.ResponseWriter, status int, code, text string) {
	if status >= 500 {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, map[string]any{"tppMessages": []tppMessage{{Category: "ERROR", Code: code, Text: text}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tokenKey is the record ID of a code or token: never stored in clear.
func tokenKey(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// baseURL is the absolute URL of the bank (scheme and host as the client reached us).
func baseURL(r *http.Request, b bankInfo) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = h
	}
	return scheme + "://" + host + bankPath(b)
}

// decodeBody reads the TPP's JSON body of at most limit bytes into v; a body that does not
// decode, or that complete (when given) finds lacking, is 400 FORMAT_ERROR with text.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, text string, complete func() bool) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(v); err != nil || (complete != nil && !complete()) {
		tppError(w, 400, "FORMAT_ERROR", text)
		return false
	}
	return true
}

// faulted plays the persona's fault before the bank does anything: down answers 503, slow
// waits SlowDelay. It reports whether the request ended (503, or gone while waiting).
func (s *Server) faulted(ctx context.Context, w http.ResponseWriter, persona string) bool {
	switch persona {
	case PersonaDown:
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	case PersonaSlow:
		return !sleepCtx(ctx, s.opts.SlowDelay)
	}
	return false
}

// sleepCtx waits d or until the request is gone.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// bankPath is the path of a bank: /sandbox-bank/banks/{bankId}.
func bankPath(b bankInfo) string { return Prefix + "/banks/" + b.ID }
