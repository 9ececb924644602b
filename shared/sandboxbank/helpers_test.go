package sandboxbank_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/sandboxbank"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/secretstest"
	"tokapi.io/tok/shared/testing/testclock"
	"tokapi.io/tok/shared/testing/testenv"
)

const specPath = "../../../shared/reference/berlin-group/psd2-api_v1.3.11-2021-10-01v1.yaml"

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// bgRouter loads the Berlin Group spec once, examples not validated, routed at /v1/...
func bgRouter(t *testing.T) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = true
		doc, err := loader.LoadFromFile(specPath)
		if err != nil {
			specErr = err
			return
		}
		if err = doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
			specErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "http://bank.test"}}
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("load Berlin Group spec: %v", specErr)
	}
	return specRouter
}

var bankPrefix = regexp.MustCompile(`^/sandbox-bank/banks/[a-z-]+(/v1/.*)$`)

// validatingTransport checks every sandbox bank API response against the Berlin Group spec.
type validatingTransport struct {
	t       *testing.T
	base    http.RoundTripper
	checked atomic.Int64
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil || resp.Header.Get("X-Fault") != "" {
		return resp, err
	}
	m := bankPrefix.FindStringSubmatch(req.URL.Path)
	if m == nil || strings.HasPrefix(m[1], "/v1/vrp-mandates") { // OAuth and VRP are not in the Berlin Group spec
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	u := *req.URL
	u.Scheme, u.Host, u.Path, u.RawPath = "http", "bank.test", m[1], ""
	vreq := req.Clone(context.Background())
	vreq.URL = &u
	vreq.Host = "bank.test"
	route, params, ferr := bgRouter(v.t).FindRoute(vreq)
	if ferr != nil {
		v.t.Errorf("spec: no route for %s %s: %v", req.Method, m[1], ferr)
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		v.t.Errorf("spec: %s %s -> %d does not match the Berlin Group spec: %v\nbody: %.500s", req.Method, route.Path, resp.StatusCode, err, body)
	}
	v.checked.Add(1)
	return resp, nil
}

// Fault modes of the proxy between connector and bank.
const (
	faultNone = iota
	faultLatency
	faultReset
	fault5xx
	faultTruncate
)

// faultProxy sits between the connector and the bank and injects faults: it answers
// itself (reset, 5xx: the bank never sees the call) or after the bank (latency, truncate).
type faultProxy struct {
	next  http.Handler
	mode  atomic.Int32
	times atomic.Int32 // faults left; -1: forever
	delay time.Duration
	only  atomic.Value // path substring the fault applies to ("" for all)
}

func (p *faultProxy) set(mode int, times int, only string) {
	p.mode.Store(int32(mode))
	p.times.Store(int32(times))
	p.only.Store(only)
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := int(p.mode.Load())
	only, _ := p.only.Load().(string)
	if mode == faultNone || (only != "" && !strings.Contains(r.URL.String(), only)) || p.times.Load() == 0 {
		p.next.ServeHTTP(w, r)
		return
	}
	p.times.Add(-1)
	switch mode {
	case faultLatency:
		select {
		case <-time.After(p.delay):
		case <-r.Context().Done():
			return
		}
		p.next.ServeHTTP(w, r)
	case faultReset:
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	case fault5xx:
		w.Header().Set("X-Fault", "5xx")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	case faultTruncate:
		rec := httptest.NewRecorder()
		p.next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		hj, _ := w.(http.Hijacker)
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Fault: truncate\r\n")
		_, _ = buf.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		_, _ = buf.Write(body[:len(body)/2])
		_ = buf.Flush()
	}
}

// env is one sandbox bank on Firestore behind a fault proxy, and a validating transport.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	proxy   *faultProxy
	clock   *testclock.Clock // the bank's injected clock
	vt      *validatingTransport
	browser *http.Client
}

var bankSeq atomic.Int64

var quiet = slog.New(slog.DiscardHandler)

func newEnv(t *testing.T, opts ...func(*sandboxbank.Options)) *env {
	t.Helper()
	testenv.Require(t)
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	ck := testclock.New(time.Date(2026, 4, 20, 9, 30, 0, 0, time.UTC))
	o := sandboxbank.Options{Store: sandboxbank.FirestoreStore{Client: fs}, Now: ck.Now, SlowDelay: 2 * time.Second, Logger: quiet}
	for _, f := range opts {
		f(&o)
	}
	p := &faultProxy{next: sandboxbank.New(o), delay: 2 * time.Second}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	vt := &validatingTransport{t: t, base: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(func() { t.Logf("%d bank responses validated against the Berlin Group spec", vt.checked.Load()) })
	return &env{t: t, srv: srv, proxy: p, clock: ck, vt: vt,
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// connector builds the Berlin Group connector for a sandbox bank, as for a catalogue bank.
func (e *env) connector(bankID string, mod ...func(*berlingroup.Config)) *berlingroup.Client {
	e.t.Helper()
	base := e.srv.URL + "/sandbox-bank/banks/" + bankID + "/v1" // as in the catalogue
	cfg := berlingroup.Config{
		// A distinct breaker per test (breakers are per bank ID and instance-wide).
		BankID:         bankID + "#" + e.t.Name() + strconv.Itoa(int(bankSeq.Add(1))),
		BaseURL:        base,
		AuthorizeURL:   strings.TrimSuffix(base, "/v1") + "/oauth2/authorize",
		TokenURL:       strings.TrimSuffix(base, "/v1") + "/oauth2/token",
		ClientIDSecret: "client-id", ClientSecretSecret: "client-secret",
		PaymentProducts: []string{"sepa-credit-transfers", "domestic-credit-transfers"},
		StandingOrders:  true,
		Timeout:         5 * time.Second,
		Backoff:         10 * time.Millisecond,
		Transport:       e.vt,
		Now:             e.clock.Now,
		Logger:          quiet,
	}
	for _, f := range mod {
		f(&cfg)
	}
	c, err := berlingroup.New(cfg, secretstest.Map{"client-id": "tok-test-client", "client-secret": "s3cret"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// sca completes the SCA pages as a browser without JavaScript would, and returns the
// redirect back to the TPP.
func (e *env) sca(authorizeURL, user, password, decision string) *url.URL {
	e.t.Helper()
	return sandboxtest.SCA(e.t, e.browser, authorizeURL, user, password, decision)
}

const redirectURI = "https://tpp.example/callback"

// consent runs the whole AIS consent of a persona and returns its session.
// consented is a test's sandbox bank, its connector to bankID (mod applied) and a session
// under a consent persona authorised (with its name as the password).
func consented(t *testing.T, bankID, persona string, mod ...func(*berlingroup.Config)) (*env, *berlingroup.Client, bank.Session) {
	t.Helper()
	e := newEnv(t)
	c := e.connector(bankID, mod...)
	return e, c, e.consent(context.Background(), c, persona, persona)
}

func (e *env) consent(ctx context.Context, c bank.Connector, persona, password string) bank.Session {
	e.t.Helper()
	verifier, challenge := bank.NewPKCE()
	state := bank.NewState()
	start, err := c.CreateConsent(ctx, bank.ConsentRequest{
		Access:     []string{bank.AccessAccounts, bank.AccessBalances, bank.AccessTransactions},
		ValidUntil: e.clock.Now().AddDate(0, 0, 90), FrequencyPerDay: 4,
		RedirectURI: redirectURI, State: state, CodeChallenge: challenge, PSUPresent: true, PSUIPAddress: "203.0.113.7",
	})
	if err != nil {
		e.t.Fatalf("CreateConsent: %v", err)
	}
	back := e.sca(start.AuthorizeURL, persona, password, "approve")
	if err := bank.AuthorizationError(back.Query()); err != nil {
		e.t.Fatalf("authorization: %v", err)
	}
	if back.Query().Get("state") != state {
		e.t.Fatalf("state not returned")
	}
	tok, err := c.ExchangeCode(ctx, back.Query().Get("code"), verifier, redirectURI)
	if err != nil {
		e.t.Fatalf("ExchangeCode: %v", err)
	}
	return bank.Session{BankConsentID: start.BankConsentID, AccessToken: tok.AccessToken}
}

func wantKind(t *testing.T, err error, k bank.Kind) {
	t.Helper()
	if got := bank.KindOf(err); got != k {
		t.Fatalf("error kind = %v, want %v (err: %v)", got, k, err)
	}
}
