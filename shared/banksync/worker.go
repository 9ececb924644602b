package banksync

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/transactions"
)

// Defaults of the worker.
const (
	DefaultFrequencyPerDay = 4
	// DefaultOverlap is how far before the watermark a sync asks again, for late bookings.
	DefaultOverlap = 7 * 24 * time.Hour
	// DefaultFirstSyncDays is how far back the attended first sync asks (the bank may
	// answer less); DefaultUnattendedHistoryDays bounds a first sync without the PSU (PSD2
	// banks allow 90 days unattended).
	DefaultFirstSyncDays         = 730
	DefaultUnattendedHistoryDays = 89
	// DefaultRemoveAfter is how long a pending transaction may be absent from the bank's
	// answers before it is marked removed.
	DefaultRemoveAfter = 48 * time.Hour
	DefaultLeaseTTL    = 5 * time.Minute
	// DefaultCommitEvery is how many document writes a commit group holds: the committed
	// mark is written once per group, and the writes of a group's pages overlap.
	DefaultCommitEvery = 5000
	// EventChunk bounds the IDs in one transactions.* event.
	EventChunk = 1000
)

// Event types the worker publishes.
const (
	EventCreated        = "transactions.created"
	EventUpdated        = "transactions.updated"
	EventRemoved        = "transactions.removed"
	EventBalanceUpdated = "account.balance_updated"
	EventSyncFailed     = "sync.failed"
	EventSyncCompleted  = "sync.completed"
)

// Publisher publishes domain events (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, t tenant.Tenant, e events.Event) error
}

// Worker syncs one connection per Request. It is safe under at-least-once delivery:
//   - one worker per connection at a time, through a lease document with an expiry that is
//     renewed whenever a third of its TTL has passed (checked before every page's writes and
//     every commit; a worker that lost it stops writing);
//   - transaction IDs are derived from the account and the bank's identity of the
//     transaction (transactions.IDFor), and every write is an upsert;
//   - the change sequence is allocated before documents are written and committed after;
//     the watermark and the published-events mark advance only after the data is written,
//     so a redelivered request re-reads what a killed worker did not finish and publishes
//     the events it did not publish (with the same event IDs);
//   - unattended bank accesses are reserved per consent, resource and UTC day before the
//     bank is called (Budget), and ACCESS_EXCEEDED reschedules to the next day.
type Worker struct {
	FS          *firestore.Client
	Sessions    SessionSource
	Connections Connections
	Accounts    Accounts
	Events      Publisher
	Now         func() time.Time
	Log         *slog.Logger

	Overlap               time.Duration
	FirstSyncDays         int
	UnattendedHistoryDays int
	RemoveAfter           time.Duration
	LeaseTTL              time.Duration
	// CommitEvery bounds the document writes between two commits of the change sequence
	// (DefaultCommitEvery when 0).
	CommitEvery int
	// Holder names this worker in leases (random when empty).
	Holder string
	// AfterPage, when set, runs after each page is written (tests kill the worker here).
	AfterPage func(accountID string, page int) error
	// Reconciler (optional) links each synced account's booked transactions to the
	// payments they executed, once the account's transactions are written.
	Reconciler Reconciler
}

func (w *Worker) defaults() {
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Overlap == 0 {
		w.Overlap = DefaultOverlap
	}
	if w.FirstSyncDays == 0 {
		w.FirstSyncDays = DefaultFirstSyncDays
	}
	if w.UnattendedHistoryDays == 0 {
		w.UnattendedHistoryDays = DefaultUnattendedHistoryDays
	}
	if w.RemoveAfter == 0 {
		w.RemoveAfter = DefaultRemoveAfter
	}
	if w.LeaseTTL == 0 {
		w.LeaseTTL = DefaultLeaseTTL
	}
	if w.CommitEvery <= 0 {
		w.CommitEvery = DefaultCommitEvery
	}
	if w.Holder == "" {
		w.Holder = ids.New("wrk")
	}
}

// Result summarises one sync.
type Result struct {
	Accounts         int
	Created, Updated int
	Removed          int
	Skipped          string // why nothing was synced (busy, inactive, budget)
	NextSyncAt       time.Time
	StandingOrders   int
	BankTransactions int
}

// Handle syncs the connection of req. It returns an error only when a redelivery may
// succeed (Firestore, context); bank failures are recorded, rescheduled and published as
// sync.failed.
func (w *Worker) Handle(ctx context.Context, req Request) (Result, error) {
	w.defaults()
	t := req.Tenant()
	if !req.valid() {
		w.Log.WarnContext(ctx, "sync request without tenant or connection; dropped")
		return Result{Skipped: "invalid request"}, nil
	}
	scope := store.For(w.FS, t)
	c, err := w.Connections.Get(ctx, scope, req.ConnectionID)
	if errors.Is(err, connections.ErrNotFound) {
		return Result{Skipped: "no such connection"}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if st := c.EffectiveStatus(w.Now()); st != connections.StatusActive {
		return Result{Skipped: "connection " + st}, nil
	}
	lease := leaseRef(scope, c.ID)
	hold := &leaseHold{fs: w.FS, ref: lease, holder: w.Holder, ttl: w.LeaseTTL, now: w.Now, renewed: w.Now()}
	if err := acquire(ctx, w.FS, lease, w.Holder, hold.renewed, w.LeaseTTL, false); err != nil {
		if errors.Is(err, ErrBusy) {
			if req.Attended {
				return Result{}, err // the first sync must happen: let Pub/Sub retry it
			}
			return Result{Skipped: "busy"}, nil
		}
		return Result{}, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := release(rctx, w.FS, lease, w.Holder); err != nil {
			w.Log.WarnContext(ctx, "release sync lease", "error", err)
		}
	}()

	res, err := w.sync(ctx, scope, c, req, hold)
	now := w.Now()
	switch {
	case err == nil:
		res.NextSyncAt = NextSlot(c.ID, now, c.FrequencyPerDay, true)
		if err := w.Connections.Synced(ctx, scope, c.ID, &now, res.NextSyncAt); err != nil {
			return res, err
		}
		if req.Reason != ReasonRefresh || w.Events == nil {
			return res, nil
		}
		ev, err := events.New(EventSyncCompleted, map[string]any{"connectionId": c.ID, "consentId": c.ConsentID, "bankId": c.BankID,
			"reason": req.Reason, "attended": req.Attended, "accounts": res.Accounts, "created": res.Created, "updated": res.Updated,
			"removed": res.Removed, "lastSyncAt": now, "nextSyncAt": res.NextSyncAt}, now)
		if err != nil {
			return res, err
		}
		return res, w.Events.Publish(ctx, scope.Tenant(), ev)
	case errors.Is(err, ErrBudget) || bank.KindOf(err) == bank.AccessExceeded:
		// Used up for today: the next UTC day, at a spread offset into it.
		res.NextSyncAt = NextDay(now)
		res.Skipped = "budget"
		w.Log.InfoContext(ctx, "sync rescheduled: unattended accesses used up", "connectionId", c.ID, "next", res.NextSyncAt, "error", err)
		return res, w.Connections.Synced(ctx, scope, c.ID, nil, res.NextSyncAt)
	case bank.KindOf(err) != bank.Unknown:
		// The bank failed: record, tell the organisation, retry later (not by redelivery,
		// which would spend accesses in a storm).
		kind := bank.KindOf(err)
		res.NextSyncAt = now.Add(30 * time.Minute)
		ended, endErr := w.Sessions.EndAtBank(ctx, scope, c.ID, err)
		if endErr != nil {
			return res, endErr // the consent must not stay AUTHORIZED: let a redelivery end it
		}
		if ended {
			res.NextSyncAt = now.AddDate(0, 0, 1)
		}
		w.Log.WarnContext(ctx, "sync failed at the bank", "connectionId", c.ID, "kind", kind.String(), "error", err)
		ev, eerr := events.New(EventSyncFailed, map[string]any{"connectionId": c.ID, "bankId": c.BankID,
			"reason": kind.String(), "nextSyncAt": res.NextSyncAt}, now)
		if eerr == nil && w.Events != nil {
			if perr := w.Events.Publish(ctx, scope.Tenant(), ev); perr != nil {
				return res, perr
			}
		}
		return res, w.Connections.Synced(ctx, scope, c.ID, nil, res.NextSyncAt)
	default:
		return res, err
	}
}

// NextSlot is a connection's next unattended sync: frequencyPerDay syncs a day (minus one
// slot kept for standing orders, which banks count as a transactions access) one period of
// 24h/n apart, each connection at its own phase in the period (from its ID), so connections
// authorised or synced in the same minute do not stay bunched. The next slot is at least
// three quarters of a period after now.
func NextSlot(connectionID string, now time.Time, frequencyPerDay int, standingOrders bool) time.Time {
	n := frequencyPerDay
	if n <= 0 {
		n = DefaultFrequencyPerDay
	}
	if standingOrders && n > 1 {
		n--
	}
	period := 24 * time.Hour / time.Duration(n)
	h := fnv.New64a()
	_, _ = h.Write([]byte(connectionID))
	phase := time.Duration(h.Sum64() % uint64(period)) //nolint:gosec // G115: the remainder is below period, an int64
	earliest := now.Add(period * 3 / 4)
	// The first slot of this phase at or after earliest.
	since := earliest.Sub(time.Unix(0, 0).Add(phase))
	return earliest.Add((period - since%period) % period).Truncate(time.Second)
}

// DayAfter is the start of the next UTC day, when the unattended accesses are counted anew.
func DayAfter(now time.Time) time.Time {
	return now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
}

// NextDay is a moment early in the next UTC day, jittered so connections do not all fire at
// midnight.
func NextDay(now time.Time) time.Time {
	return DayAfter(now).Add(time.Duration(rand.Int64N(int64(2 * time.Hour)))) //nolint:gosec // G404: spreading syncs needs no cryptographic randomness
}

func (w *Worker) reserve(ctx context.Context, scope store.Scope, c connections.Connection, req Request, resource string) error {
	if req.Attended {
		return nil
	}
	_, err := Budget{FS: w.FS}.Reserve(ctx, scope, c, resource, w.Now())
	return err
}

func (w *Worker) sync(ctx context.Context, scope store.Scope, c connections.Connection, req Request, hold *leaseHold) (Result, error) {
	var res Result
	if !req.Reserved {
		if err := w.reserve(ctx, scope, c, req, SyncResource); err != nil {
			return res, err
		}
	}
	var psu *connections.PSU
	if req.Attended {
		psu = &connections.PSU{IPAddress: req.PSUIPAddress}
	}
	session, conn, err := w.Sessions.Session(ctx, scope, c.ID, psu)
	if err != nil {
		return res, err
	}
	if err := w.reserve(ctx, scope, c, req, "accounts"); err != nil {
		return res, err
	}
	accts, err := conn.Accounts(ctx, session)
	if err != nil {
		return res, err
	}
	for _, a := range accts {
		accID, err := w.Accounts.UpsertAccount(ctx, scope, c, a)
		if err != nil {
			return res, err
		}
		if err := w.syncAccount(ctx, scope, c, req, session, conn, accID, a, hold, &res); err != nil {
			return res, fmt.Errorf("account %s: %w", accID, err)
		}
		res.Accounts++
	}
	return res, nil
}

func (w *Worker) syncAccount(ctx context.Context, scope store.Scope, c connections.Connection, req Request, s bank.Session,
	conn bank.Connector, accID string, a bank.Account, hold *leaseHold, res *Result) error {
	accRef := scope.Collection(transactions.AccountsCollection).Doc(accID)
	stateRef := transactions.StateRef(accRef)

	// Balances.
	if err := w.reserve(ctx, scope, c, req, "balances:"+a.ResourceID); err != nil {
		return err
	}
	bals, err := conn.Balances(ctx, s, a.ResourceID)
	if err != nil {
		return err
	}
	changed, err := w.Accounts.SetBalances(ctx, scope, accID, bals, w.Now())
	if err != nil {
		return err
	}
	if changed && w.Events != nil {
		list := make([]map[string]string, 0, len(bals))
		for _, b := range bals {
			list = append(list, map[string]string{"type": b.Type, "amount": b.Amount.StringFixed(4), "currency": b.Currency})
		}
		ev, err := events.New(EventBalanceUpdated, map[string]any{"accountId": accID, "connectionId": c.ID, "balances": list}, w.Now())
		if err != nil {
			return err
		}
		if err := w.Events.Publish(ctx, scope.Tenant(), ev); err != nil {
			return err
		}
	}

	// Transactions.
	st, err := transactions.ReadState(ctx, stateRef)
	if err != nil {
		return err
	}
	today := w.Now().UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -w.FirstSyncDays)
	if !req.Attended {
		from = today.AddDate(0, 0, -w.UnattendedHistoryDays)
	}
	if st.Watermark != "" {
		wm, err := time.Parse(time.DateOnly, st.Watermark)
		if err == nil {
			from = wm.Add(-w.Overlap)
		}
	}
	if err := w.reserve(ctx, scope, c, req, "transactions:"+a.ResourceID); err != nil {
		return err
	}
	ts := &txnSync{w: w, scope: scope, c: c, accID: accID, accRef: accRef, stateRef: stateRef, st: st, res: res, lease: hold}
	if err := ts.run(ctx, conn, s, a.ResourceID, bank.TransactionQuery{DateFrom: from, Status: bank.StatusBoth}); err != nil {
		return err
	}
	// The watermark moves only now that everything up to today is written (and with the
	// published mark, once the events are published).
	if err := w.publishChanges(ctx, scope, c, accID, accRef, stateRef, ts.st, ts.changes,
		map[string]any{"watermark": today.Format(time.DateOnly), "lastSyncAt": w.Now()}); err != nil {
		return err
	}
	if w.Reconciler != nil {
		// A failure only delays the links: the next sync of the account tries again.
		if err := w.Reconciler.Reconcile(ctx, scope, accID, a.IBAN); err != nil {
			w.Log.WarnContext(ctx, "reconciliation failed; the next sync tries again", "accountId", accID, "error", err)
		}
	}

	// Standing orders: at most once a day unattended, when the bank offers them and the
	// transactions resource has an access left (banks count them as one). A bank once found
	// not to offer them is asked again only with the PSU present, so an unattended access is
	// never spent on it.
	if !req.Attended && (st.StandingOrdersUnsupported || w.Now().Sub(st.StandingOrdersAt) < 20*time.Hour) {
		return nil
	}
	if err := w.reserve(ctx, scope, c, req, "transactions:"+a.ResourceID); err != nil {
		if errors.Is(err, ErrBudget) {
			return nil
		}
		return err
	}
	sos, err := conn.StandingOrders(ctx, s, a.ResourceID)
	if bank.KindOf(err) == bank.NotSupported {
		_, err = stateRef.Set(ctx, map[string]any{"standingOrdersUnsupported": true}, firestore.MergeAll)
		return err
	}
	if bank.KindOf(err) == bank.AccessExceeded {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := w.writeStandingOrders(ctx, accRef, accID, sos)
	if err != nil {
		return err
	}
	res.StandingOrders += n
	_, err = stateRef.Set(ctx, map[string]any{"standingOrdersAt": w.Now(), "standingOrdersUnsupported": false}, firestore.MergeAll)
	return err
}

func (w *Worker) writeStandingOrders(ctx context.Context, accRef *firestore.DocumentRef, accID string, sos []bank.StandingOrder) (int, error) {
	col := accRef.Collection(transactions.StandingOrdersCollection)
	existing, err := store.All[transactions.StandingOrderDoc](ctx, col.Query)
	if err != nil {
		return 0, err
	}
	old := map[string]transactions.StandingOrderDoc{}
	for _, d := range existing {
		old[d.ID] = d
	}
	now := w.Now()
	bw := w.FS.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	for _, so := range sos {
		d := transactions.StandingOrderFromBank(accID, so)
		prev, ok := old[d.ID]
		delete(old, d.ID)
		d.CreatedAt, d.UpdatedAt = now, now
		if ok {
			d.CreatedAt = prev.CreatedAt
			if prev.UpdatedAt.After(time.Time{}) {
				cmp := prev
				cmp.UpdatedAt = d.UpdatedAt
				if cmp == d {
					continue
				}
			}
		}
		j, err := bw.Set(col.Doc(d.ID), d)
		if err != nil {
			return 0, err
		}
		jobs = append(jobs, j)
	}
	for id := range old { // no longer at the bank: ended or cancelled
		j, err := bw.Delete(col.Doc(id))
		if err != nil {
			return 0, err
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return 0, err
		}
	}
	return len(sos), nil
}

// publishChanges publishes transactions.created/updated/removed for every change between the
// account's published mark and its committed sequence, in chunks of EventChunk IDs, with
// event IDs derived from the range, so a redelivered sync republishes exactly the same
// events (receivers deduplicate on the ID). Then it advances the published mark, writing
// also the fields of also.
//
// known, when not nil, holds every change of the run that ran against run (a run that
// started with everything committed and published, so its changes are exactly the range):
// if the stored state is still the run's, the events are built from it instead of a query.
func (w *Worker) publishChanges(ctx context.Context, scope store.Scope, c connections.Connection, accID string, accRef, stateRef *firestore.DocumentRef,
	run transactions.State, known map[string]change, also map[string]any) error {
	st, err := transactions.ReadState(ctx, stateRef)
	if err != nil {
		return err
	}
	byType := map[string][]string{}
	typeOf := map[string]string{"added": EventCreated, "modified": EventUpdated, "removed": EventRemoved}
	switch {
	case st.SeqCommitted <= st.PublishedSeq:
	case known != nil && st.PublishedSeq == run.PublishedSeq && st.SeqCommitted == run.SeqCommitted:
		list := make([]string, 0, len(known))
		for id := range known {
			list = append(list, id)
		}
		sort.Slice(list, func(i, j int) bool { return known[list[i]].seq < known[list[j]].seq })
		for _, id := range list {
			k := known[id]
			d := transactions.Doc{ChangeSeq: k.seq, CreatedSeq: k.createdSeq}
			if k.removed {
				d.Status = transactions.StatusRemoved
			}
			typ := typeOf[transactions.ChangeType(&d, st.PublishedSeq)]
			byType[typ] = append(byType[typ], id)
		}
	default:
		it := transactions.ChangesQuery(accRef.Collection(transactions.TransactionsCollection), st.PublishedSeq, st.SeqCommitted).
			Select("changeSeq", "createdSeq", "status").Documents(ctx)
		err := eachDoc(it, func(snap *firestore.DocumentSnapshot, d *transactions.Doc) error {
			typ := typeOf[transactions.ChangeType(d, st.PublishedSeq)]
			byType[typ] = append(byType[typ], snap.Ref.ID)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if w.Events != nil {
		for _, typ := range []string{EventCreated, EventUpdated, EventRemoved} {
			idsOf := byType[typ]
			for i := 0; i < len(idsOf); i += EventChunk {
				chunk := idsOf[i:min(i+EventChunk, len(idsOf))]
				ev, err := events.New(typ, map[string]any{"accountId": accID, "connectionId": c.ID, "transactionIds": chunk}, w.Now())
				if err != nil {
					return err
				}
				ev.ID = ids.Derive(ids.Event, accID, typ, fmt.Sprint(st.PublishedSeq), fmt.Sprint(st.SeqCommitted), fmt.Sprint(i))
				if err := w.Events.Publish(ctx, scope.Tenant(), ev); err != nil {
					return err
				}
			}
		}
	}
	up := map[string]any{"publishedSeq": max(st.SeqCommitted, st.PublishedSeq)}
	for k, v := range also {
		up[k] = v
	}
	_, err = stateRef.Set(ctx, up, firestore.MergeAll)
	return err
}
