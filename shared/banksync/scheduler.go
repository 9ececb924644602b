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

// Scheduler finds the connections whose nextSyncAt has passed and publishes one sync
// request for each. It reads only due connections (the index on status and nextSyncAt,
// page by page), claims each page in one BulkWriter flush by moving nextSyncAt ClaimFor
// ahead (conditional on the document's update time, so two ticks never both claim a
// connection), and publishes the claimed ones concurrently. A tick's cost grows with what is
// due, not with how many connections exist. The worker's budget, not the scheduler, is what
// guarantees the per-day limit.
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
	// Queries and Read: the queries run and the documents they returned (Firestore bills an
	// empty query as one read).
	Queries, Read int
	// Claimed connections; Published sync requests.
	Claimed, Published int
	Took               time.Duration
}

// DueQuery is the scheduler's query (index connections.due in transactions.Queries).
func DueQuery(fs *firestore.Client, now time.Time) firestore.Query {
	return fs.CollectionGroup("connections").Where("status", "==", connections.StatusActive).
		Where("nextSyncAt", "<=", now).OrderBy("nextSyncAt", firestore.Asc)
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

// Tick claims and publishes the due connections, page by page, until none is left, the
// tick's maximum is reached or its budget has passed.
func (s *Scheduler) Tick(ctx context.Context) (st TickStats, err error) {
	claim, page, maxN, budget, now := s.defaults()
	start := time.Now()
	t0 := now()
	defer func() { st.Took = time.Since(start) }()
	q := DueQuery(s.FS, t0)
	for st.Published < maxN && time.Since(start) < budget {
		snaps, err := q.Limit(min(page, maxN-st.Published)).Documents(ctx).GetAll()
		st.Queries++
		if err != nil {
			return st, fmt.Errorf("read due connections: %w", err)
		}
		st.Read += len(snaps)
		if len(snaps) == 0 {
			break
		}
		reqs, err := s.claim(ctx, snaps, t0.Add(claim))
		st.Claimed += len(reqs)
		if err != nil {
			return st, err
		}
		n, err := s.publish(ctx, reqs)
		st.Published += n
		if err != nil {
			return st, err
		}
		if len(snaps) < page {
			break
		}
		q = DueQuery(s.FS, t0).StartAfter(snaps[len(snaps)-1])
	}
	return st, nil
}

// claim moves every snapshot's nextSyncAt to until in one BulkWriter flush and returns the
// requests of those it claimed; a connection changed since it was read (claimed by another
// tick, revoked) is skipped.
func (s *Scheduler) claim(ctx context.Context, snaps []*firestore.DocumentSnapshot, until time.Time) ([]Request, error) {
	bw := s.FS.BulkWriter(ctx)
	type pending struct {
		job *firestore.BulkWriterJob
		req Request
	}
	var jobs []pending
	for _, snap := range snaps {
		t, ok := connections.TenantOf(snap.Ref)
		if !ok {
			continue
		}
		job, err := bw.Update(snap.Ref, []firestore.Update{{Path: "nextSyncAt", Value: until.Add(claimSpread(snap.Ref.ID))}}, firestore.LastUpdateTime(snap.UpdateTime))
		if err != nil {
			bw.End()
			return nil, fmt.Errorf("claim %s: %w", snap.Ref.ID, err)
		}
		jobs = append(jobs, pending{job, Request{Env: t.Env, OrgID: t.OrgID, ConnectionID: snap.Ref.ID, Reason: "scheduled"}})
	}
	bw.End()
	var reqs []Request
	var errs []error
	for _, p := range jobs {
		_, err := p.job.Results()
		switch status.Code(err) {
		case codes.OK:
			reqs = append(reqs, p.req)
		case codes.FailedPrecondition, codes.NotFound:
		default:
			errs = append(errs, fmt.Errorf("claim %s: %w", p.req.ConnectionID, err))
		}
	}
	return reqs, errors.Join(errs...)
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
