package banksync

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/syncdue"
)

// Scheduler defaults.
const (
	// DefaultClaimFor is how far a claim moves nextSyncAt ahead; the worker sets the real
	// next slot, and a claim whose request was lost comes due again after it.
	DefaultClaimFor = 30 * time.Minute
	// ClaimSpread is how far past ClaimFor claims are spread.
	ClaimSpread = 10 * time.Minute
	// DefaultPage is how many due connections one query reads.
	DefaultPage = 500
	// DefaultMaxPerTick and DefaultTickBudget bound one tick; what is left stays due, oldest
	// first, for the next tick.
	DefaultMaxPerTick = 50_000
	DefaultTickBudget = 4 * time.Minute
	// publishers is how many publishes are in flight at once; the Pub/Sub client batches
	// concurrent publishes into few requests.
	publishers = 64
)

// Scheduler finds the connections that have come due and publishes one sync request for
// each. It reads only the due-index buckets that have come due (shared/syncdue), page by
// page, and the connections they name; it claims each due connection by moving its
// nextSyncAt ClaimFor ahead (conditional on the document's update time, so two ticks never
// both claim a connection) and publishes the claimed ones concurrently. A tick's cost grows
// with what is due, not with how many connections exist. The worker's budget, not the
// scheduler, is what guarantees the per-day limit.
type Scheduler struct {
	FS         *firestore.Client
	Publish    func(ctx context.Context, r Request) error
	Now        func() time.Time
	ClaimFor   time.Duration // default DefaultClaimFor
	Page       int           // default DefaultPage
	MaxPerTick int           // default DefaultMaxPerTick
	Budget     time.Duration // default DefaultTickBudget
}

// TickStats is what one tick did.
type TickStats struct {
	// Queries run (Firestore bills an empty query as one read) and documents read: due
	// entries, the connections they name and the cursor.
	Queries, Read int
	// Claimed connections; Published sync requests; Skipped entries that no longer named a
	// due active connection (deleted).
	Claimed, Published, Skipped int
	Took                        time.Duration
}

func (s *Scheduler) defaults() (claim time.Duration, page, maxN int, budget time.Duration, now func() time.Time) {
	claim, page, maxN, budget, now = s.ClaimFor, s.Page, s.MaxPerTick, s.Budget, s.Now
	if claim == 0 {
		claim = DefaultClaimFor
	}
	if page == 0 {
		page = DefaultPage
	}
	if maxN == 0 {
		maxN = DefaultMaxPerTick
	}
	if budget == 0 {
		budget = DefaultTickBudget
	}
	if now == nil {
		now = time.Now
	}
	return
}

// tick is one Tick's state.
type tick struct {
	*Scheduler
	st         TickStats
	start, now time.Time
	until      time.Time
	page, maxN int
	budget     time.Duration
}

// Tick claims and publishes the due connections, bucket by bucket and page by page, until
// none is left, the tick's maximum is reached or its budget has passed, and records the
// buckets it finished.
func (s *Scheduler) Tick(ctx context.Context) (TickStats, error) {
	claim, page, maxN, budget, now := s.defaults()
	tk := &tick{Scheduler: s, start: time.Now(), now: now(), page: page, maxN: maxN, budget: budget}
	tk.until = tk.now.Add(claim)
	err := tk.run(ctx)
	tk.st.Took = time.Since(tk.start)
	return tk.st, err
}

func (tk *tick) run(ctx context.Context) error {
	from, err := syncdue.Resume(ctx, tk.FS, tk.now)
	tk.st.Read++
	if err != nil {
		return err
	}
	// finished is the last of the buckets read completely from the first on and past their
	// grace; the buckets after it are read again next tick.
	var finished time.Time
	contiguous := true
	for b := from; !b.After(syncdue.Bucket(tk.now)); b = b.Add(syncdue.Width) {
		complete, err := tk.bucket(ctx, b)
		if err != nil {
			return err
		}
		if !complete {
			break
		}
		if contiguous = contiguous && syncdue.Finishable(b, tk.now); contiguous {
			finished = b
		}
	}
	if finished.IsZero() {
		return nil
	}
	return syncdue.Finish(ctx, tk.FS, finished)
}

// bucket claims and publishes the due entries of one bucket; complete is false when the
// tick's maximum or budget stopped it first.
func (tk *tick) bucket(ctx context.Context, b time.Time) (complete bool, err error) {
	q := syncdue.Entries(tk.FS, b).Where("at", "<=", tk.now).OrderBy("at", firestore.Asc)
	for {
		if tk.st.Published >= tk.maxN || time.Since(tk.start) >= tk.budget {
			return false, nil
		}
		limit := min(tk.page, tk.maxN-tk.st.Published)
		snaps, err := q.Limit(limit).Documents(ctx).GetAll()
		tk.st.Queries++
		if err != nil {
			return false, fmt.Errorf("read due connections: %w", err)
		}
		tk.st.Read += len(snaps)
		if len(snaps) == 0 {
			return true, nil
		}
		reqs, err := tk.claim(ctx, snaps)
		tk.st.Claimed += len(reqs)
		if err != nil {
			return false, err
		}
		n, err := tk.publish(ctx, reqs)
		tk.st.Published += n
		if err != nil {
			return false, err
		}
		if len(snaps) < limit {
			return true, nil
		}
		q = q.StartAfter(snaps[len(snaps)-1])
	}
}

// due is an entry whose connection is active and still due at the entry's time.
type due struct {
	entry     *firestore.DocumentSnapshot
	e         syncdue.Entry
	conn      *firestore.DocumentSnapshot
	req       Request
	next      *firestore.DocumentRef
	nextEntry syncdue.Entry
}

// claim claims the connections the entries name, and returns the requests of those it
// claimed. Entries that no longer name a due active connection are deleted. The order keeps
// every connection indexed whatever fails: the claim's new entry is written first, the
// connection claimed only if that worked, and the old entry deleted only once the claim is
// decided (a connection changed since it was read was claimed by another tick, synced or
// revoked, and has its own entry).
func (tk *tick) claim(ctx context.Context, snaps []*firestore.DocumentSnapshot) ([]Request, error) {
	var stale []*firestore.DocumentRef
	var cands []*due
	var refs []*firestore.DocumentRef
	for _, snap := range snaps {
		e, err := syncdue.Decode(snap)
		if err != nil {
			stale = append(stale, snap.Ref)
			continue
		}
		refs = append(refs, store.For(tk.FS, e.Tenant).Collection(connections.CollConnections).Doc(e.ConnectionID))
		cands = append(cands, &due{entry: snap, e: e, req: Request{Env: e.Tenant.Env, OrgID: e.Tenant.OrgID, ConnectionID: e.ConnectionID, Reason: "scheduled"}})
	}
	var conns []*firestore.DocumentSnapshot
	if len(refs) > 0 {
		var err error
		if conns, err = tk.FS.GetAll(ctx, refs); err != nil {
			return nil, fmt.Errorf("read due connections: %w", err)
		}
		tk.st.Read += len(refs)
	}
	live := cands[:0]
	for i, d := range cands {
		d.conn = conns[i]
		if !stillDue(d.conn, d.e) {
			stale = append(stale, d.entry.Ref)
			continue
		}
		at := tk.until.Add(claimSpread(d.req.ConnectionID))
		d.next, d.nextEntry = syncdue.For(tk.FS, d.e.Tenant, d.req.ConnectionID, at, tk.now)
		live = append(live, d)
	}
	tk.st.Skipped += len(stale)

	// The claims' new entries, and away with the stale ones.
	var errs []error
	var err error
	bw := tk.FS.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, len(live))
	for i, d := range live {
		if jobs[i], err = bw.Set(d.next, d.nextEntry); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ref := range stale {
		if _, err := bw.Delete(ref); err != nil {
			errs = append(errs, err)
		}
	}
	bw.End()
	indexed := live[:0]
	for i, d := range live {
		if jobs[i] == nil {
			continue
		}
		if _, err := jobs[i].Results(); err != nil {
			errs = append(errs, fmt.Errorf("index the claim of %s: %w", d.req.ConnectionID, err))
			continue
		}
		indexed = append(indexed, d)
	}

	// The claims themselves.
	bw = tk.FS.BulkWriter(ctx)
	jobs = jobs[:len(indexed)]
	for i, d := range indexed {
		jobs[i], err = bw.Update(d.conn.Ref, []firestore.Update{{Path: "nextSyncAt", Value: d.nextEntry.At}}, firestore.LastUpdateTime(d.conn.UpdateTime))
		if err != nil {
			errs = append(errs, fmt.Errorf("claim %s: %w", d.req.ConnectionID, err))
		}
	}
	bw.End()
	var reqs []Request
	var done []*firestore.DocumentRef
	for i, d := range indexed {
		if jobs[i] == nil {
			continue
		}
		_, err := jobs[i].Results()
		switch status.Code(err) {
		case codes.OK:
			reqs = append(reqs, d.req)
			done = append(done, d.entry.Ref)
		case codes.FailedPrecondition, codes.NotFound:
			done = append(done, d.entry.Ref)
		default:
			errs = append(errs, fmt.Errorf("claim %s: %w", d.req.ConnectionID, err))
		}
	}

	// The claimed entries are spent; one left behind is stale and goes at the next read.
	bw = tk.FS.BulkWriter(ctx)
	for _, ref := range done {
		if _, err := bw.Delete(ref); err != nil {
			errs = append(errs, err)
		}
	}
	bw.End()
	return reqs, errors.Join(errs...)
}

// stillDue reports whether the connection is active and due at the entry's time.
func stillDue(conn *firestore.DocumentSnapshot, e syncdue.Entry) bool {
	if !conn.Exists() {
		return false
	}
	var c connections.Connection
	if err := conn.DataTo(&c); err != nil {
		return false
	}
	return c.Status == connections.StatusActive && c.NextSyncAt != nil && e.Matches(*c.NextSyncAt)
}

// claimSpread offsets a connection's claim by up to ClaimSpread (from its ID), so a page of
// claims does not write one nextSyncAt value many times: index entries of one value are a
// hot spot Firestore serves at about 500 writes a second.
func claimSpread(connectionID string) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(connectionID))
	return time.Duration(h.Sum64() % uint64(ClaimSpread)) //nolint:gosec // G115: the remainder is below ClaimSpread, an int64
}

// publish sends reqs, publishers at a time, and returns how many Pub/Sub took. A claimed
// connection whose request was not published comes due again when its claim runs out.
func (s *Scheduler) publish(ctx context.Context, reqs []Request) (int, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		n    int
		errs []error
		sem  = make(chan struct{}, publishers)
	)
	for _, r := range reqs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.Publish(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			n++
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}
