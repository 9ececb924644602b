package banksync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/sandboxbank"
	"tokapi.io/tok/shared/transactions"
)

// checkExact asserts the store holds exactly the bank's transactions: one document per bank
// identity, none missing, none extra, none duplicated.
func checkExact(t *testing.T, e *env, from time.Time) int {
	t.Helper()
	truth := e.bankTruth(t, from)
	got := e.docs(t)
	horizon := e.clock.Now().AddDate(0, 0, 5-sandboxbank.HistoryDays).Format(time.DateOnly)
	total := 0
	for acc, want := range truth {
		seen := map[string]bool{}
		for _, d := range got[acc] {
			if seen[d.ID] {
				t.Fatalf("duplicate %s", d.ID)
			}
			seen[d.ID] = true
			// The sandbox bank's history is a window relative to its clock: older rows fall off.
			if _, ok := want[d.ID]; !ok && d.Status != transactions.StatusRemoved && d.Date > horizon {
				t.Errorf("account %s: stored %s (%s %s) is not at the bank", acc, d.ID, d.Status, d.ExternalID)
			}
		}
		for id := range want {
			if !seen[id] {
				t.Errorf("account %s: bank transaction %s lost", acc, id)
			}
		}
		total += len(want)
	}
	return total
}

func TestKilledMidSyncAndRedelivered(t *testing.T) {
	for _, mode := range []string{"page error", "context cancelled"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, "demo", 50)
			ctx := context.Background()
			w := e.worker()
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			errKilled := errors.New("killed")
			w.AfterPage = func(_ string, page int) error {
				if page == 3 {
					if mode == "context cancelled" {
						cancel()
						return nil
					}
					return errKilled
				}
				return nil
			}
			if _, err := w.Handle(wctx, e.request(true)); err == nil {
				t.Fatal("killed worker reported success")
			}
			partial := 0
			for _, ds := range e.docs(t) {
				partial += len(ds)
			}
			if partial == 0 {
				t.Fatal("the killed worker wrote nothing: the test kills too early")
			}
			// Redelivery to another instance; the first one's lease may still be there.
			e.clock.Add(banksync.DefaultLeaseTTL + time.Second)
			w2 := e.worker()
			res, err := w2.Handle(ctx, e.request(true))
			if err != nil {
				t.Fatal(err)
			}
			// And once more: nothing changes, no new events.
			before := len(e.events.evs)
			res2, err := e.worker().Handle(ctx, e.request(true))
			if err != nil {
				t.Fatal(err)
			}
			n := checkExact(t, e, e.clock.Now().AddDate(0, 0, -banksync.DefaultFirstSyncDays))
			if res2.Created != 0 || res2.Updated != 0 {
				t.Errorf("third delivery changed %d/%d documents", res2.Created, res2.Updated)
			}
			// Every stored transaction was announced exactly once as created.
			created := map[string]int{}
			for _, ev := range e.events.byType(banksync.EventCreated) {
				for _, id := range decodeIDs(t, ev) {
					created[id]++
				}
			}
			if len(created) != n {
				t.Errorf("transactions.created announced %d IDs, %d stored", len(created), n)
			}
			for id, k := range created {
				if k != 1 {
					t.Errorf("%s announced %d times", id, k)
				}
			}
			if len(e.events.evs) != before {
				t.Errorf("the idle redelivery published %d events", len(e.events.evs)-before)
			}
			t.Logf("%s: %d written before the kill, %d after redelivery (%d bank rows)", mode, partial, n, res.BankTransactions)
		})
	}
}

func TestPendingToBookedKeepsIDs(t *testing.T) {
	e := newEnv(t, "demo", 500)
	ctx := context.Background()
	if _, err := e.worker().Handle(ctx, e.request(true)); err != nil {
		t.Fatal(err)
	}
	pending := map[string]transactions.Doc{}
	for _, ds := range e.docs(t) {
		for _, d := range ds {
			if d.Status == transactions.StatusPending {
				pending[d.ID] = d
			}
		}
	}
	if len(pending) == 0 {
		t.Fatal("demo has no pending transactions")
	}
	// Four days later the card payments have booked under new bank transaction IDs.
	e.clock.Add(4 * 24 * time.Hour)
	res, err := e.worker().Handle(ctx, e.request(false))
	if err != nil || res.Skipped != "" {
		t.Fatalf("unattended sync: %+v %v", res, err)
	}
	byID := map[string]transactions.Doc{}
	refs := map[string]int{}
	for _, ds := range e.docs(t) {
		for _, d := range ds {
			byID[d.ID] = d
			if d.EntryReference != "" {
				refs[d.EntryReference]++
			}
		}
	}
	for id, p := range pending {
		d, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("pending %s vanished", id)
		case d.Status != transactions.StatusBooked || d.BookingDate == "" || d.ExternalID == p.ExternalID || len(d.BankIDs) != 2:
			t.Errorf("%s after booking: status %s booking %q external %s (was %s) bankIds %v", id, d.Status, d.BookingDate, d.ExternalID, p.ExternalID, d.BankIDs)
		case d.CreatedAt != p.CreatedAt.UTC() && !d.CreatedAt.Equal(p.CreatedAt):
			t.Errorf("%s createdAt changed", id)
		}
		if refs[p.EntryReference] != 1 {
			t.Errorf("entry %s stored %d times", p.EntryReference, refs[p.EntryReference])
		}
	}
	updated := map[string]bool{}
	for _, ev := range e.events.byType(banksync.EventUpdated) {
		for _, id := range decodeIDs(t, ev) {
			updated[id] = true
		}
	}
	for id := range pending {
		if !updated[id] {
			t.Errorf("%s booked without a transactions.updated event", id)
		}
	}
	checkExact(t, e, e.clock.Now().AddDate(0, 0, -4-banksync.DefaultFirstSyncDays))
	t.Logf("%d pending transactions booked under new bank IDs, Tok IDs kept", len(pending))
}

func TestUnattendedAccessesAtMostFourPerDay(t *testing.T) {
	e := newEnv(t, "demo", 500)
	ctx := context.Background()
	if _, err := e.worker().Handle(ctx, e.request(true)); err != nil { // attended: not counted
		t.Fatal(err)
	}
	synced, skipped := 0, 0
	// Ten deliveries an hour apart on one UTC day (ticks, redeliveries, duplicates).
	for range 10 {
		e.clock.Add(time.Hour)
		res, err := e.worker().Handle(ctx, e.request(false))
		if err != nil {
			t.Fatal(err)
		}
		if res.Skipped == "budget" {
			skipped++
			if res.NextSyncAt.UTC().Format(time.DateOnly) != e.clock.Now().AddDate(0, 0, 1).UTC().Format(time.DateOnly) {
				t.Errorf("rescheduled to %s, want tomorrow", res.NextSyncAt)
			}
		} else {
			synced++
		}
	}
	res, n := e.counter.max()
	if n > 4 || e.counter.e429.Load() != 0 {
		t.Fatalf("busiest resource %q had %d unattended accesses, %d answers 429", res, n, e.counter.e429.Load())
	}
	if synced != 4 || skipped != 6 {
		t.Fatalf("synced %d, skipped %d; want 4 and 6", synced, skipped)
	}
	// The next UTC day has a fresh allowance.
	e.clock.Add(24 * time.Hour)
	if r, err := e.worker().Handle(ctx, e.request(false)); err != nil || r.Skipped != "" {
		t.Fatalf("next day: %+v %v", r, err)
	}
	if _, n := e.counter.max(); n > 4 {
		t.Fatalf("%d accesses", n)
	}
	t.Logf("busiest resource %s: %d unattended accesses", res, n)
}

// The sandbox bank's next links seek to the day a page stopped at; the rows must be exactly
// those of skipping by position.
func TestSandboxPagingSeeksSameRows(t *testing.T) {
	e := newEnv(t, "business", 137)
	ctx := context.Background()
	s, accts := e.attendedAccounts(t)
	walk := func(resource string) (rows []string, pages int) {
		err := e.conn.Transactions(ctx, s, resource, bank.TransactionQuery{DateFrom: e.clock.Now().AddDate(0, 0, -120), Status: bank.StatusBoth},
			func(p []bank.Transaction) error {
				pages++
				for _, x := range p {
					rows = append(rows, x.BankTransactionID+"|"+x.EntryReference+"|"+x.BookingDate+"|"+x.Amount.String())
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		return rows, pages
	}
	for _, a := range accts {
		seek, pages := walk(a.ResourceID)
		e.counter.positional.Store(true)
		pos, _ := walk(a.ResourceID)
		e.counter.positional.Store(false)
		if pages < 3 || len(seek) != len(pos) {
			t.Fatalf("%s: %d pages; %d rows seeking, %d by position", a.ResourceID, pages, len(seek), len(pos))
		}
		for i := range seek {
			if seek[i] != pos[i] {
				t.Fatalf("%s: row %d is %s seeking, %s by position", a.ResourceID, i, seek[i], pos[i])
			}
		}
	}
}
