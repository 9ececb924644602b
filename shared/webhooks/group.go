package webhooks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
)

// An instance fans out many events at once (one push each). The database's cost is mostly per
// call, not per document, so the fan-outs' reads and commits are grouped: while groupRuns
// calls are in flight, the next ones wait and then go together, never held back otherwise.
// One run at a time groups the most: with two, a fan-out's commit found the other run free
// more often than not and went alone (measured on the emulator: a third fewer calls, and a
// sixth less of its CPU per delivery, with one run), and a run is bounded by groupTimeout.
const (
	groupRuns = 1
	// maxGroupWrites keeps a grouped commit under Firestore's 500 writes.
	maxGroupWrites = 400
	// groupTimeout bounds a grouped call, which serves several requests' deadlines.
	groupTimeout = 20 * time.Second
)

// group runs the requests of concurrent callers in shared runs.
type group[In, Out any] struct {
	// weight is what a request adds to a run, at most max in all (a request alone may exceed it).
	weight func(In) int
	max    int
	run    func(ctx context.Context, calls []*call[In, Out])

	mu      sync.Mutex
	waiting []*call[In, Out]
	running int
}

// call is one request in a run; run sets out and err, then closes done.
type call[In, Out any] struct {
	ctx  context.Context
	in   In
	out  Out
	err  error
	done chan struct{}
}

// do makes the request in the next run and returns its result, or ctx's error if ctx ends
// first (the run may still complete it).
func (g *group[In, Out]) do(ctx context.Context, in In) (Out, error) {
	c := &call[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	if g.running < groupRuns {
		g.running++
		go g.loop()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// loop runs the waiting requests, as many as fit in a run at a time, until none wait.
func (g *group[In, Out]) loop() {
	for {
		g.mu.Lock()
		n, w := 0, 0
		for n < len(g.waiting) && (n == 0 || w+g.weight(g.waiting[n].in) <= g.max) {
			w += g.weight(g.waiting[n].in)
			n++
		}
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		calls := append([]*call[In, Out](nil), g.waiting[:n]...)
		g.waiting = g.waiting[n:]
		g.mu.Unlock()
		var live []*call[In, Out]
		for _, c := range calls {
			if err := c.ctx.Err(); err != nil {
				c.err = err
				close(c.done)
				continue
			}
			live = append(live, c)
		}
		if len(live) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
			g.run(ctx, live)
			cancel()
		}
	}
}

// write is one write of a grouped commit: a Create (which fails if the document exists) or a
// Set.
type write struct {
	ref    *firestore.DocumentRef
	data   any
	create bool
}

// newCommits groups commits. Each request is atomic; a run commits all its requests in one
// batch and, if that fails, each on its own, so a request fails only for its own writes.
func newCommits(fs *firestore.Client) *group[[]write, struct{}] {
	commit := func(ctx context.Context, calls []*call[[]write, struct{}]) error {
		// A WriteBatch is one atomic Commit: a transaction would add a BeginTransaction round
		// trip, and BulkWriter is not atomic (a delivery without its queue entry could be lost).
		b := fs.Batch() //nolint:staticcheck // see above: the one-RPC atomic commit
		for _, c := range calls {
			for _, w := range c.in {
				if w.create {
					b.Create(w.ref, w.data)
				} else {
					b.Set(w.ref, w.data)
				}
			}
		}
		_, err := b.Commit(ctx)
		return err
	}
	return &group[[]write, struct{}]{
		weight: func(ws []write) int { return len(ws) },
		max:    maxGroupWrites,
		run: func(ctx context.Context, calls []*call[[]write, struct{}]) {
			err := commit(ctx, calls)
			for _, c := range calls {
				if err != nil && len(calls) > 1 {
					c.err = commit(ctx, []*call[[]write, struct{}]{c})
				} else {
					c.err = err
				}
				close(c.done)
			}
		},
	}
}

// newReads groups reads of documents: a run reads every request's documents in one call.
func newReads(fs *firestore.Client) *group[[]*firestore.DocumentRef, []*firestore.DocumentSnapshot] {
	return &group[[]*firestore.DocumentRef, []*firestore.DocumentSnapshot]{
		weight: func(refs []*firestore.DocumentRef) int { return len(refs) },
		max:    maxGroupWrites,
		run: func(ctx context.Context, calls []*call[[]*firestore.DocumentRef, []*firestore.DocumentSnapshot]) {
			var refs []*firestore.DocumentRef
			at := map[string]int{}
			for _, c := range calls {
				for _, r := range c.in {
					if _, ok := at[r.Path]; !ok {
						at[r.Path] = len(refs)
						refs = append(refs, r)
					}
				}
			}
			snaps, err := fs.GetAll(ctx, refs)
			for _, c := range calls {
				if err != nil {
					c.err = fmt.Errorf("read documents: %w", err)
				} else {
					for _, r := range c.in {
						c.out = append(c.out, snaps[at[r.Path]])
					}
				}
				close(c.done)
			}
		},
	}
}
