package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Local is a limiter that keeps its buckets in this instance only: for traffic that belongs
// to no organisation, such as requests that fail authentication, where a shared bucket
// would cost a Firestore write for every bad key.
type Local struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
}

// maxLocalBuckets bounds memory; past it the buckets start again empty.
const maxLocalBuckets = 10000

// NewLocal returns an empty Local limiter.
func NewLocal() *Local {
	return &Local{now: time.Now, buckets: map[string]*bucket{}}
}

// Allow admits from key's local bucket at tier's rate and burst.
func (l *Local) Allow(_ context.Context, key string, tier Tier) (Decision, error) {
	lim, err := tier.Limits()
	if err != nil {
		return Decision{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLocalBuckets {
			l.buckets = map[string]*bucket{}
		}
		b = &bucket{}
		l.buckets[key] = b
	}
	return b.fallback(l.now(), lim), nil
}
