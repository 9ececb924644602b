package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Local is a limiter that keeps its buckets in this instance only, for a single-instance
// stack (tests of handlers behind authentication).
type Local struct {
	mu   sync.Mutex
	now  func() time.Time
	tats map[string]local
}

type local struct {
	tat time.Time
	lim Limits
}

// maxLocalBuckets bounds memory; past it the buckets start again empty.
const maxLocalBuckets = 10000

// NewLocal returns an empty Local limiter.
func NewLocal() *Local {
	return &Local{now: time.Now, tats: map[string]local{}}
}

// Allow admits from key's local bucket at tier's rate and burst.
func (l *Local) Allow(_ context.Context, key string, tier Tier) (Decision, error) {
	lim, err := tier.Limits()
	if err != nil {
		return Decision{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.tats[key]; !ok && len(l.tats) >= maxLocalBuckets {
		l.tats = map[string]local{}
	}
	d, tat := gcra(l.tats[key].tat, l.now(), lim)
	l.tats[key] = local{tat: tat, lim: lim}
	return d, nil
}

// Refund gives back the token of key's last admitted request.
func (l *Local) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.tats[key]; ok {
		b.tat = b.tat.Add(-b.lim.interval())
		l.tats[key] = b
	}
}
