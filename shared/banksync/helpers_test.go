package banksync_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/sandboxbank"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/secretstest"
	"tokapi.io/tok/shared/testing/testclock"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/transactions"
)

var quiet = slog.New(slog.DiscardHandler)

// accessCounter counts, at the bank's door, unattended accesses (no PSU-IP-Address; a
// _links.next page is part of its access) per resource and UTC day, and 429 answers.
type accessCounter struct {
	base  http.RoundTripper
	clock *testclock.Clock
	mu    sync.Mutex
	n     map[string]int
	e429  atomic.Int64
	// positional drops the sandbox bank's dayCursor from next links, so pages skip by
	// position (pageIndex*itemsPerPage) instead of seeking.
	positional atomic.Bool
}

var bankPath = regexp.MustCompile(`/v1/(accounts.*)$`)

func (a *accessCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if a.positional.Load() && r.URL.Query().Has("dayCursor") {
		r = r.Clone(r.Context())
		q := r.URL.Query()
		q.Del("dayCursor")
		r.URL.RawQuery = q.Encode()
	}
	resp, err := a.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode == 429 {
		a.e429.Add(1)
	}
	if m := bankPath.FindStringSubmatch(r.URL.Path); m != nil && r.Header.Get("PSU-IP-Address") == "" &&
		r.URL.Query().Get("pageIndex") == "" && resp.StatusCode < 400 {
		key := a.clock.Now().UTC().Format(time.DateOnly) + " " + m[1]
		if r.URL.Query().Get("bookingStatus") == "information" {
			key += " (standing orders)"
		}
		a.mu.Lock()
		a.n[key]++
		a.mu.Unlock()
	}
	return resp, nil
}

// per resource and day, counting standing orders as the transactions resource.
func (a *accessCounter) max() (string, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	agg := map[string]int{}
	for k, v := range a.n {
		agg[strings.TrimSuffix(k, " (standing orders)")] += v
	}
	best, n := "", 0
	for k, v := range agg {
		if v > n {
			best, n = k, v
		}
	}
	return best, n
}

// fakeEvents records published events.
type fakeEvents struct {
	mu  sync.Mutex
	evs []events.Event
}

func (f *fakeEvents) Publish(_ context.Context, _ tenant.Tenant, e events.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evs = append(f.evs, e)
	return nil
}

func (f *fakeEvents) byType(typ string) []events.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []events.Event
	for _, e := range f.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// env is a sandbox bank on Firestore, a connector, a consent and a connection record.
type env struct {
	t       testing.TB
	project string
	fs      *firestore.Client
	clock   *testclock.Clock
	counter *accessCounter
	conn    *berlingroup.Client
	session bank.Session
	scope   store.Scope
	cxn     connections.Connection
	events  *fakeEvents
	// conns holds the records (accounts through the bank catalogue).
	conns *connections.Service
}

type source struct{ e *env }

func (s source) Session(_ context.Context, _ store.Scope, _ string, psu *connections.PSU) (bank.Session, bank.Connector, error) {
	if psu != nil {
		return s.e.attended(), s.e.conn, nil
	}
	return s.e.session, s.e.conn, nil
}

// attended is the env's session with the PSU present, as on a request the customer makes.
func (e *env) attended() bank.Session {
	s := e.session
	s.PSUPresent, s.PSUIPAddress = true, "203.0.113.7"
	return s
}

// attendedAccounts is the session attended and the bank's accounts read with it.
func (e *env) attendedAccounts(t testing.TB) (bank.Session, []bank.Account) {
	t.Helper()
	s := e.attended()
	accts, err := e.conn.Accounts(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return s, accts
}

func (s source) EndAtBank(ctx context.Context, scope store.Scope, connectionID string, err error) (bool, error) {
	return s.e.conns.EndAtBank(ctx, scope, connectionID, err)
}

func newEnv(t testing.TB, persona string, itemsPerPage int) *env {
	t.Helper()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	ck := testclock.New(time.Date(2026, 4, 20, 9, 30, 0, 0, time.UTC))
	srv := httptest.NewServer(sandboxbank.New(sandboxbank.Options{Store: sandboxbank.FirestoreStore{Client: fs}, Now: ck.Now,
		AccessTokenTTL: 365 * 24 * time.Hour, Logger: quiet}))
	t.Cleanup(srv.Close)
	counter := &accessCounter{base: http.DefaultTransport.(*http.Transport).Clone(), clock: ck, n: map[string]int{}}
	bankID := "sandbox-rs"
	base := srv.URL + "/sandbox-bank/banks/" + bankID + "/v1"
	c, err := berlingroup.New(berlingroup.Config{
		BankID: bankID + "#" + ids.New("t"), BaseURL: base,
		AuthorizeURL: strings.TrimSuffix(base, "/v1") + "/oauth2/authorize", TokenURL: strings.TrimSuffix(base, "/v1") + "/oauth2/token",
		ClientIDSecret: "client-id", ClientSecretSecret: "client-secret", StandingOrders: true,
		Timeout: 20 * time.Second, Backoff: 10 * time.Millisecond, Transport: counter, Now: ck.Now, Logger: quiet,
		ItemsPerPage: itemsPerPage,
	}, secretstest.Map{"client-id": "tok-test-client", "client-secret": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	catalogue, err := bankcatalog.Load(srv.URL + sandboxbank.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, project: project, fs: fs, clock: ck, counter: counter, conn: c, events: &fakeEvents{},
		conns: &connections.Service{Repo: connections.NewRepo(fs), Connectors: connectors.New(catalogue, nil), Now: ck.Now}}
	e.conns.Events = e.events
	e.session = e.consent(t, srv, persona)
	e.setTenant(t, tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)})
	return e
}

// setTenant puts the connection record into a tenant of its own.
func (e *env) setTenant(t testing.TB, ten tenant.Tenant) {
	t.Helper()
	e.scope = store.For(e.fs, ten)
	now := e.clock.Now()
	next := now
	e.cxn = connections.Connection{ID: ids.New(connections.PrefixConnection), Env: ten.Env, OrgID: ten.OrgID, BankID: "sandbox-rs",
		ConsentID: e.session.BankConsentID, Status: connections.StatusActive, FrequencyPerDay: 4,
		ValidUntil: now.AddDate(0, 0, 90), NextSyncAt: &next, CreatedAt: now, UpdatedAt: now}
	if _, err := e.scope.Collection(connections.CollConnections).Doc(e.cxn.ID).Set(context.Background(), e.cxn); err != nil {
		t.Fatal(err)
	}
}

// accountID is the Tok ID of a bank account of the connection.
func (e *env) accountID(a bank.Account) string {
	return connections.AccountID(e.scope.Tenant(), e.cxn.BankID, a.IBAN, a.ResourceID)
}

func (e *env) worker() *banksync.Worker {
	return &banksync.Worker{FS: e.fs, Sessions: source{e}, Connections: e.conns.Repo,
		Accounts: e.conns, Events: e.events, Now: e.clock.Now, Log: quiet}
}

func (e *env) request(attended bool) banksync.Request {
	t := e.scope.Tenant()
	return banksync.Request{Env: t.Env, OrgID: t.OrgID, ConnectionID: e.cxn.ID, Attended: attended, Reason: "test"}
}

// consent runs the sandbox bank's OAuth flow (SCA pages as a browser without JavaScript).
func (e *env) consent(t testing.TB, srv *httptest.Server, persona string) bank.Session {
	t.Helper()
	ctx := context.Background()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier, challenge := bank.NewPKCE()
	const redirect = "https://tpp.example/callback"
	start, err := e.conn.CreateConsent(ctx, bank.ConsentRequest{
		Access:     []string{bank.AccessAccounts, bank.AccessBalances, bank.AccessTransactions},
		ValidUntil: e.clock.Now().AddDate(0, 0, 90), FrequencyPerDay: 4,
		RedirectURI: redirect, State: bank.NewState(), CodeChallenge: challenge, PSUPresent: true, PSUIPAddress: "203.0.113.7",
	})
	if err != nil {
		t.Fatalf("CreateConsent: %v", err)
	}
	loc := sandboxtest.SCA(t, browser, start.AuthorizeURL, persona, persona, "approve")
	if loc.Query().Get("code") == "" {
		t.Fatalf("decision redirect without a code: %s", loc)
	}
	tok, err := e.conn.ExchangeCode(ctx, loc.Query().Get("code"), verifier, redirect)
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	return bank.Session{BankConsentID: start.BankConsentID, AccessToken: tok.AccessToken}
}

// docs reads every transaction of every account of the connection.
func (e *env) docs(t testing.TB) map[string][]transactions.Doc {
	t.Helper()
	ctx := context.Background()
	accts, err := e.scope.Collection("accounts").Where("connectionId", "==", e.cxn.ID).Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]transactions.Doc{}
	for _, a := range accts {
		snaps, err := a.Ref.Collection("transactions").Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			var d transactions.Doc
			if err := s.DataTo(&d); err != nil {
				t.Fatal(err)
			}
			out[a.Ref.ID] = append(out[a.Ref.ID], d)
		}
	}
	return out
}

// bankTruth fetches, attended, every transaction of every account from the bank now, keyed
// by account ID and bank identity.
func (e *env) bankTruth(t testing.TB, from time.Time) map[string]map[string]bank.Transaction {
	t.Helper()
	ctx := context.Background()
	s, accts := e.attendedAccounts(t)
	out := map[string]map[string]bank.Transaction{}
	for _, a := range accts {
		id := e.accountID(a)
		m := map[string]bank.Transaction{}
		err := e.conn.Transactions(ctx, s, a.ResourceID, bank.TransactionQuery{DateFrom: from, Status: bank.StatusBoth}, func(p []bank.Transaction) error {
			for _, x := range p {
				m[transactions.IDFor(id, x)] = x
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out[id] = m
	}
	return out
}

func decodeIDs(t testing.TB, ev events.Event) []string {
	t.Helper()
	var d struct {
		TransactionIDs []string `json:"transactionIds"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.TransactionIDs
}
