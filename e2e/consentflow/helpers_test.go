package consentflow_test

import (
	"bytes"
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
	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"tokapi.io/tok/functions/accounts"
	"tokapi.io/tok/functions/callback"
	"tokapi.io/tok/functions/consents"
	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/banksync"
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

// logBuffer captures every log line of the test (Tok's handlers log through slog.Default).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type fixture struct {
	t        *testing.T
	ctx      context.Context
	fs       *firestore.Client
	conns    *connections.Service
	repo     *orgs.Repo
	api      http.Handler // consents + accounts behind real authentication
	callback http.Handler
	browser  *http.Client
	logs     *logBuffer
	syncSub  *pubsub.Subscriber
	eventSub *pubsub.Subscriber
	kms      *kms.KeyManagementClient
	keyName  string
	worker   *banksync.Worker
}

const publicURL = "https://api.tok.test"

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	ps := testenv.PubSub(t, project)
	keyName := testenv.KMSKey(t, project)

	logs := &logBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	// The sandbox bank, in process (its own logs are the bank's, not Tok's).
	bankSrv := httptest.NewServer(sandboxbank.New(sandboxbank.Options{Store: sandboxbank.FirestoreStore{Client: fs},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
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
	topics := map[string]*pubsub.Subscriber{}
	for _, topic := range []string{"tok-events", banksync.RequestsTopic} {
		tp, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + topic + "-test", Topic: tp.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		topics[topic] = ps.Subscriber(sub.GetName())
	}
	cx := connectors.New(catalogue, secretstest.Map{"sandbox-bank-client-id": "tok-test", "sandbox-bank-client-secret": "s3cret"})
	cx.Configure = func(c *berlingroup.Config) { c.Retries = 1; c.Backoff = 10 * time.Millisecond }
	conns := &connections.Service{Repo: connections.NewRepo(fs), Vault: &tokenvault.Vault{Client: fs, Sealer: sealer}, Connectors: cx,
		Events: events.NewPublisher(ps, "tok-events")}
	states := authstate.Store{Client: fs, Sealer: sealer}

	pepper := orgstest.Pepper(t)
	repo := orgs.New(fs, pepper)
	cs := consents.NewHandler(&consents.Server{Conns: conns, States: states, Orgs: repo, PublicURL: publicURL})
	ah := accounts.NewHandler(&accounts.Deps{Repo: conns.Repo})
	mux := http.NewServeMux()
	mux.Handle("/v1/consents", cs)
	mux.Handle("/v1/consents/", cs)
	mux.Handle("/v1/accounts", ah)
	mux.Handle("/v1/accounts/", ah)
	authn := auth.New(repo, pepper, ratelimit.New(fs))
	api := httpapi.Middleware(project, authn.Middleware((&idempotency.Store{Client: fs, Secret: pepper}).Middleware(mux)))
	cb := httpapi.Middleware(project, callback.NewHandler(&callback.Server{Conns: conns, States: states,
		Sync: banksync.NewRequestPublisher(ps, ""), PublicURL: publicURL}))
	return &fixture{t: t, ctx: ctx, fs: fs, conns: conns, repo: repo, api: api, callback: cb,
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		logs:    logs, syncSub: topics[banksync.RequestsTopic], eventSub: topics["tok-events"], kms: kc, keyName: keyName,
		worker: &banksync.Worker{FS: fs, Sessions: conns, Connections: conns.Repo, Accounts: conns, Events: conns.Events}}
}

// syncNext runs the sync worker on the next sync request published (as the syncworker
// function does on its push) and returns the worker's result.
func (f *fixture) syncNext() banksync.Result {
	f.t.Helper()
	msgs := received(f.t, f.syncSub, 1, 10*time.Second)
	if len(msgs) != 1 {
		f.t.Fatalf("sync requests: %d, want 1", len(msgs))
	}
	var req banksync.Request
	if err := json.Unmarshal(msgs[0], &req); err != nil {
		f.t.Fatal(err)
	}
	res, err := f.worker.Handle(f.ctx, req)
	if err != nil {
		f.t.Fatalf("sync %+v: %v", req, err)
	}
	return res
}

// withVault is the fixture's Service with a copy of its token vault changed by change.
func (f *fixture) withVault(change func(*tokenvault.Vault)) *connections.Service {
	v := *f.conns.Vault
	change(&v)
	s := *f.conns
	s.Vault = &v
	return &s
}

// org creates an organisation whose callbacks may go to https://app.example.com.
func (f *fixture) org() (orgs.Org, orgs.NewKeyPair) {
	f.t.Helper()
	return orgstest.Org(f.t, f.repo, orgs.TierEnterprise)
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	return apitest.Object(t, r.code, r.body)
}

func (r response) errCode(t *testing.T) string {
	t.Helper()
	return apitest.ErrorCode(t, r.code, r.body)
}

func (f *fixture) call(method, path, key, body string, hdr ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
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
	if len(r.body) > 0 && r.body[0] == '{' {
		return r.json(f.t)
	}
	return nil
}

// sca completes the sandbox bank's SCA pages as a browser without JavaScript would and
// returns the bank's redirect to Tok's callback.
func (f *fixture) sca(authorizeURL, user, password, decision string) *url.URL {
	f.t.Helper()
	return f.scaAt(authorizeURL, publicURL+"/v1/callback?", user, password, decision)
}

// scaAt is sca for a bank redirect that must start with prefix (the stack's callback URL).
func (f *fixture) scaAt(authorizeURL, prefix, user, password, decision string) *url.URL {
	f.t.Helper()
	loc := sandboxtest.SCA(f.t, f.browser, authorizeURL, user, password, decision)
	if !strings.HasPrefix(loc.String(), prefix) {
		f.t.Fatalf("bank redirect %q", loc)
	}
	return loc
}

// back sends the bank's redirect to the callback function and returns its response.
func (f *fixture) back(loc *url.URL) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, loc.RequestURI(), nil)
	req.RemoteAddr = "203.0.113.9:5555"
	return apitest.Do(f.t, f.callback, req)
}

// connect runs a whole consent for persona and returns the consent ID.
func (f *fixture) connect(key, bankID, persona string) (string, url.Values) {
	f.t.Helper()
	c := f.expect(f.call("POST", "/v1/consents", key, `{"bankId":"`+bankID+`","callbackUrl":"https://app.example.com/cb?x=1"}`), 201, "create consent")
	loc := f.sca(c["redirectUrl"].(string), persona, persona, "approve")
	rec := f.back(loc)
	if rec.Code != http.StatusSeeOther {
		f.t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	to, _ := url.Parse(rec.Header().Get("Location"))
	return c["id"].(string), to.Query()
}

// received pulls the messages published so far on a test subscription (waits up to d).
func received(t *testing.T, sub *pubsub.Subscriber, want int, d time.Duration) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var mu sync.Mutex
	var out [][]byte
	_ = sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		out = append(out, m.Data)
		if len(out) >= want {
			cancel()
		}
		mu.Unlock()
	})
	return out
}

func (f *fixture) repoKey(orgID string, role string) string {
	f.t.Helper()
	p, err := f.repo.CreateKeyPair(f.ctx, orgID, role, orgs.CreatedByCLI)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.SandboxKey
}

func newSealer(t *testing.T, f *fixture) *envelope.Sealer {
	t.Helper()
	s, err := envelope.New(envelope.NewKMS(f.kms), f.keyName)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
