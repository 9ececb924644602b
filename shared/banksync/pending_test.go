package banksync_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/transactions"
)

// scriptedBank is a connector whose single account answers what the test sets, one
// transaction per page (so a sync streams several pages). Other methods are not used.
type scriptedBank struct {
	bank.Connector
	mu    sync.Mutex
	txns  []bank.Transaction
	pages int
}

var scriptedAccount = bank.Account{ResourceID: "acc-scripted", IBAN: "RS35105008123123123173", Currency: "RSD", Name: "Tekući račun"}

func (b *scriptedBank) set(t ...bank.Transaction) {
	b.mu.Lock()
	b.txns = slices.Clone(t)
	b.mu.Unlock()
}

func (b *scriptedBank) Accounts(context.Context, bank.Session) ([]bank.Account, error) {
	return []bank.Account{scriptedAccount}, nil
}

func (b *scriptedBank) Balances(context.Context, bank.Session, string) ([]bank.Balance, error) {
	return []bank.Balance{{Type: "closingBooked", Amount: decimal.NewFromInt(1000), Currency: "RSD"}}, nil
}

func (b *scriptedBank) Transactions(_ context.Context, _ bank.Session, _ string, _ bank.TransactionQuery, page func([]bank.Transaction) error) error {
	b.mu.Lock()
	list := slices.Clone(b.txns)
	b.mu.Unlock()
	for _, t := range list {
		b.pages++
		if err := page([]bank.Transaction{t}); err != nil {
			return err
		}
	}
	return nil
}

func (b *scriptedBank) StandingOrders(context.Context, bank.Session, string) ([]bank.StandingOrder, error) {
	return nil, bank.ErrNotSupported
}

// scriptedSource serves the scripted bank; consent endings go to the env's records.
type scriptedSource struct {
	source
	b *scriptedBank
}

func (s scriptedSource) Session(context.Context, store.Scope, string, *connections.PSU) (bank.Session, bank.Connector, error) {
	return bank.Session{BankConsentID: "scripted"}, s.b, nil
}

func scriptedEnv(t *testing.T) (*env, *scriptedBank, func() *banksync.Worker) {
	e := newEnv(t, "demo", 500)
	b := &scriptedBank{}
	return e, b, func() *banksync.Worker {
		w := e.worker()
		w.Sessions = scriptedSource{source{e}, b}
		return w
	}
}

// byID reads the scripted account's documents.
func scriptedDocs(t *testing.T, e *env) map[string]transactions.Doc {
	t.Helper()
	out := map[string]transactions.Doc{}
	for _, ds := range e.docs(t) {
		for _, d := range ds {
			if _, dup := out[d.ID]; dup {
				t.Fatalf("duplicate %s", d.ID)
			}
			out[d.ID] = d
		}
	}
	return out
}

func card(id, status, value, booking string, amount int64, merchant string) bank.Transaction {
	return bank.Transaction{BankTransactionID: id, Status: status, ValueDate: value, BookingDate: booking,
		Amount: decimal.NewFromInt(amount), Direction: bank.DirectionOutbound, Currency: "RSD",
		CreditorName: merchant, DebtorName: "Marko Petrović", DebtorIBAN: scriptedAccount.IBAN, RemittanceInfo: "Kartica *4821 " + merchant}
}

func eventIDs(t *testing.T, e *env, typ string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, ev := range e.events.byType(typ) {
		for _, id := range decodeIDs(t, ev) {
			n[id]++
		}
	}
	return n
}

// A bank without entry references books a card payment under a new bank ID: the booked
// entry takes over the pending document with the same amount, currency, direction and
// counterparty within MatchWindowDays (the closest one), keeping its Tok ID; a redelivered
// or later sync finds the match again and writes nothing.
func TestPendingToBookedHeuristicWithoutEntryReference(t *testing.T) {
	e, b, worker := scriptedEnv(t)
	ctx := context.Background()
	accID := e.accountID(scriptedAccount)
	// Two pending card payments of the same amount at the same merchant, three days apart,
	// one at another merchant, and one far outside the window.
	p1 := card("P-1", bank.StatusPending, "2026-04-19", "", 1234, "WOLT")
	p2 := card("P-2", bank.StatusPending, "2026-04-16", "", 1234, "WOLT")
	p3 := card("P-3", bank.StatusPending, "2026-04-19", "", 1234, "GLOVO")
	p4 := card("P-4", bank.StatusPending, "2026-04-01", "", 999, "LIDL")
	b.set(p1, p2, p3, p4)
	if _, err := worker().Handle(ctx, e.request(true)); err != nil {
		t.Fatal(err)
	}
	before := scriptedDocs(t, e)
	if len(before) != 4 {
		t.Fatalf("%d documents after the first sync, want 4", len(before))
	}
	id1, id2, id3 := transactions.IDFor(accID, p1), transactions.IDFor(accID, p2), transactions.IDFor(accID, p3)

	// Next day P-1 books as B-1 (value date a day later, within the window: P-1 is closer
	// than P-2); P-2, P-3 and P-4 are still pending. B-9 matches nothing: a new transaction.
	e.clock.Add(24 * time.Hour)
	b1 := card("B-1", bank.StatusBooked, "2026-04-20", "2026-04-21", 1234, "WOLT")
	b9 := card("B-9", bank.StatusBooked, "2026-04-20", "2026-04-20", 1234, "MAXI")
	b.set(b1, p2, p3, p4, b9)
	res, err := worker().Handle(ctx, e.request(true))
	if err != nil {
		t.Fatal(err)
	}
	after := scriptedDocs(t, e)
	if len(after) != 5 || res.Created != 1 {
		t.Fatalf("%d documents, %d created; want 5 and 1 (B-9)", len(after), res.Created)
	}
	d := after[id1]
	if d.Status != transactions.StatusBooked || d.BookingDate != "2026-04-21" || d.ExternalID != "B-1" ||
		!slices.Equal(d.BankIDs, []string{"P-1", "B-1"}) || d.MatchedAt == nil || !d.CreatedAt.Equal(before[id1].CreatedAt) {
		t.Fatalf("P-1 after booking: %+v", d)
	}
	if _, ok := after[transactions.IDFor(accID, b1)]; ok {
		t.Fatal("B-1 stored under its own ID as well")
	}
	for _, id := range []string{id2, id3} {
		if after[id].Status != transactions.StatusPending || len(after[id].BankIDs) != 1 {
			t.Errorf("%s matched: %+v", id, after[id])
		}
	}
	if up := eventIDs(t, e, banksync.EventUpdated); up[id1] != 1 || len(up) != 1 {
		t.Errorf("transactions.updated: %v, want only %s", up, id1)
	}

	// Redelivered, and a later sync: the match is found again (bankIds, matchedAt), nothing
	// is written, no event, P-2 is not taken for B-1.
	evs := len(e.events.evs)
	for range 2 {
		res, err = worker().Handle(ctx, e.request(true))
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 0 || res.Updated != 0 {
			t.Fatalf("resync changed %d/%d documents", res.Created, res.Updated)
		}
	}
	again := scriptedDocs(t, e)
	if len(again) != 5 || again[id2].Status != transactions.StatusPending {
		t.Fatalf("after resync: %d documents, P-2 %s", len(again), again[id2].Status)
	}
	if len(e.events.evs) != evs {
		t.Errorf("resync published %d events", len(e.events.evs)-evs)
	}
}

// A pending transaction that disappears without booking is noted missing at the first sync
// that does not see it, and marked removed by the first sync at least RemoveAfter (48 h)
// later, with one transactions.removed event. One that comes back is not removed.
func TestPendingDisappearsRemovedAfter48h(t *testing.T) {
	e, b, worker := scriptedEnv(t)
	ctx := context.Background()
	accID := e.accountID(scriptedAccount)
	gone := card("P-GONE", bank.StatusPending, "2026-04-19", "", 500, "CINEPLEXX")
	back := card("P-BACK", bank.StatusPending, "2026-04-19", "", 700, "ZARA")
	stay := card("B-STAY", bank.StatusBooked, "2026-04-18", "2026-04-18", 100, "LIDL")
	b.set(gone, back, stay)
	if _, err := worker().Handle(ctx, e.request(true)); err != nil {
		t.Fatal(err)
	}
	idGone, idBack := transactions.IDFor(accID, gone), transactions.IDFor(accID, back)
	sync := func(after time.Duration) map[string]transactions.Doc {
		t.Helper()
		e.clock.Add(after)
		if _, err := worker().Handle(ctx, e.request(true)); err != nil {
			t.Fatal(err)
		}
		return scriptedDocs(t, e)
	}
	start := e.clock.Now()
	b.set(stay) // both pending entries vanish
	ds := sync(time.Hour)
	if d := ds[idGone]; d.Status != transactions.StatusPending || d.MissingSince == nil || !d.MissingSince.Equal(start.Add(time.Hour)) {
		t.Fatalf("first sync without it: %+v", d)
	}
	ds = sync(47 * time.Hour) // 47 h missing
	if ds[idGone].Status != transactions.StatusPending {
		t.Fatalf("removed after %v", e.clock.Now().Sub(*ds[idGone].MissingSince))
	}
	b.set(stay, back) // P-BACK reappears: no longer missing
	ds = sync(30 * time.Minute)
	if d := ds[idBack]; d.Status != transactions.StatusPending || d.MissingSince != nil {
		t.Fatalf("reappeared: %+v", d)
	}
	if ds[idGone].Status != transactions.StatusPending {
		t.Fatal("removed before 48 h")
	}
	ds = sync(31 * time.Minute) // 48 h 01 min missing
	if d := ds[idGone]; d.Status != transactions.StatusRemoved {
		t.Fatalf("missing for %v and still %s", e.clock.Now().Sub(*d.MissingSince), d.Status)
	}
	if ds[idBack].Status != transactions.StatusPending || len(ds) != 3 {
		t.Fatalf("others: %+v (%d documents)", ds[idBack], len(ds))
	}
	if rm := eventIDs(t, e, banksync.EventRemoved); rm[idGone] != 1 || len(rm) != 1 {
		t.Fatalf("transactions.removed: %v", rm)
	}
	// Removed stays removed and is announced once.
	sync(6 * time.Hour)
	if rm := eventIDs(t, e, banksync.EventRemoved); rm[idGone] != 1 {
		t.Fatalf("transactions.removed again: %v", rm)
	}
}
