package consentflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"tokapi.io/tok/functions/accounts"
	"tokapi.io/tok/functions/callback"
	"tokapi.io/tok/functions/consents"
	"tokapi.io/tok/functions/sandbox"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/flowtest"
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

// fixture is the stack with the consents, accounts and callback functions.
type fixture struct {
	*flowtest.Stack
	logs     *logBuffer
	syncSub  *pubsub.Subscriber
	eventSub *pubsub.Subscriber
	worker   *banksync.Worker
}

const publicURL = flowtest.PublicURL

// setup is the stack with its first organisation, which every test starts from; it runs
// the test in parallel with the package's others: each has its own project on the
// emulators, its own bank and organisations.
func setup(t *testing.T) (*fixture, orgs.Org, orgs.NewKeyPair) {
	t.Helper()
	t.Parallel()
	return newFixture(t, nil)
}

// setupLogged is setup with every log line of the process in the fixture's logs, so its
// test must not run in parallel with others: it runs alone, before the parallel ones start.
func setupLogged(t *testing.T) (*fixture, orgs.Org, orgs.NewKeyPair) {
	t.Helper()
	logs := &logBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return newFixture(t, logs)
}

func newFixture(t *testing.T, logs *logBuffer) (*fixture, orgs.Org, orgs.NewKeyPair) {
	t.Helper()
	st := flowtest.New(t, flowtest.Options{Topics: []string{flowtest.EventsTopic, banksync.RequestsTopic}})
	cs := consents.NewHandler(&consents.Server{Conns: st.Conns, States: st.States, Orgs: st.Repo, Sync: banksync.NewRequestPublisher(st.PS, ""), PublicURL: publicURL})
	ah := accounts.NewHandler(&accounts.Deps{Repo: st.Conns.Repo})
	mux := http.NewServeMux()
	mux.Handle("/v1/consents", cs)
	mux.Handle("/v1/consents/", cs)
	mux.Handle("/v1/accounts", ah)
	mux.Handle("/v1/accounts/", ah)
	mux.Handle("/v1/sandbox/", sandbox.NewHandler(&sandbox.Server{Conns: st.Conns}))
	// These flows read the callback's own answer, however slowly a loaded machine runs it
	// (the waiting page is functions/callback's stack test).
	st.Serve(mux, callback.NewHandler(&callback.Server{Patience: time.Minute, Conns: st.Conns, States: st.States,
		Sync: banksync.NewRequestPublisher(st.PS, ""), PublicURL: publicURL}))
	f := &fixture{Stack: st, logs: logs, syncSub: st.Subs[banksync.RequestsTopic], eventSub: st.Subs[flowtest.EventsTopic],
		worker: &banksync.Worker{FS: st.FS, Sessions: st.Conns, Connections: st.Conns.Repo, Accounts: st.Conns, Events: st.Conns.Events}}
	org, keys := f.Org()
	return f, org, keys
}

// event waits up to d for the next event of type typ on the events subscription and returns
// its data; events of other types are consumed.
func (f *fixture) event(typ string, d time.Duration) map[string]any {
	f.T.Helper()
	ctx, cancel := context.WithTimeout(f.Ctx, d)
	defer cancel()
	var found map[string]any
	var once sync.Once
	_ = f.eventSub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		var e struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if json.Unmarshal(m.Data, &e) == nil && e.Type == typ {
			once.Do(func() { found = e.Data; cancel() })
		}
	})
	if found == nil {
		f.T.Fatalf("no %s event within %s", typ, d)
	}
	return found
}

// syncNext runs the sync worker on the next sync request published (as the syncworker
// function does on its push) and returns the worker's result.
func (f *fixture) syncNext() banksync.Result {
	f.T.Helper()
	msgs := received(f.T, f.syncSub, 1, 10*time.Second)
	if len(msgs) != 1 {
		f.T.Fatalf("sync requests: %d, want 1", len(msgs))
	}
	var req banksync.Request
	if err := json.Unmarshal(msgs[0], &req); err != nil {
		f.T.Fatal(err)
	}
	res, err := f.worker.Handle(f.Ctx, req)
	if err != nil {
		f.T.Fatalf("sync %+v: %v", req, err)
	}
	return res
}

// withVault is the fixture's Service with a copy of its token vault changed by change.
func (f *fixture) withVault(change func(*tokenvault.Vault)) *connections.Service {
	v := *f.Conns.Vault
	change(&v)
	s := *f.Conns
	s.Vault = &v
	return &s
}

// sca completes the sandbox bank's SCA pages as a browser without JavaScript would and
// returns the bank's redirect to Tok's callback.
func (f *fixture) sca(authorizeURL, user, password, decision string) *url.URL {
	f.T.Helper()
	return f.SCA(authorizeURL, publicURL+"/v1/callback?", user, password, decision)
}

// connect runs a whole consent for persona and returns the consent ID.
func (f *fixture) connect(key, bankID, persona string) (string, url.Values) {
	f.T.Helper()
	c := f.Expect(f.Call("POST", "/v1/consents", key, `{"bankId":"`+bankID+`","callbackUrl":"https://app.example.com/cb?x=1"}`), 201, "create consent")
	loc := f.sca(c["redirectUrl"].(string), persona, persona, "approve")
	rec := f.Back(loc)
	if rec.Code != http.StatusSeeOther {
		f.T.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	to, _ := url.Parse(rec.Header().Get("Location"))
	return c["id"].(string), to.Query()
}

// received pulls the messages published so far on a test subscription (waits up to d).
func received(t *testing.T, sub *pubsub.Subscriber, want int, d time.Duration) [][]byte {
	t.Helper()
	var out [][]byte
	for _, m := range flowtest.Received(t, sub, want, d) {
		out = append(out, m.Data)
	}
	return out
}

func (f *fixture) repoKey(orgID string, role string) string {
	f.T.Helper()
	p, err := f.Repo.CreateKeyPair(f.Ctx, orgID, role, orgs.CreatedByCLI)
	if err != nil {
		f.T.Fatal(err)
	}
	return p.SandboxKey
}

func newSealer(t *testing.T, f *fixture) *envelope.Sealer {
	t.Helper()
	s, err := envelope.New(envelope.NewKMS(f.KMS), f.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
