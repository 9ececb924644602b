package banksync

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/transactions"
)

// MatchWindowDays bounds the date distance of a heuristic pending-to-booked match.
const MatchWindowDays = 5

// txnSync writes one account's transactions from a stream of bank pages.
//
// Pending to booked: a booked entry with the entry reference of a pending one derives the
// same Tok ID (transactions.Identity), so it updates the same document. A booked entry
// without an entry reference that has no document yet is matched to an open pending
// transaction of the account with the same amount, currency, direction and counterparty
// (IBAN, else name) whose value date is at most MatchWindowDays away (closest first, then
// lowest ID); it takes over that document, whose bankIds then hold both bank IDs and whose
// matchedAt makes the match found again by a redelivered sync. A pending transaction absent
// from complete bank answers for RemoveAfter is marked removed.
type txnSync struct {
	w        *Worker
	scope    store.Scope
	c        connections.Connection
	accID    string
	accRef   *firestore.DocumentRef
	stateRef *firestore.DocumentRef
	st       transactions.State
	res      *Result

	lease *leaseHold

	col   *firestore.CollectionRef
	fresh bool                         // nothing was written for this account before this run
	open  map[string]*transactions.Doc // pending transactions by Tok ID
	alias map[string]string            // bank transaction ID -> Tok ID, for heuristic matches
	seen  map[string]bool
	page  int

	g *group // the open commit group, nil when every write is committed
	// changes are this run's changes, by Tok ID, while they are exactly the account's
	// uncommitted-or-unpublished range (the run started with everything committed and
	// published): publishChanges then needs no query. nil when unknown.
	changes map[string]change
}

// change is what an event needs of a written document.
type change struct {
	seq, createdSeq int64
	removed         bool
}

// maxKnownChanges bounds the changes a run remembers for its events; beyond it the events
// are read back from the store.
const maxKnownChanges = 50000

// group is a set of document writes in flight under allocated sequence numbers, whose
// committed mark is written once they have all succeeded. Pages stream into one group, so
// the writes of consecutive pages overlap instead of draining after every page.
//
// The results are collected as they arrive, so a group holds only the writes in flight,
// whatever its size.
type group struct {
	bw   *firestore.BulkWriter
	jobs chan *firestore.BulkWriterJob
	done chan struct{}
	err  error // the first failed write; read after done
	n    int
	ids  map[string]bool // a BulkWriter takes one write per document
}

func newGroup(ctx context.Context, fs *firestore.Client) *group {
	g := &group{bw: fs.BulkWriter(ctx), jobs: make(chan *firestore.BulkWriterJob, 512), done: make(chan struct{}), ids: map[string]bool{}}
	go func() {
		defer close(g.done)
		for j := range g.jobs {
			if _, err := j.Results(); err != nil && g.err == nil {
				g.err = err
			}
		}
	}()
	return g
}

func (g *group) add(id string, j *firestore.BulkWriterJob) {
	g.jobs <- j
	g.n++
	g.ids[id] = true
}

// wait waits for the group's writes, and returns the first error.
func (g *group) wait() error {
	g.bw.End()
	close(g.jobs)
	<-g.done
	return g.err
}

func (ts *txnSync) run(ctx context.Context, conn bank.Connector, s bank.Session, resourceID string, q bank.TransactionQuery) error {
	ts.col = ts.accRef.Collection(transactions.TransactionsCollection)
	ts.fresh = ts.st.SeqAllocated == 0
	ts.open, ts.alias, ts.seen = map[string]*transactions.Doc{}, map[string]string{}, map[string]bool{}
	if ts.st.PublishedSeq == ts.st.SeqCommitted && ts.st.SeqCommitted == ts.st.SeqAllocated {
		ts.changes = map[string]change{}
	}
	// Writes still in flight when the run stops (an error, a cancelled context) are waited
	// for before it returns: they may or may not land, never after the run is over.
	defer func() {
		if ts.g != nil {
			_ = ts.g.wait()
			ts.g = nil
		}
	}()
	if !ts.fresh {
		if err := ts.loadOpen(ctx); err != nil {
			return err
		}
	}
	// The bank walk and the writes overlap: the connector fetches page n+1 while page n is
	// written. At most two pages are held.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pages := make(chan []bank.Transaction, 1)
	var (
		wg   sync.WaitGroup
		werr error
	)
	wg.Go(func() {
		for p := range pages {
			if werr != nil {
				continue
			}
			if werr = ts.writePage(wctx, p); werr != nil {
				cancel(werr)
			}
		}
	})
	berr := conn.Transactions(wctx, s, resourceID, q, func(p []bank.Transaction) error {
		select {
		case pages <- p:
			return nil
		case <-wctx.Done():
			return context.Cause(wctx)
		}
	})
	close(pages)
	wg.Wait()
	if werr != nil {
		return werr
	}
	if berr != nil {
		return berr
	}
	if err := ts.finish(ctx); err != nil {
		return err
	}
	return ts.sweep(ctx)
}

func (ts *txnSync) loadOpen(ctx context.Context) error {
	add := func(it *firestore.DocumentIterator, open bool) error {
		return eachDoc(it, func(_ *firestore.DocumentSnapshot, d *transactions.Doc) error {
			if open {
				ts.open[d.ID] = d
			}
			for _, b := range d.BankIDs {
				ts.alias[b] = d.ID
			}
			return nil
		})
	}
	if err := add(transactions.PendingQuery(ts.col).Documents(ctx), true); err != nil {
		return err
	}
	since := ts.w.Now().AddDate(0, 0, -14)
	return add(ts.col.Where("matchedAt", ">=", since).Documents(ctx), false)
}

type item struct {
	id       string
	t        bank.Transaction
	existing *transactions.Doc
}

func (ts *txnSync) writePage(ctx context.Context, txns []bank.Transaction) error {
	ts.res.BankTransactions += len(txns)
	items := make([]*item, 0, len(txns))
	byID := make(map[string]*item, len(txns))
	for _, t := range txns {
		id := transactions.IDFor(ts.accID, t)
		if t.EntryReference == "" {
			if a, ok := ts.alias[t.BankTransactionID]; ok {
				id = a
			}
		}
		if prev, ok := byID[id]; ok { // the same entry twice: the booked one wins
			if t.Status == bank.StatusBooked {
				prev.t = t
			}
			continue
		}
		it := &item{id: id, t: t, existing: ts.open[id]}
		byID[id] = it
		items = append(items, it)
	}
	// Documents that may exist are read first: all of them when the account had documents
	// before this run, else only those this run already wrote (a row repeated by the bank).
	var refs []*firestore.DocumentRef
	var need []*item
	inGroup := false
	for _, it := range items {
		if it.existing == nil && (!ts.fresh || ts.seen[it.id]) {
			refs = append(refs, ts.col.Doc(it.id))
			need = append(need, it)
			inGroup = inGroup || (ts.g != nil && ts.g.ids[it.id])
		}
	}
	if inGroup { // read what is written, not what is in flight
		if err := ts.finish(ctx); err != nil {
			return err
		}
	}
	{
		if len(refs) > 0 {
			snaps, err := ts.w.FS.GetAll(ctx, refs)
			if err != nil {
				return err
			}
			for i, s := range snaps {
				if s.Exists() {
					var d transactions.Doc
					if err := s.DataTo(&d); err != nil {
						return err
					}
					need[i].existing = &d
				}
			}
		}
	}
	now := ts.w.Now()
	var changed []*transactions.Doc
	var created []bool
	for _, it := range items {
		matched := false
		if it.existing == nil && it.t.Status == bank.StatusBooked && it.t.EntryReference == "" {
			if p := ts.match(it.t); p != nil {
				it.id, it.existing, matched = p.ID, p, true
				ts.alias[it.t.BankTransactionID] = p.ID
			}
		}
		ts.seen[it.id] = true
		var d transactions.Doc
		if it.existing != nil {
			d = *it.existing
			d.BankIDs = append([]string(nil), it.existing.BankIDs...)
		} else {
			d = transactions.Doc{ID: it.id, AccountID: ts.accID, CreatedAt: now}
		}
		d.ConnectionID = ts.c.ID
		d.FromBank(it.t)
		if matched {
			d.MatchedAt = &now
		}
		if d.Status == transactions.StatusPending {
			ts.open[d.ID] = &d
		} else {
			delete(ts.open, d.ID)
		}
		if it.existing != nil && transactions.SameBankData(it.existing, &d) && !matched {
			continue
		}
		d.UpdatedAt = now
		changed = append(changed, &d)
		created = append(created, it.existing == nil)
	}
	if err := ts.commit(ctx, changed, created); err != nil {
		return err
	}
	ts.page++
	if ts.w.AfterPage != nil {
		ts.flush()
		return ts.w.AfterPage(ts.accID, ts.page)
	}
	return nil
}

// commit writes changed documents under freshly allocated change sequence numbers: the
// allocation is durable before any document carries it, and the committed mark moves only
// after every document is written. Documents join the open group (their writes start at
// once); the group is committed when it holds CommitEvery documents, at the end of the
// walk, or before a document already in it is written again.
func (ts *txnSync) commit(ctx context.Context, docs []*transactions.Doc, created []bool) error {
	if err := ts.lease.ensure(ctx); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	if ts.g != nil {
		for _, d := range docs {
			if ts.g.ids[d.ID] {
				if err := ts.finish(ctx); err != nil {
					return err
				}
				break
			}
		}
	}
	base := ts.st.SeqAllocated
	ts.st.SeqAllocated += int64(len(docs))
	if _, err := ts.stateRef.Set(ctx, map[string]any{"seqAllocated": ts.st.SeqAllocated}, firestore.MergeAll); err != nil {
		return err
	}
	if ts.g == nil {
		ts.g = newGroup(ctx, ts.w.FS)
	}
	g := ts.g
	for i, d := range docs {
		d.ChangeSeq = base + int64(i) + 1
		if created[i] {
			d.CreatedSeq = d.ChangeSeq
			ts.res.Created++
		} else {
			ts.res.Updated++
			if d.Status == transactions.StatusRemoved {
				ts.res.Removed++
			}
		}
		j, err := g.bw.Set(ts.col.Doc(d.ID), d)
		if err != nil {
			return err
		}
		g.add(d.ID, j)
		if ts.changes != nil {
			ts.changes[d.ID] = change{seq: d.ChangeSeq, createdSeq: d.CreatedSeq, removed: d.Status == transactions.StatusRemoved}
		}
	}
	if len(ts.changes) > maxKnownChanges {
		ts.changes = nil
	}
	if g.n >= ts.w.CommitEvery {
		return ts.finish(ctx)
	}
	return nil
}

// flush sends the open group's writes and waits until they are done, without committing
// them (the state a worker killed between two commits leaves); a failed write is reported
// by the group's commit.
func (ts *txnSync) flush() {
	if ts.g != nil {
		ts.g.bw.Flush()
	}
}

// finish waits for the open group's writes and then moves the committed mark.
func (ts *txnSync) finish(ctx context.Context) error {
	g := ts.g
	if g == nil {
		return nil
	}
	ts.g = nil
	if err := g.wait(); err != nil {
		return err
	}
	if err := ts.lease.ensure(ctx); err != nil {
		return err
	}
	ts.st.SeqCommitted = ts.st.SeqAllocated
	_, err := ts.stateRef.Set(ctx, map[string]any{"seqCommitted": ts.st.SeqCommitted}, firestore.MergeAll)
	return err
}

// match finds the open pending transaction a booked entry without entry reference is.
func (ts *txnSync) match(t bank.Transaction) *transactions.Doc {
	var probe transactions.Doc
	probe.FromBank(t)
	date, err := time.Parse(time.DateOnly, firstNonEmpty(t.ValueDate, t.BookingDate))
	if err != nil {
		return nil
	}
	var cands []*transactions.Doc
	for _, p := range ts.open {
		if p.Status != transactions.StatusPending || ts.seen[p.ID] || p.Amount != probe.Amount ||
			p.Currency != probe.Currency || p.Direction != probe.Direction || !sameCounterparty(p, &probe) {
			continue
		}
		pd, err := time.Parse(time.DateOnly, p.ValueDate)
		if err != nil || absDays(pd.Sub(date)) > MatchWindowDays {
			continue
		}
		cands = append(cands, p)
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		di, dj := dist(cands[i], date), dist(cands[j], date)
		if di != dj {
			return di < dj
		}
		return cands[i].ID < cands[j].ID
	})
	return cands[0]
}

func dist(d *transactions.Doc, date time.Time) int {
	pd, _ := time.Parse(time.DateOnly, d.ValueDate)
	return absDays(pd.Sub(date))
}

func absDays(d time.Duration) int {
	if d < 0 {
		d = -d
	}
	return int(d / (24 * time.Hour))
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sameCounterparty compares the other side of two transactions of one account: the
// creditor of an outbound one, the debtor of an inbound one. The account's own side is the
// same on every transaction, so it says nothing about whether two entries are one.
func sameCounterparty(a, b *transactions.Doc) bool {
	ia, na := counterparty(a)
	ib, nb := counterparty(b)
	if ia != "" || ib != "" {
		return ia == ib
	}
	return na == nb
}

// counterparty is the IBAN and name of the other side of a transaction.
func counterparty(d *transactions.Doc) (iban, name string) {
	if d.Direction == bank.DirectionInbound {
		return d.DebtorIBAN, d.DebtorName
	}
	return d.CreditorIBAN, d.CreditorName
}

// sweep handles open pending transactions this complete sync did not see: first noted as
// missing, removed once missing for RemoveAfter.
func (ts *txnSync) sweep(ctx context.Context) error {
	now := ts.w.Now()
	var changed []*transactions.Doc
	var marks []*transactions.Doc
	for id, p := range ts.open {
		if ts.seen[id] || p.Status != transactions.StatusPending {
			continue
		}
		d := *p
		switch {
		case d.MissingSince == nil:
			d.MissingSince = &now
			marks = append(marks, &d)
		case now.Sub(*d.MissingSince) >= ts.w.RemoveAfter:
			d.Status = transactions.StatusRemoved
			d.UpdatedAt = now
			changed = append(changed, &d)
		}
	}
	for _, d := range marks { // bookkeeping only: not a change clients see
		if _, err := ts.col.Doc(d.ID).Update(ctx, []firestore.Update{{Path: "missingSince", Value: *d.MissingSince}}); err != nil {
			return err
		}
	}
	if err := ts.commit(ctx, changed, make([]bool, len(changed))); err != nil {
		return err
	}
	return ts.finish(ctx)
}

// eachDoc decodes the transactions of it one at a time (a sync may read many) and calls f
// with each, until the last or f's first error.
func eachDoc(it *firestore.DocumentIterator, f func(*firestore.DocumentSnapshot, *transactions.Doc) error) error {
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		var d transactions.Doc
		if err := snap.DataTo(&d); err != nil {
			return err
		}
		if err := f(snap, &d); err != nil {
			return err
		}
	}
}
