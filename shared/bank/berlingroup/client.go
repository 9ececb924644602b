// Package berlingroup is the bank.Connector for banks that expose the Berlin Group
// NextGenPSD2 XS2A API with the OAuth2 SCA approach (scope AIS:<consentId> or
// PIS:<paymentId>, PKCE S256).
//
// Error mapping (bank.Kind):
//   - 401 CONSENT_EXPIRED, CONSENT_UNKNOWN (403), TOKEN_INVALID, TOKEN_UNKNOWN, an
//     invalid_grant from the token endpoint: ConsentExpired (the PSU must authorise again).
//   - 401 CONSENT_INVALID is ambiguous in the standard (revoked, terminated, or not
//     authorised). The client then asks GET /v1/consents/{id}/status (which does not count
//     against frequencyPerDay): revokedByPsu or terminatedByTpp give ConsentRevoked,
//     anything else ConsentExpired.
//   - 401 TOKEN_EXPIRED: TokenExpired (refresh and retry).
//   - 429 (ACCESS_EXCEEDED or any other code): AccessExceeded.
//   - 5xx, timeouts, connection errors, bodies that do not parse, an open circuit: Unavailable.
//   - PAYMENT_FAILED, FUNDS_NOT_AVAILABLE, LIMIT_EXCEEDED: Rejected; MANDATE_REVOKED:
//     ConsentRevoked; MANDATE_EXPIRED: ConsentExpired. Other 4xx: Invalid.
package berlingroup

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"tokapi.io/tok/shared/bank"
)

// Secrets reads secret values (Secret Manager in production; a map in tests).
type Secrets interface {
	Get(ctx context.Context, id string) ([]byte, error)
}

// Config is one bank's connection settings.
type Config struct {
	// BankID names the bank in logs and keys its circuit breaker.
	BankID string
	// BaseURL is the API root without /v1, e.g. https://api.bank.hr/psd2.
	BaseURL string
	// AuthorizeURL and TokenURL are the bank's OAuth2 endpoints.
	AuthorizeURL string
	TokenURL     string
	// ClientIDSecret, ClientSecretSecret and QWACSecret are Secret Manager secret IDs read
	// through Secrets on first use. QWACSecret (optional) holds the QWAC certificate and its
	// private key as PEM, presented for mutual TLS. ClientID and ClientSecret are used as
	// given when the secret IDs are empty (sandbox, tests).
	ClientIDSecret     string
	ClientSecretSecret string
	QWACSecret         string
	ClientID           string
	ClientSecret       string
	// PaymentProducts the bank offers (e.g. sepa-credit-transfers).
	PaymentProducts []string
	// FrequencyPerDay caps the unattended accesses asked for in a consent (default 4).
	FrequencyPerDay int
	// MaxConsentDays caps a consent's validity (default 180).
	MaxConsentDays int
	// StandingOrders reports whether the bank lists standing orders (bookingStatus=information).
	StandingOrders bool
	// BulkPayments reports whether the bank offers bulk payments (POST /v1/bulk-payments).
	BulkPayments bool
	// VRP reports whether the bank offers the VRP mandate service (/v1/vrp-mandates).
	VRP bool
	// ItemsPerPage asks the bank for transaction pages of this size (0: the bank's default).
	ItemsPerPage int

	// Timeout bounds each HTTP attempt (default 15s). Retries bounds the attempts of an
	// idempotent GET (default 3); Backoff is the base of the jittered exponential backoff
	// (default 200ms). Breaker settings: BreakerThreshold consecutive Unavailable failures
	// (default 5) open the circuit for BreakerCooldown (default 30s).
	Timeout          time.Duration
	Retries          int
	Backoff          time.Duration
	BreakerThreshold int
	BreakerCooldown  time.Duration

	// Transport overrides the HTTP transport (tests); the QWAC is not applied to it.
	Transport http.RoundTripper
	// Logger (default slog.Default()); Now (default time.Now).
	Logger *slog.Logger
	Now    func() time.Time
}

// Client is the Berlin Group connector of one bank. It is safe for concurrent use.
type Client struct {
	cfg     Config
	secrets Secrets
	brk     *breaker

	mu           sync.Mutex
	http         *http.Client
	clientID     string
	clientSecret string
}

var _ bank.Connector = (*Client)(nil)

// New returns the connector for a bank. Nothing is read or dialled until the first call.
func New(cfg Config, secrets Secrets) (*Client, error) {
	if cfg.BaseURL == "" || cfg.AuthorizeURL == "" || cfg.TokenURL == "" {
		return nil, errors.New("berlingroup: BaseURL, AuthorizeURL and TokenURL are required")
	}
	if (cfg.ClientIDSecret != "" || cfg.ClientSecretSecret != "" || cfg.QWACSecret != "") && secrets == nil {
		return nil, errors.New("berlingroup: secret IDs are configured but no secrets reader is given")
	}
	// The API root without /v1 (catalogue entries may name it with /v1).
	cfg.BaseURL = strings.TrimSuffix(strings.TrimSuffix(cfg.BaseURL, "/"), "/v1")
	if cfg.FrequencyPerDay <= 0 {
		cfg.FrequencyPerDay = 4
	}
	if cfg.MaxConsentDays <= 0 {
		cfg.MaxConsentDays = 180
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.BreakerThreshold <= 0 {
		cfg.BreakerThreshold = 5
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BankID == "" {
		cfg.BankID = cfg.BaseURL
	}
	return &Client{cfg: cfg, secrets: secrets, brk: breakerFor(cfg.BankID, cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.Now)}, nil
}

// BreakerState is the bank's circuit state: closed, open or half-open.
func (c *Client) BreakerState() string { return c.brk.state() }

// setup reads the credentials and builds the HTTP client once (retrying after failures).
func (c *Client) setup(ctx context.Context) (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.http != nil {
		return c.http, nil
	}
	read := func(id, literal string) (string, error) {
		if id == "" {
			return literal, nil
		}
		v, err := c.secrets.Get(ctx, id)
		if err != nil {
			return "", &bank.Error{Kind: bank.Unavailable, Message: "cannot read the bank credentials", Err: err}
		}
		return strings.TrimSpace(string(v)), nil
	}
	id, err := read(c.cfg.ClientIDSecret, c.cfg.ClientID)
	if err != nil {
		return nil, err
	}
	secret, err := read(c.cfg.ClientSecretSecret, c.cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	rt := c.cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = c.cfg.Timeout
		if c.cfg.QWACSecret != "" {
			pem, err := c.secrets.Get(ctx, c.cfg.QWACSecret)
			if err != nil {
				return nil, &bank.Error{Kind: bank.Unavailable, Message: "cannot read the QWAC", Err: err}
			}
			cert, err := tls.X509KeyPair(pem, pem)
			if err != nil {
				return nil, &bank.Error{Kind: bank.Invalid, Message: "the QWAC secret is not a PEM certificate with its key", Err: err}
			}
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		}
		rt = t
	}
	c.clientID, c.clientSecret = id, secret
	c.http = &http.Client{
		Transport: rt,
		Timeout:   c.cfg.Timeout,
		// Never follow redirects: a bank API answer is final.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c.http, nil
}

// call is one API request.
type call struct {
	method, path, route string // path: absolute URL or path after BaseURL; route: template for logs
	body                any
	form                url.Values
	session             *bank.Session
	psuIP               string // PSU-IP-Address, only when the PSU is present
	redirectURI         string
	basicAuth           bool
	// idempotencyKey (X-Idempotency-Key) lets the bank answer a repeated POST with what the
	// first one created, so such a POST is retried like a GET.
	idempotencyKey string
}

// maxBody bounds what is read from a bank answer.
const maxBody = 8 << 20

// do runs a call with retries (GET only), the breaker and error mapping; out (if non-nil)
// receives the decoded JSON body of a 2xx.
func (c *Client) do(ctx context.Context, k call, out any) error {
	hc, err := c.setup(ctx)
	if err != nil {
		return err
	}
	attempts := 1
	if k.method == http.MethodGet || k.idempotencyKey != "" {
		attempts = c.cfg.Retries
	}
	for i := 0; ; i++ {
		err = c.attempt(ctx, hc, k, out)
		if err == nil || bank.KindOf(err) != bank.Unavailable || i+1 >= attempts || ctx.Err() != nil {
			return err
		}
		var be *bank.Error
		if errors.As(err, &be) && be.BankCode == "circuit_open" {
			return err
		}
		// Full jitter: a random wait up to base * 2^i.
		wait := time.Duration(rand.Int64N(int64(c.cfg.Backoff) << i)) //nolint:gosec // G404: jitter needs no cryptographic randomness
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (c *Client) attempt(ctx context.Context, hc *http.Client, k call, out any) (err error) {
	if !c.brk.allow() {
		return &bank.Error{Kind: bank.Unavailable, BankCode: "circuit_open", Message: "circuit open after repeated bank failures"}
	}
	start := time.Now()
	status := 0
	defer func() {
		c.brk.record(bank.KindOf(err) == bank.Unavailable)
		outcome := "ok"
		if err != nil {
			outcome = bank.KindOf(err).String()
		}
		// Bank, route template, status and latency only: no IDs, tokens or personal data.
		c.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "bank call", slog.String("bank", c.cfg.BankID),
			slog.String("method", k.method), slog.String("route", k.route), slog.Int("status", status),
			slog.Int64("latencyMs", time.Since(start).Milliseconds()), slog.String("outcome", outcome))
	}()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	target := k.path
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = c.cfg.BaseURL + k.path
	}
	var body io.Reader
	var ctype string
	switch {
	case k.form != nil:
		body, ctype = strings.NewReader(k.form.Encode()), "application/x-www-form-urlencoded"
	case k.body != nil:
		b, err := json.Marshal(k.body)
		if err != nil {
			return &bank.Error{Kind: bank.Invalid, Message: "cannot encode the request", Err: err}
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, k.method, target, body)
	if err != nil {
		return &bank.Error{Kind: bank.Invalid, Message: "cannot build the request"}
	}
	req.Header.Set("X-Request-ID", uuid.NewString())
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if k.session != nil {
		if k.session.AccessToken != "" {
			req.Header.Set("Authorization", "Bearer "+k.session.AccessToken)
		}
		if k.session.BankConsentID != "" {
			req.Header.Set("Consent-ID", k.session.BankConsentID)
		}
	}
	if k.psuIP != "" {
		req.Header.Set("PSU-IP-Address", k.psuIP)
	}
	if k.redirectURI != "" {
		req.Header.Set("TPP-Redirect-URI", k.redirectURI)
		req.Header.Set("TPP-Redirect-Preferred", "true")
	}
	if k.idempotencyKey != "" {
		req.Header.Set("X-Idempotency-Key", k.idempotencyKey)
	}
	if k.basicAuth {
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &bank.Error{Kind: bank.Unavailable, Message: "the bank did not answer", Err: scrubErr(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &bank.Error{Kind: bank.Unavailable, Status: status, Message: "the bank's answer was cut off", Err: scrubErr(err)}
	}
	if status >= 200 && status < 300 {
		if out == nil || status == http.StatusNoContent {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return &bank.Error{Kind: bank.Unavailable, Status: status, Message: "the bank's answer is not valid JSON"}
		}
		return nil
	}
	return mapError(status, raw, k.form != nil)
}

// scrubErr keeps the cause of a transport error but not its URL (query data).
func scrubErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// bgError is a NextGenPSD2 error body or an RFC 7807 problem (with additionalErrors), or an
// OAuth2 error.
type bgError struct {
	TPPMessages []struct {
		Category string `json:"category"`
		Code     string `json:"code"`
	} `json:"tppMessages"`
	Code             string `json:"code"`
	AdditionalErrors []struct {
		Code string `json:"code"`
	} `json:"additionalErrors"`
	OAuthError string `json:"error"`
}

// codeKinds maps Berlin Group message codes to kinds.
var codeKinds = map[string]bank.Kind{
	"CONSENT_EXPIRED":     bank.ConsentExpired,
	"CONSENT_UNKNOWN":     bank.ConsentExpired,
	"CONSENT_INVALID":     bank.ConsentExpired, // refined through the consent status, see package doc
	"TOKEN_INVALID":       bank.ConsentExpired,
	"TOKEN_UNKNOWN":       bank.ConsentExpired,
	"TOKEN_EXPIRED":       bank.TokenExpired,
	"ACCESS_EXCEEDED":     bank.AccessExceeded,
	"PAYMENT_FAILED":      bank.Rejected,
	"FUNDS_NOT_AVAILABLE": bank.Rejected,
	"PRODUCT_INVALID":     bank.Invalid,
	"PRODUCT_UNKNOWN":     bank.NotSupported,
	"SERVICE_INVALID":     bank.NotSupported,
	"SERVICE_BLOCKED":     bank.Rejected,
	// The VRP mandate service: a payment over the mandate's limits, a mandate ended.
	"LIMIT_EXCEEDED":  bank.Rejected,
	"MANDATE_REVOKED": bank.ConsentRevoked,
	"MANDATE_EXPIRED": bank.ConsentExpired,
}

// mapError turns a non-2xx answer into a *bank.Error. Only codes are kept: bank texts may
// hold personal data.
func mapError(status int, raw []byte, oauth bool) error {
	var be bgError
	_ = json.Unmarshal(raw, &be)
	codes := []string{}
	for _, m := range be.TPPMessages {
		codes = append(codes, m.Code)
	}
	if be.Code != "" {
		codes = append(codes, be.Code)
	}
	for _, a := range be.AdditionalErrors {
		codes = append(codes, a.Code)
	}
	e := &bank.Error{Status: status}
	if oauth && be.OAuthError != "" {
		e.BankCode = be.OAuthError
		switch {
		case be.OAuthError == "invalid_grant":
			e.Kind, e.Message = bank.ConsentExpired, "the bank refused the grant; the customer must authorise again"
		case status >= 500 || be.OAuthError == "temporarily_unavailable" || be.OAuthError == "server_error":
			e.Kind, e.Message = bank.Unavailable, "the bank's token endpoint failed"
		default:
			e.Kind, e.Message = bank.Invalid, "the bank refused the token request"
		}
		return e
	}
	for _, code := range codes {
		if k, ok := codeKinds[code]; ok {
			e.Kind, e.BankCode = k, code
			break
		}
	}
	if e.Kind == bank.Unknown {
		if len(codes) > 0 {
			e.BankCode = codes[0]
		}
		switch {
		case status == http.StatusTooManyRequests:
			e.Kind = bank.AccessExceeded
		case status >= 500 || status == http.StatusRequestTimeout:
			e.Kind = bank.Unavailable
		case status == http.StatusUnauthorized:
			e.Kind = bank.ConsentExpired
		default:
			e.Kind = bank.Invalid
		}
	}
	e.Message = messages[e.Kind]
	return e
}

var messages = map[bank.Kind]string{
	bank.ConsentExpired: "the consent is expired or invalid at the bank",
	bank.ConsentRevoked: "the consent was revoked at the bank",
	bank.AccessExceeded: "the consent's daily unattended access limit is used up",
	bank.TokenExpired:   "the access token expired",
	bank.Unavailable:    "the bank is unavailable",
	bank.Rejected:       "the bank rejected the request",
	bank.Invalid:        "the bank rejected the request as invalid",
	bank.NotSupported:   "the bank does not support this service",
}
