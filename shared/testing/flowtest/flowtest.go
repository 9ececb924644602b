// Package flowtest is the stack that tests composing several functions in one process
// (e2e/...) share: the sandbox bank in process, a connections service whose vault seals
// under a fresh KMS key, the authorisation state store, an organisation repository, a test
// subscription per topic, and the API behind real authentication and Idempotency-Key as
// shared/platform serves it. The tests add the function handlers. Only tests import it.
package flowtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/idempotency"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/sandboxbank"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/secretstest"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/tokenvault"
)

// PublicURL is the API's base URL in these tests; the bank sends the customer back to
// PublicURL + "/v1/callback".
const PublicURL = "https://api.tok.test"

// EventsTopic is the domain events topic the connections service publishes to.
const EventsTopic = "tok-events"

// Options change the stack.
type Options struct {
	// Now is the clock of the bank, the vault, the connections and Idempotency-Key; nil is
	// the system clock.
	Now func() time.Time
	// Topics are created with one test subscription each, in Stack.Subs.
	Topics []string
	// BankSlowDelay is the sandbox bank's delay for its slow persona (0: its default).
	BankSlowDelay time.Duration
}

// Stack is one test's stack on a fresh project.
type Stack struct {
	T       *testing.T
	Ctx     context.Context
	Project string
	FS      *firestore.Client
	PS      *pubsub.Client
	KMS     *kms.KeyManagementClient
	KeyName string // the KMS key that wraps the vault's data keys
	Sealer  *envelope.Sealer
	Conns   *connections.Service
	States  authstate.Store
	Repo    *orgs.Repo
	Pepper  []byte
	Subs    map[string]*pubsub.Subscriber
	// Browser is a client that stops at redirects, as a test following them needs.
	Browser *http.Client
	// API and Callback are what Serve made of the tests' handlers.
	API, Callback http.Handler

	now func() time.Time
}

// New starts the stack for t.
func New(t *testing.T, o Options) *Stack {
	t.Helper()
	ctx := t.Context()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	ps := testenv.PubSub(t, project)
	keyName := testenv.KMSKey(t, project)

	// The sandbox bank, in process (its logs are the bank's, not Tok's).
	bankSrv := httptest.NewServer(sandboxbank.New(sandboxbank.Options{Store: sandboxbank.FirestoreStore{Client: fs}, Now: o.Now,
		SlowDelay: o.BankSlowDelay, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(bankSrv.Close)
	catalogue, err := bankcatalog.Load(bankSrv.URL + sandboxbank.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kms.NewKeyManagementClient(ctx, gcp.EmulatorOptions(testenv.KMSEndpoint(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.Close() })
	sealer, err := envelope.New(envelope.NewKMS(kc), keyName)
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]*pubsub.Subscriber{}
	for _, topic := range o.Topics {
		tp, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + topic + "-test", Topic: tp.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		subs[topic] = ps.Subscriber(sub.GetName())
	}
	cx := connectors.New(catalogue, secretstest.Map{"sandbox-bank-client-id": "tok-test", "sandbox-bank-client-secret": "s3cret"})
	// A short breaker cooldown: bursts on a loaded machine time some bank calls out, and the
	// next test must not find the circuit open (the breaker has its own tests).
	cx.Configure = func(c *berlingroup.Config) {
		c.Retries, c.Backoff, c.BreakerCooldown = 1, 10*time.Millisecond, 500*time.Millisecond
	}
	pepper := orgstest.Pepper(t)
	return &Stack{T: t, Ctx: ctx, Project: project, FS: fs, PS: ps, KMS: kc, KeyName: keyName, Sealer: sealer,
		Conns: &connections.Service{Repo: connections.NewRepo(fs), Vault: &tokenvault.Vault{Client: fs, Sealer: sealer, Now: o.Now},
			Connectors: cx, Events: events.NewPublisher(ps, EventsTopic), Now: o.Now},
		States: authstate.Store{Client: fs, Sealer: sealer}, Repo: orgs.New(fs, pepper), Pepper: pepper, Subs: subs,
		Browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:     o.Now}
}

// Serve puts api behind the platform's envelope, API-key authentication, rate limit and
// Idempotency-Key, and callback behind the envelope only (it is public).
func (s *Stack) Serve(api, callback http.Handler) {
	authn := auth.New(s.Repo, s.Pepper, ratelimit.New(s.FS))
	idem := &idempotency.Store{Client: s.FS, Secret: s.Pepper, Now: s.now}
	s.API = httpapi.Middleware(s.Project, authn.Middleware(idem.Middleware(api)))
	s.Callback = httpapi.Middleware(s.Project, callback)
}

// Org creates an organisation whose callbacks may go to https://app.example.com.
func (s *Stack) Org() (orgs.Org, orgs.NewKeyPair) {
	s.T.Helper()
	return orgstest.Org(s.T, s.Repo, orgs.TierEnterprise)
}

// Response is an answer of the API.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// JSON is the answer's object, checked against the spec's shape of a JSON object.
func (r Response) JSON(t *testing.T) map[string]any {
	t.Helper()
	return apitest.Object(t, r.Code, r.Body)
}

// ErrCode is the error envelope's code.
func (r Response) ErrCode(t *testing.T) string {
	t.Helper()
	return apitest.ErrorCode(t, r.Code, r.Body)
}

// Call sends a request to the API with key (none when "") and body (JSON, none when ""),
// with header name-value pairs, from a fixed client address; the response is checked
// against the spec.
func (s *Stack) Call(method, path, key, body string, hdr ...string) Response {
	s.T.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "198.51.100.7:4444"
	if key != "" {
		req.Header.Set("Authorization", "ApiKey "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := apitest.Do(s.T, s.API, req)
	return Response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Expect fails the test unless r has status code, and returns its JSON object (nil for an
// answer that is not one).
func (s *Stack) Expect(r Response, code int, what string) map[string]any {
	s.T.Helper()
	if r.Code != code {
		s.T.Fatalf("%s: status %d, want %d: %s", what, r.Code, code, r.Body)
	}
	if len(r.Body) > 0 && r.Body[0] == '{' {
		return r.JSON(s.T)
	}
	return nil
}

// SCA completes the sandbox bank's pages as user with decision, as a browser without
// JavaScript would, and returns the bank's redirect, which must start with prefix.
func (s *Stack) SCA(authorizeURL, prefix, user, password, decision string) *url.URL {
	s.T.Helper()
	loc := sandboxtest.SCA(s.T, s.Browser, authorizeURL, user, password, decision)
	if !strings.HasPrefix(loc.String(), prefix) {
		s.T.Fatalf("bank redirect %q", loc)
	}
	return loc
}

// Back sends the bank's redirect to the callback, from the customer's browser.
func (s *Stack) Back(loc *url.URL) *httptest.ResponseRecorder {
	s.T.Helper()
	req := httptest.NewRequest(http.MethodGet, loc.RequestURI(), nil)
	req.RemoteAddr = "203.0.113.9:5555"
	return apitest.Do(s.T, s.Callback, req)
}

// Received pulls what sub received within d, stopping early at want messages.
func Received(t *testing.T, sub *pubsub.Subscriber, want int, d time.Duration) []*pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var mu sync.Mutex
	var out []*pubsub.Message
	_ = sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		out = append(out, m)
		if len(out) >= want {
			cancel()
		}
		mu.Unlock()
	})
	return out
}
