package webhooks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry scheduler defaults: a tick (every minute from Cloud Scheduler) polls the queue every
// PollInterval for PollWindow, so the 5 s and 30 s retries are not rounded up to a minute.
const (
	PollWindow   = 50 * time.Second
	PollInterval = 5 * time.Second
	// dispatchPage is how many due entries one query reads; maxPerDispatch bounds one pass.
	dispatchPage   = 200
	maxPerDispatch = 5000
)

// DispatchDue publishes a Task for every queue entry due now and leases it for Lease (so a
// lost Task is published again, and two concurrent schedulers never publish one entry twice:
// the lease is taken with a last-update-time precondition). It returns the number published.
func (s *Service) DispatchDue(ctx context.Context) (int, error) {
	now := s.clock()
	var published atomic.Int64
	for published.Load() < maxPerDispatch {
		docs, err := s.fs.Collection(RetryQueueCollection).Where("dueAt", "<=", now).
			OrderBy("dueAt", firestore.Asc).Limit(dispatchPage).Documents(ctx).GetAll()
		if err != nil {
			return int(published.Load()), fmt.Errorf("read retry queue: %w", err)
		}
		if len(docs) == 0 {
			break
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			errs    []error
			claimed atomic.Int64
			sem     = make(chan struct{}, 16)
		)
		for _, doc := range docs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				var e queueEntry
				if err := doc.DataTo(&e); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				_, err := doc.Ref.Update(ctx, []firestore.Update{{Path: "dueAt", Value: now.Add(Lease)}}, firestore.LastUpdateTime(doc.UpdateTime))
				if c := status.Code(err); c == codes.FailedPrecondition || c == codes.NotFound {
					return // someone else moved it on
				}
				if err == nil {
					claimed.Add(1)
					err = s.queue.Enqueue(ctx, e.Task)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				published.Add(1)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return int(published.Load()), err
		}
		if len(docs) < dispatchPage || claimed.Load() == 0 {
			break
		}
	}
	return int(published.Load()), nil
}

// Poll runs DispatchDue every interval until window has passed or ctx ends.
func (s *Service) Poll(ctx context.Context, window, interval time.Duration) (int, error) {
	deadline := time.Now().Add(window)
	total := 0
	for {
		n, err := s.DispatchDue(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if time.Now().Add(interval).After(deadline) {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, nil
		case <-time.After(interval):
		}
	}
}
