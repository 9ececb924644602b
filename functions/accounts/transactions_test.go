package accounts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/shopspring/decimal"

	"tokapi.io/tok/functions/accounts"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/testenv"
)

// fakeBank is a connector with one account whose transactions the test sets.
type fakeBank struct {
	bank.Connector
	mu    sync.Mutex
	txns  []bank.Transaction
	delay time.Duration
	per   int
}

func (f *fakeBank) set(t []bank.Transaction) { f.mu.Lock(); f.txns = t; f.mu.Unlock() }

func (f *fakeBank) Accounts(context.Context, bank.Session) ([]bank.Account, error) {
	return []bank.Account{{ResourceID: "a1", IBAN: "RS35105008123123123173", Currency: "RSD"}}, nil
}
func (f *fakeBank) Balances(context.Context, bank.Session, string) ([]bank.Balance, error) {
	return []bank.Balance{{Type: "closingBooked", Amount: decimal.NewFromInt(5), Currency: "RSD"}}, nil
}
func (f *fakeBank) StandingOrders(context.Context, bank.Session, string) ([]bank.StandingOrder, error) {
	return nil, bank.ErrNotSupported
}
func (f *fakeBank) Transactions(ctx context.Context, _ bank.Session, _ string, _ bank.TransactionQuery, page func([]bank.Transaction) error) error {
	f.mu.Lock()
	all := slices.Clone(f.txns)
	f.mu.Unlock()
	per := f.per
	if per == 0 {
		per = 500
	}
	for i := 0; i < len(all); i += per {
		if f.delay > 0 {
			time.Sleep(f.delay)
		}
		if err := page(all[i:min(i+per, len(all))]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBank) Session(context.Context, store.Scope, string, *connections.PSU) (bank.Session, bank.Connector, error) {
	return bank.Session{}, f, nil
}

func (f *fakeBank) EndAtBank(context.Context, store.Scope, string, error) (bool, error) {
	return false, nil
}

var today = time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC)

// gen makes n booked transactions numbered from start, spread over 300 days.
func gen(start, n int) []bank.Transaction {
	out := make([]bank.Transaction, n)
	for i := range out {
		k := start + i
		d := today.AddDate(0, 0, -(k*7919)%300).Format(time.DateOnly)
		out[i] = bank.Transaction{BankTransactionID: fmt.Sprintf("B%06d", k), Status: bank.StatusBooked, BookingDate: d, ValueDate: d,
			Amount: decimal.NewFromInt(int64(100 + k)), Direction: bank.DirectionOutbound, Currency: "RSD",
			CreditorName: "Shop", CreditorIBAN: "RS35105008000000019174", RemittanceInfo: fmt.Sprintf("Racun %d", k)}
	}
	return out
}

type fixture struct {
	fs    *firestore.Client
	scope store.Scope
	bank  *fakeBank
	w     *banksync.Worker
	h     http.Handler
	acc   string
	cxn   string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureFor(t, testenv.Firestore(t, testenv.Project(t)), tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)})
}

// newFixtureFor is a fixture of the tenant ten on fs.
func newFixtureFor(t testing.TB, fs *firestore.Client, ten tenant.Tenant) *fixture {
	t.Helper()
	f := &fixture{fs: fs, scope: store.For(fs, ten), bank: &fakeBank{}, cxn: ids.New(connections.PrefixConnection)}
	_, err := f.scope.Collection(connections.CollConnections).Doc(f.cxn).Set(context.Background(), connections.Connection{
		ID: f.cxn, Env: ten.Env, OrgID: ten.OrgID, BankID: "sandbox-rs", ConsentID: ids.New(ids.Consent), Status: connections.StatusActive, FrequencyPerDay: 4,
		ValidUntil: today.AddDate(0, 0, 90)})
	if err != nil {
		t.Fatal(err)
	}
	catalogue, err := bankcatalog.Load("http://sandbox-bank.invalid")
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return today.Add(10 * time.Hour) }
	conns := &connections.Service{Repo: connections.NewRepo(fs), Connectors: connectors.New(catalogue, nil), Now: now}
	f.acc = connections.AccountID(ten, "sandbox-rs", "RS35105008123123123173", "a1")
	f.w = &banksync.Worker{FS: fs, Sessions: f.bank, Connections: conns.Repo, Accounts: conns, Now: now}
	rt := accounts.NewHandler(&accounts.Deps{Repo: conns.Repo, Now: now})
	// What the auth middleware does for an admitted key: the rate-limit headers, the tenant.
	// The emulator's full scans under a concurrent sync of thousands of rows can take longer
	// than a request's deadline on a loaded machine; these tests are about the walk.
	f.h = httpapi.MiddlewareWithTimeout("test", time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ratelimit.Decision{Allowed: true, Limit: 1000, Remaining: 199, Reset: time.Now()}.SetHeaders(w.Header())
		ctx := httpapi.WithCursorKey(tenant.With(r.Context(), ten), httpapi.DeriveCursorKey([]byte("test pepper")))
		rt.ServeHTTP(w, r.WithContext(ctx))
	}))
	return f
}

func (f *fixture) sync(t testing.TB) banksync.Result {
	t.Helper()
	ten := f.scope.Tenant()
	res, err := f.w.Handle(context.Background(), banksync.Request{Env: ten.Env, OrgID: ten.OrgID, ConnectionID: f.cxn, Attended: true})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) get(t testing.TB, path string, q url.Values) *httptest.ResponseRecorder {
	t.Helper()
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return apitest.Do(t, f.h, httptest.NewRequest(http.MethodGet, u, nil))
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

type walk struct {
	f      *fixture
	limit  int
	q      url.Values
	cursor string
	done   bool
	ids    []string
}

func (w *walk) next(t testing.TB) {
	q := url.Values{"limit": {fmt.Sprint(w.limit)}}
	for k, v := range w.q {
		q[k] = v
	}
	if w.cursor != "" {
		q.Set("cursor", w.cursor)
	}
	l := decode[httpapi.List[accounts.View]](t, w.f.get(t, "/v1/accounts/"+w.f.acc+"/transactions", q))
	for _, v := range l.Data {
		w.ids = append(w.ids, v.ID)
	}
	if !l.HasMore {
		w.done = true
		return
	}
	w.cursor = *l.NextCursor
}

func TestPageWalkStableWhileSyncing(t *testing.T) {
	f := newFixture(t)
	f.bank.set(gen(0, 1500))
	f.sync(t)
	w100, w500 := &walk{f: f, limit: 100}, &walk{f: f, limit: 500}
	w100.next(t)
	w500.next(t)
	// A sync now adds 1500 rows across the whole date range, page by page, while both walks go on.
	f.bank.set(append(gen(0, 1500), gen(1500, 1500)...))
	f.bank.per, f.bank.delay = 100, 15*time.Millisecond
	done := make(chan banksync.Result)
	go func() { done <- f.sync(t) }()
	for !w100.done || !w500.done {
		if !w100.done {
			w100.next(t)
		}
		if !w500.done && len(w500.ids) < len(w100.ids) {
			w500.next(t)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res := <-done
	if res.Created != 1500 {
		t.Fatalf("concurrent sync created %d", res.Created)
	}
	if !slices.Equal(w100.ids, w500.ids) || len(w100.ids) != 1500 {
		t.Fatalf("limit=100 walk has %d rows, limit=500 walk %d, equal=%v", len(w100.ids), len(w500.ids), slices.Equal(w100.ids, w500.ids))
	}
	seen := map[string]bool{}
	for _, id := range w100.ids {
		if seen[id] {
			t.Fatalf("row %s repeated", id)
		}
		seen[id] = true
	}
	// A new walk sees all 3000, newest first with the ID tie-break.
	all := &walk{f: f, limit: 500}
	for !all.done {
		all.next(t)
	}
	if len(all.ids) != 3000 {
		t.Fatalf("fresh walk: %d rows", len(all.ids))
	}
}

func TestFiltersChangesAndErrors(t *testing.T) {
	f := newFixture(t)
	txns := gen(0, 300)
	pend := today.Format(time.DateOnly)
	txns = append(txns, bank.Transaction{BankTransactionID: "P1", EntryReference: "E1", Status: bank.StatusPending, ValueDate: pend,
		Amount: decimal.NewFromInt(42), Direction: bank.DirectionOutbound, Currency: "RSD", CreditorName: "Cafe"})
	f.bank.set(txns)
	f.sync(t)
	base := "/v1/accounts/" + f.acc + "/transactions"

	// Filters.
	from, to := today.AddDate(0, 0, -30).Format(time.DateOnly), today.AddDate(0, 0, -10).Format(time.DateOnly)
	l := decode[httpapi.List[accounts.View]](t, f.get(t, base, url.Values{"dateFrom": {from}, "dateTo": {to}, "status": {"booked"}, "limit": {"500"}}))
	want := 0
	for _, x := range txns {
		if x.Status == bank.StatusBooked && x.BookingDate >= from && x.BookingDate <= to {
			want++
		}
	}
	if len(l.Data) != want || want == 0 {
		t.Fatalf("date filter: %d rows, want %d", len(l.Data), want)
	}
	for i, v := range l.Data {
		if *v.BookingDate < from || *v.BookingDate > to || v.Status != "booked" || v.Source != "open_banking" {
			t.Fatalf("row %+v outside the filter", v)
		}
		if i > 0 && (*l.Data[i-1].BookingDate < *v.BookingDate || (*l.Data[i-1].BookingDate == *v.BookingDate && l.Data[i-1].ID < v.ID)) {
			t.Fatal("not newest first with the ID tie-break")
		}
	}
	p := decode[httpapi.List[accounts.View]](t, f.get(t, base, url.Values{"status": {"pending"}}))
	if len(p.Data) != 1 || p.Data[0].BookingDate != nil || p.Data[0].Amount != "42.0000" {
		t.Fatalf("pending: %+v", p.Data)
	}
	one := decode[accounts.View](t, f.get(t, base+"/"+p.Data[0].ID, nil))
	if one.ID != p.Data[0].ID {
		t.Fatal("get one")
	}

	// Changes feed: all as added, then only what the next sync changed.
	ch := decode[accounts.ChangesPage](t, f.get(t, base+"/changes", url.Values{"limit": {"500"}}))
	if len(ch.Data) != 301 || ch.HasMore || ch.Data[0].Type != "added" {
		t.Fatalf("first changes: %d hasMore=%v", len(ch.Data), ch.HasMore)
	}
	booked := txns[300]
	booked.BankTransactionID, booked.Status, booked.BookingDate = "B-P1", bank.StatusBooked, pend
	f.bank.set(append(append(gen(0, 300), gen(300, 5)...), booked))
	f.sync(t)
	ch2 := decode[accounts.ChangesPage](t, f.get(t, base+"/changes", url.Values{"cursor": {ch.NextCursor}}))
	kinds := map[string]int{}
	for _, c := range ch2.Data {
		kinds[c.Type]++
	}
	if kinds["added"] != 5 || kinds["modified"] != 1 || len(ch2.Data) != 6 {
		t.Fatalf("second changes: %v", kinds)
	}
	ch3 := decode[accounts.ChangesPage](t, f.get(t, base+"/changes", url.Values{"cursor": {ch2.NextCursor}}))
	if len(ch3.Data) != 0 {
		t.Fatalf("idle changes: %d", len(ch3.Data))
	}

	// Invalid input is 400; unknown accounts 404; ended consents 403.
	for _, q := range []url.Values{{"dateFrom": {"2026-13-01"}}, {"dateTo": {"yesterday"}}, {"limit": {"0"}}, {"limit": {"501"}},
		{"limit": {"x"}}, {"cursor": {"garbage!"}}, {"cursor": {"eyJzIjoxfQ"}}, {"status": {"done"}},
		{"dateFrom": {"2026-02-02"}, "dateTo": {"2026-02-01"}}} {
		if rec := f.get(t, base, q); rec.Code != 400 {
			t.Errorf("%v: %d", q, rec.Code)
		}
	}
	if rec := f.get(t, base+"/changes", url.Values{"cursor": {"bm9wZQ"}}); rec.Code != 400 {
		t.Errorf("changes bad cursor: %d", rec.Code)
	}
	// A cursor is good only for the list and the filters it came from.
	page := decode[httpapi.List[accounts.View]](t, f.get(t, base, url.Values{"limit": {"1"}, "status": {"booked"}}))
	for name, c := range map[string]struct {
		path string
		q    url.Values
	}{
		"a transactions cursor on the changes feed": {base + "/changes", url.Values{"cursor": {*page.NextCursor}}},
		"a changes cursor on transactions":          {base, url.Values{"cursor": {ch.NextCursor}}},
		"a cursor of other filters":                 {base, url.Values{"cursor": {*page.NextCursor}, "status": {"pending"}}},
	} {
		if rec := f.get(t, c.path, c.q); rec.Code != 400 {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if rec := f.get(t, "/v1/accounts/"+ids.New(ids.Account)+"/transactions", nil); rec.Code != 404 {
		t.Errorf("unknown account: %d", rec.Code)
	}
	if rec := f.get(t, base+"/"+ids.New(ids.Transaction), nil); rec.Code != 404 {
		t.Errorf("unknown transaction: %d", rec.Code)
	}
	if rec := f.get(t, "/v1/accounts/"+f.acc+"/standing-orders", nil); rec.Code != 200 {
		t.Errorf("standing orders: %d", rec.Code)
	}
}

// Every route under /v1/accounts/{accountId} runs the one consent check of the function:
// a revoked, expired or vanished connection answers 403 before any data is read.
func TestEndedConsentAnswers403OnEveryAccountRoute(t *testing.T) {
	f := newFixture(t)
	f.bank.set(gen(0, 20))
	f.sync(t)
	base := "/v1/accounts/" + f.acc
	txn := decode[httpapi.List[accounts.View]](t, f.get(t, base+"/transactions", url.Values{"limit": {"1"}})).Data[0].ID
	routes := []string{base, base + "/balances", base + "/transactions", base + "/transactions/" + txn, base + "/transactions/changes",
		base + "/standing-orders", base + "/standing-orders/" + ids.New(ids.StandingOrder)}
	ctx := context.Background()
	cref := f.scope.Collection(connections.CollConnections).Doc(f.cxn)
	set := func(ups ...firestore.Update) {
		t.Helper()
		if _, err := cref.Update(ctx, ups); err != nil {
			t.Fatal(err)
		}
	}
	past := today.AddDate(0, 0, -1)
	for _, c := range []struct {
		name  string
		apply func()
		code  string
	}{
		{"revoked", func() { set(firestore.Update{Path: "status", Value: connections.StatusRevoked}) }, httpapi.CodeConsentRevoked},
		{"expired", func() { set(firestore.Update{Path: "status", Value: connections.StatusExpired}) }, httpapi.CodeConsentExpired},
		{"past validUntil", func() {
			set(firestore.Update{Path: "status", Value: connections.StatusActive}, firestore.Update{Path: "validUntil", Value: past})
		}, httpapi.CodeConsentExpired},
	} {
		c.apply()
		for _, route := range routes {
			rec := f.get(t, route, nil)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"`+c.code+`"`) {
				t.Errorf("%s: GET %s: %d %s", c.name, route, rec.Code, rec.Body)
			}
		}
	}
	// The same routes answer again once the consent is usable: the check alone made the 403s.
	set(firestore.Update{Path: "validUntil", Value: today.AddDate(0, 0, 90)})
	for _, route := range routes[:len(routes)-1] {
		if rec := f.get(t, route, nil); rec.Code != http.StatusOK {
			t.Errorf("active again: GET %s: %d %s", route, rec.Code, rec.Body)
		}
	}
	if _, err := cref.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := f.get(t, base+"/transactions", nil); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), httpapi.CodeConsentRevoked) {
		t.Errorf("connection gone: %d %s", rec.Code, rec.Body)
	}
}
