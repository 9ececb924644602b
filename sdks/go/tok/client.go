// Package tok is the Go client of the Tok API: the API's types (generated from
// api/openapi.yaml), one resource per part of the API, pagination with iterators, retries
// with backoff, typed errors, and Standard Webhooks verification.
//
//	client, err := tok.NewClient(tok.WithAPIKey("tok_sandbox_…"))
//	page, err := client.Accounts.List(ctx, nil)
//	for txn, err := range client.Transactions.All(ctx, page.Data[0].ID, nil) { … }
package tok

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The API's hosts: live keys are served by one, sandbox keys by the other. The client
// picks by its key unless WithBaseURL or TOK_API_URL says otherwise.
const (
	DefaultBaseURL    = "https://api.tokapi.io/v1"
	DefaultSandboxURL = "https://sandbox.api.tokapi.io/v1"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "1.0.0"

// Client calls the Tok API. It is safe for concurrent use.
type Client struct {
	Banks          *BanksService
	Consents       *ConsentsService
	Accounts       *AccountsService
	Transactions   *TransactionsService
	StandingOrders *StandingOrdersService
	Webhooks       *WebhooksService
	Events         *EventsService
	Payments       *PaymentsService
	VRP            *VRPService
	Refunds        *RefundsService
	Organisation   *OrganisationService
	APIKeys        *APIKeysService
	Members        *MembersService
	Sandbox        *SandboxService

	apiKey     string
	baseURL    string
	http       *http.Client
	maxRetries int
	minBackoff time.Duration
	maxBackoff time.Duration
	maxWait    time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sets the API key (default: the TOK_API_KEY environment variable).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithBaseURL sets the API's base URL including /v1 (default: TOK_API_URL, else
// DefaultSandboxURL for a tok_sandbox_ key and DefaultBaseURL for any other).
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient sets the HTTP client; its Timeout bounds each attempt.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout bounds each attempt of a request (default 30 s). The context bounds the whole
// call, retries included.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		h := *c.http
		h.Timeout = d
		c.http = &h
	}
}

// WithMaxRetries sets how many times a failed request is retried (default 3; 0 disables).
func WithMaxRetries(n int) Option { return func(c *Client) { c.maxRetries = n } }

// WithBackoff sets the exponential backoff between retries of 502, 503, 504 and connection
// errors: the first wait is up to min, doubling to at most max, each with full jitter
// (defaults 500 ms and 8 s).
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *Client) { c.minBackoff, c.maxBackoff = minWait, maxWait }
}

// WithMaxRetryAfter sets the longest Retry-After the client waits out (default 60 s); a
// longer one returns the RATE_LIMITED error at once.
func WithMaxRetryAfter(d time.Duration) Option { return func(c *Client) { c.maxWait = d } }

// NewClient returns a client. Without WithAPIKey it reads TOK_API_KEY, without WithBaseURL
// TOK_API_URL.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		apiKey: os.Getenv("TOK_API_KEY"), baseURL: strings.TrimRight(os.Getenv("TOK_API_URL"), "/"),
		http: &http.Client{Timeout: 30 * time.Second}, maxRetries: 3,
		minBackoff: 500 * time.Millisecond, maxBackoff: 8 * time.Second, maxWait: time.Minute,
	}
	for _, o := range opts {
		o(c)
	}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
		if strings.HasPrefix(c.apiKey, "tok_sandbox_") {
			c.baseURL = DefaultSandboxURL
		}
	}
	if c.apiKey == "" {
		return nil, errors.New("tok: no API key (WithAPIKey or TOK_API_KEY)")
	}
	if _, err := url.Parse(c.baseURL); err != nil {
		return nil, fmt.Errorf("tok: base URL: %w", err)
	}
	c.Banks = &BanksService{c}
	c.Consents = &ConsentsService{c}
	c.Accounts = &AccountsService{c}
	c.Transactions = &TransactionsService{c}
	c.StandingOrders = &StandingOrdersService{c}
	c.Webhooks = &WebhooksService{c}
	c.Events = &EventsService{c}
	c.Payments = &PaymentsService{c}
	c.VRP = &VRPService{c}
	c.Refunds = &RefundsService{c}
	c.Organisation = &OrganisationService{c}
	c.APIKeys = &APIKeysService{c}
	c.Members = &MembersService{c}
	c.Sandbox = &SandboxService{c}
	return c, nil
}

// RequestOption changes one call.
type RequestOption func(*callOptions)

type callOptions struct {
	idempotencyKey string
	responses      []*Response
}

// WithIdempotencyKey sets the call's Idempotency-Key instead of a generated one.
func WithIdempotencyKey(key string) RequestOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// CaptureResponse stores the call's response metadata (request ID, rate limit, attempts)
// in r once the call returns.
func CaptureResponse(r *Response) RequestOption {
	return func(o *callOptions) { o.responses = append(o.responses, r) }
}

// Response is what a call's final HTTP response said besides its body.
type Response struct {
	StatusCode int
	Header     http.Header
	RequestID  string
	RateLimit  RateLimit
	Attempts   int // 1 plus the retries made
	Replayed   bool
}

// RateLimit is the organisation's rate-limit state from the X-RateLimit-* headers; zero
// where a header was absent.
type RateLimit struct {
	Limit     int       // sustained rate of the token bucket, requests per minute
	Remaining int       // requests the bucket would admit at once now, at most the burst; 0 on 429
	Reset     time.Time // when the bucket is full again if no request is made
}

func newResponse(resp *http.Response, attempts int) Response {
	h := resp.Header
	num := func(k string) int { n, _ := strconv.Atoi(h.Get(k)); return n }
	r := Response{StatusCode: resp.StatusCode, Header: h, RequestID: h.Get("X-Request-Id"), Attempts: attempts,
		Replayed:  h.Get("Idempotent-Replayed") == "true",
		RateLimit: RateLimit{Limit: num("X-RateLimit-Limit"), Remaining: num("X-RateLimit-Remaining")}}
	if reset := num("X-RateLimit-Reset"); reset > 0 {
		r.RateLimit.Reset = time.Unix(int64(reset), 0)
	}
	return r
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         any
	creates      bool // a POST that creates something: it gets an Idempotency-Key
}

// do sends req, retrying what is safe to retry, and decodes a 2xx body into out.
func (c *Client) do(ctx context.Context, req request, out any, opts []RequestOption) error {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	var body []byte
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("tok: encode request: %w", err)
		}
		body = b
	}
	key := o.idempotencyKey
	if key == "" && req.creates {
		key = uuid.NewString()
	}
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	retryable := key != "" || req.method == http.MethodGet || req.method == http.MethodHead ||
		req.method == http.MethodPut || req.method == http.MethodDelete
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, req.method, u, body, key)
		if err != nil {
			if ctx.Err() != nil || !retryable || attempt > c.maxRetries {
				return fmt.Errorf("tok: %s %s: %w", req.method, req.path, err)
			}
			if err := sleep(ctx, c.backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		b, readErr := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		_ = resp.Body.Close()
		meta := newResponse(resp, attempt)
		for _, r := range o.responses {
			*r = meta
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if readErr != nil {
				return fmt.Errorf("tok: %s %s: read response: %w", req.method, req.path, readErr)
			}
			if out == nil || len(b) == 0 {
				return nil
			}
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("tok: %s %s: decode response: %w", req.method, req.path, err)
			}
			return nil
		}
		apiErr := newAPIError(meta, b)
		wait, again := c.retryWait(resp.StatusCode, apiErr.RetryAfter, attempt)
		if !again || !retryable || attempt > c.maxRetries {
			return apiErr
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (c *Client) send(ctx context.Context, method, u string, body []byte, key string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "ApiKey "+c.apiKey)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "tok-go/"+Version)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	return c.http.Do(r)
}

// retryWait says whether a response with this status is worth retrying and after how long:
// 429 after its Retry-After; 502, 503 and 504 after Retry-After if given, else the backoff.
func (c *Client) retryWait(status int, retryAfter time.Duration, attempt int) (time.Duration, bool) {
	switch status {
	case http.StatusTooManyRequests:
		if retryAfter <= 0 {
			retryAfter = c.backoff(attempt)
		}
		return retryAfter, retryAfter <= c.maxWait
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if retryAfter > 0 {
			return retryAfter, retryAfter <= c.maxWait
		}
		return c.backoff(attempt), true
	}
	return 0, false
}

// backoff is the wait before retry number attempt: min·2^(attempt-1), capped at max, with
// full jitter (a random duration up to it), so clients that failed together spread out.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.minBackoff << min(attempt-1, 20)
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d) + time.Millisecond //nolint:gosec // jitter needs no cryptographic randomness
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
