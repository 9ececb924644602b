package banksync

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/connections"
)

// Scheduler finds the connections whose nextSyncAt has passed and publishes one sync
// request for each. It first moves nextSyncAt ClaimFor ahead (a conditional update, so two
// ticks never both claim a connection); the worker then sets the real next slot. The
// worker's budget, not the scheduler, is what guarantees the per-day limit.
type Scheduler struct {
	FS       *firestore.Client
	Publish  func(ctx context.Context, r Request) error
	Now      func() time.Time
	ClaimFor time.Duration // default 30 minutes
	Batch    int           // default 500
}

// DueQuery is the scheduler's query (index connections.due in transactions.Queries).
func DueQuery(fs *firestore.Client, now time.Time) firestore.Query {
	return fs.CollectionGroup("connections").Where("status", "==", connections.StatusActive).
		Where("nextSyncAt", "<=", now).OrderBy("nextSyncAt", firestore.Asc)
}

// Tick publishes the due connections and returns how many.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	claim, batch := s.ClaimFor, s.Batch
	if claim == 0 {
		claim = 30 * time.Minute
	}
	if batch == 0 {
		batch = 500
	}
	t0 := now()
	it := DueQuery(s.FS, t0).Limit(batch).Documents(ctx)
	defer it.Stop()
	n := 0
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		t, ok := connections.TenantOf(snap.Ref)
		if !ok {
			continue
		}
		_, err = snap.Ref.Update(ctx, []firestore.Update{{Path: "nextSyncAt", Value: t0.Add(claim)}}, firestore.LastUpdateTime(snap.UpdateTime))
		if status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.NotFound {
			continue // changed meanwhile (another tick claimed it, or it was revoked)
		}
		if err != nil {
			return n, err
		}
		if err := s.Publish(ctx, Request{Env: t.Env, OrgID: t.OrgID, ConnectionID: snap.Ref.ID, Reason: "scheduled"}); err != nil {
			return n, err
		}
		n++
	}
}
