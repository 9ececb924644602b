package paymentflow_test

import (
	"context"
	"encoding/json"
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
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/getkin/kin-openapi/openapi3filter"

	"tokapi.io/tok/functions/accounts"
	"tokapi.io/tok/functions/callback"
	"tokapi.io/tok/functions/consents"
	"tokapi.io/tok/functions/payments"
	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/idempotency"
	"tokapi.io/tok/shared/orgs"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/sandboxbank"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/secretstest"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/tokenvault"
)

func init() {
	// The callback's 400 is an HTML page; let the spec check read it.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

// clock is a settable clock shared by the sandbox bank and Tok.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const publicURL = "https://api.tok.test"

type fixture struct {
	t        *testing.T
	ctx      context.Context
	fs       *firestore.Client
	clock    *clock
	svc      *pay.Service
	api      http.Handler
	callback http.Handler
	browser  *http.Client
	events   *pubsub.Subscriber
	polls    *pubsub.Subscriber
	repo     *orgs.Repo
	ps       *pubsub.Client
	project  string
	worker   *banksync.Worker
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	ps := testenv.PubSub(t, project)
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}

	bankSrv := httptest.NewServer(sandboxbank.New(sandboxbank.Options{Store: sandboxbank.FirestoreStore{Client: fs}, Now: clk.Now,
		SlowDelay: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(bankSrv.Close)
	catalogue, err := bankcatalog.Load(bankSrv.URL + sandboxbank.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	sealer := testenv.Sealer(t, project)
	subs := map[string]*pubsub.Subscriber{}
	for _, topic := range []string{"tok-events", pay.StatusTopic} {
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
	cx.Configure = func(c *berlingroup.Config) { c.Retries = 1; c.Backoff = 10 * time.Millisecond }
	conns := &connections.Service{Repo: connections.NewRepo(fs), Vault: &tokenvault.Vault{Client: fs, Sealer: sealer, Now: clk.Now},
		Connectors: cx, Events: events.NewPublisher(ps, "tok-events"), Now: clk.Now}
	states := authstate.Store{Client: fs, Sealer: sealer}

	pepper := orgstest.Pepper(t)
	repo := orgs.New(fs, pepper)
	svc := pay.ForConnections(conns, repo, pay.NewPollPublisher(ps, ""), publicURL)
	svc.QuickPolls = []time.Duration{0}
	ph := payments.NewHandler(svc)
	ch := consents.NewHandler(&consents.Server{Conns: conns, States: states, Orgs: repo, PublicURL: publicURL, Now: clk.Now})
	mux := http.NewServeMux()
	mux.Handle("/v1/payments", ph)
	mux.Handle("/v1/payments/", ph)
	mux.Handle("/v1/consents", ch)
	mux.Handle("/v1/funds-confirmations", ph)
	ah := accounts.NewHandler(&accounts.Deps{Repo: conns.Repo})
	mux.Handle("/v1/accounts", ah)
	mux.Handle("/v1/accounts/", ah)
	authn := auth.New(repo, pepper, ratelimit.New(fs))
	// As shared/platform serves it: every POST honours Idempotency-Key.
	api := httpapi.Middleware(project, authn.Middleware((&idempotency.Store{Client: fs, Secret: pepper, Now: clk.Now}).Middleware(mux)))
	cb := httpapi.Middleware(project, callback.NewHandler(&callback.Server{Conns: conns, States: states, PublicURL: publicURL, Now: clk.Now, Payments: svc}))
	worker := &banksync.Worker{FS: fs, Sessions: conns, Connections: conns.Repo, Accounts: conns, Events: conns.Events, Now: clk.Now,
		Reconciler: &pay.Reconciler{Store: svc.Store}}
	return &fixture{t: t, ctx: ctx, fs: fs, clock: clk, svc: svc, api: api, callback: cb, repo: repo, ps: ps, project: project, worker: worker,
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		events:  subs["tok-events"], polls: subs[pay.StatusTopic]}
}

func (f *fixture) org() (orgs.Org, orgs.NewKeyPair) {
	f.t.Helper()
	return orgstest.Org(f.t, f.repo, orgs.TierEnterprise)
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	return apitest.Object(t, r.code, r.body)
}

func (f *fixture) call(method, path, key, body string, hdr ...string) response {
	f.t.Helper()
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
	rec := apitest.Do(f.t, f.api, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (f *fixture) expect(r response, code int, what string) map[string]any {
	f.t.Helper()
	if r.code != code {
		f.t.Fatalf("%s: status %d, want %d: %s", what, r.code, code, r.body)
	}
	return r.obj(f.t)
}

// authorise walks the bank's SCA as user with decision and sends the bank's redirect to
// the callback; it returns the callback's redirect to the organisation's app.
func (f *fixture) authorise(redirectURL, user, decision string) *url.URL {
	f.t.Helper()
	return f.follow(sandboxtest.SCA(f.t, f.browser, redirectURL, user, user, decision))
}

// follow sends the bank's redirect to the callback and returns where it sent the browser.
func (f *fixture) follow(loc *url.URL) *url.URL {
	f.t.Helper()
	if !strings.HasPrefix(loc.String(), publicURL+"/v1/callback?") {
		f.t.Fatalf("bank redirect %q", loc)
	}
	req := httptest.NewRequest(http.MethodGet, loc.RequestURI(), nil)
	req.RemoteAddr = "203.0.113.9:5555"
	rec := apitest.Do(f.t, f.callback, req)
	if rec.Code != http.StatusSeeOther {
		f.t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	to, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		f.t.Fatal(err)
	}
	return to
}

// authoriseAtBankOnly completes the SCA at the bank but never follows its redirect to Tok
// (the customer closed the browser).
func (f *fixture) authoriseAtBankOnly(redirectURL, user string) {
	f.t.Helper()
	sandboxtest.SCA(f.t, f.browser, redirectURL, user, user, "approve")
}

// drain pulls what a subscription received within d (stopping early at want messages).
func drain(t *testing.T, sub *pubsub.Subscriber, want int, d time.Duration) []*pubsub.Message {
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

// paymentEvents pulls the payment events published so far, by ID.
func paymentEvents(t *testing.T, sub *pubsub.Subscriber, want int) []events.Event {
	t.Helper()
	var out []events.Event
	for _, m := range drain(t, sub, want, 5*time.Second) {
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Type, "payment.") {
			out = append(out, e)
		}
	}
	return out
}

// count is the number of payments stored under the tenant of key's organisation.
func (f *fixture) count(orgID string) int {
	f.t.Helper()
	n := 0
	for _, env := range []string{"live", "sandbox"} {
		docs, err := f.fs.Collection("envs").Doc(env).Collection("orgs").Doc(orgID).Collection(pay.Collection).Documents(f.ctx).GetAll()
		if err != nil {
			f.t.Fatal(err)
		}
		n += len(docs)
	}
	return n
}
