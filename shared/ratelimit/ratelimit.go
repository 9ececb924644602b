// Package ratelimit enforces Tok's per-organisation, per-tier token buckets (Free 60/min
// burst 10, Pro 300/min burst 50, Enterprise 1,000/min burst 200) across every instance of
// every function, without a Firestore write per request.
//
// # Design
//
// Each key has one bucket document in Firestore holding a single field, tat: the time at
// which the bucket is full again (the "theoretical arrival time" of GCRA, an exact
// reformulation of a token bucket). With emission interval T = 1 min / rate the bucket holds
// Burst - (tat-now)/T tokens. Instances never take single tokens from it: a read and a
// compare-and-set write take a lease of n tokens (tat += n·T) and the instance then admits locally, without
// Firestore, until the lease is used up or expires. Token k of a lease becomes usable at
// tat_before - Burst·T + k·T, exactly when the bucket would have refilled it, so a lease may
// be larger than what the bucket holds right now: the rest vests at the tier's rate. A lease
// is granted only while the bucket holds at least one token; otherwise the instance refuses
// locally until the time the next token exists (a plain read, never a write, tells it when).
// Tokens of an expired lease that were never admitted go back to the bucket in the same
// write as the instance's next lease, so an idle instance holds nothing for long.
//
// Lease size follows the instance's own demand: demand since its previous lease scaled to
// the lease window, clamped to [Min, Max] of the LeasePolicy (default Min = Burst/4 so four
// instances can share a full burst at once, Max = the larger of 60 tokens and 12 s of the
// rate). With Min tokens or more in the bucket the org is under its limit and a lease takes
// only tokens that exist; below that it takes a vesting lease, and instances waiting for the
// next token retry after a random delay of up to Min/2 tokens' time so they do not all race.
// The bucket's time is the limiter's clock, not server time, so tests can run it
// faster than real time; instances therefore need synchronised clocks, as Cloud Run's are.
//
// # Accuracy and write rate
//
// Every admitted token was first leased and vested, so over any run from a full bucket the
// admitted count never exceeds Burst + rate·t, however many instances there are. Within a
// window it may exceed Burst + rate·window by the vested but unused tokens other instances
// hold (at most their lease sizes). Under-admission is bounded by the tokens leased to
// instances that stop receiving requests, returned when they next lease or lost after the
// lease TTL. Saturated, a key costs one write per Max tokens (Free 1/60 s, Pro and
// Enterprise about 1 every 12 s); under the limit at most one per Min tokens (≤ 0.5 writes/s
// per key for every tier), below Firestore's ~1 sustained write/s per document, so the bucket
// is not sharded. Writes are compare-and-set (LastUpdateTime precondition), not
// transactions, so contending instances never wait on a document lock; a lost race costs a
// re-read. Concurrent requests of an instance for one key wait for its lease instead of
// starting their own.
//
// # Failure mode
//
// If Firestore is unreachable the limiter fails open: it admits from an in-memory bucket at
// the tier's rate on this instance (so the org may get up to one limit per instance) and
// returns the decision together with the error, for the caller to log. A rate limiter
// outage must not take the API down; Firestore being down breaks most endpoints anyway.
// Firestore is retried after FallbackPeriod.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Tier is an organisation's plan; it decides its limits.
type Tier string

// The tiers of the contract.
const (
	Free       Tier = "free"
	Pro        Tier = "pro"
	Enterprise Tier = "enterprise"
)

// Limits of a tier: a token bucket of capacity Burst refilled at PerMinute tokens a minute.
type Limits struct {
	PerMinute int
	Burst     int
}

var tiers = map[Tier]Limits{
	Free:       {PerMinute: 60, Burst: 10},
	Pro:        {PerMinute: 300, Burst: 50},
	Enterprise: {PerMinute: 1000, Burst: 200},
}

// ErrUnknownTier is returned for a tier that is not one of the constants.
var ErrUnknownTier = errors.New("ratelimit: unknown tier")

// Limits returns the tier's limits.
func (t Tier) Limits() (Limits, error) {
	l, ok := tiers[t]
	if !ok {
		return Limits{}, fmt.Errorf("%w %q", ErrUnknownTier, string(t))
	}
	return l, nil
}

// interval is the time one token takes to refill.
func (l Limits) interval() time.Duration { return time.Minute / time.Duration(l.PerMinute) }

// LeasePolicy sizes the leases an instance takes from the shared bucket.
type LeasePolicy struct {
	Min, Max int           // tokens per lease
	TTL      time.Duration // after which unused tokens go back to the bucket
}

// DefaultLeasePolicy is the policy New uses.
func DefaultLeasePolicy(l Limits) LeasePolicy {
	p := LeasePolicy{Min: max(1, l.Burst/4), Max: max(60, l.PerMinute/5)}
	// Long enough for a whole Max lease to vest, or it would expire half used.
	p.TTL = time.Duration(p.Max)*l.interval() + 10*time.Second
	return p
}

// FallbackPeriod is how long the limiter admits from its in-memory fallback after a
// Firestore error before it tries Firestore again.
const FallbackPeriod = 5 * time.Second

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock; the shared buckets are kept in its time.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithCollection sets the collection of bucket documents (default "ratelimits").
func WithCollection(name string) Option { return func(l *Limiter) { l.collection = name } }

// WithLeasePolicy sets how leases are sized per tier (default DefaultLeasePolicy).
func WithLeasePolicy(p func(Limits) LeasePolicy) Option { return func(l *Limiter) { l.policy = p } }

// Limiter admits requests per key. It is safe for concurrent use; use one per instance.
type Limiter struct {
	client     *firestore.Client
	collection string
	now        func() time.Time
	policy     func(Limits) LeasePolicy

	mu      sync.Mutex
	buckets map[string]*bucket

	reads, writes, conflicts, leased atomic.Int64
}

// New returns a Limiter keeping its shared buckets in client's database.
func New(client *firestore.Client, opts ...Option) *Limiter {
	l := &Limiter{
		client:     client,
		collection: "ratelimits",
		now:        time.Now,
		policy:     DefaultLeasePolicy,
		buckets:    map[string]*bucket{},
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Stats counts the limiter's Firestore traffic since New.
type Stats struct {
	Reads     int64 // reads of bucket documents
	Writes    int64 // writes of bucket documents
	Conflicts int64 // writes refused because another instance wrote first
	Leased    int64 // tokens leased
}

// Stats returns the limiter's counters.
func (l *Limiter) Stats() Stats {
	return Stats{Reads: l.reads.Load(), Writes: l.writes.Load(), Conflicts: l.conflicts.Load(), Leased: l.leased.Load()}
}

// Decision is the outcome of Allow.
type Decision struct {
	Allowed    bool
	Limit      int           // per minute, for X-RateLimit-Limit
	Remaining  int           // tokens left, as this instance knows them
	Reset      time.Time     // when the bucket is full again
	RetryAfter time.Duration // when !Allowed: when the next token exists
}

// SetHeaders writes the rate-limit headers of the contract, Retry-After only when refused.
func (d Decision) SetHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.Reset.Unix(), 10))
	if !d.Allowed {
		// Whole seconds rounded up: a client retrying earlier would only be refused again.
		secs := max(1, int64(math.Ceil(d.RetryAfter.Seconds())))
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
}

// bucket is an instance's view of one key: its current lease and what it last saw of the
// shared bucket.
type bucket struct {
	mu sync.Mutex

	// Lease: token k (1-based) is usable from base + k·interval until expires.
	base    time.Time
	n, used int
	expires time.Time
	vesting bool          // the lease held tokens the bucket had not refilled yet
	spread  time.Duration // see jitter

	tat      time.Time // shared bucket's tat as last seen
	nextTry  time.Time // no lease can be had before this
	demand   int       // requests since the last lease attempt
	demandAt time.Time // time of the last lease attempt

	fallbackUntil time.Time // while set and in the future, admit from fallbackTat
	fallbackErr   error
	fallbackTat   time.Time
}

// Allow decides whether a request for key on tier may proceed. A non-nil error means the
// shared bucket could not be reached: the decision then comes from the in-memory fallback
// and is still meant to be used.
func (l *Limiter) Allow(ctx context.Context, key string, tier Tier) (Decision, error) {
	lim, err := tier.Limits()
	if err != nil {
		return Decision{}, err
	}
	b := l.bucket(key)
	b.mu.Lock()
	defer b.mu.Unlock()

	now := l.now()
	b.demand++
	if now.Before(b.fallbackUntil) {
		return b.fallback(now, lim), b.fallbackErr
	}
	if d, ok := b.take(now, lim); ok {
		return d, nil
	}
	if b.leaseActive(now) || now.Before(b.nextTry) {
		return b.refuse(now, lim), nil
	}
	if err := l.lease(ctx, key, b, now, lim); err != nil {
		b.fallbackUntil = now.Add(FallbackPeriod)
		b.fallbackErr = fmt.Errorf("ratelimit: leasing tokens for %q: %w", key, err)
		b.fallbackTat = b.tat
		return b.fallback(now, lim), b.fallbackErr
	}
	if d, ok := b.take(now, lim); ok {
		return d, nil
	}
	return b.refuse(now, lim), nil
}

func (l *Limiter) bucket(key string) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{}
		l.buckets[key] = b
	}
	return b
}

// leaseActive reports whether the lease still has tokens, vested or not.
func (b *bucket) leaseActive(now time.Time) bool {
	return b.used < b.n && now.Before(b.expires)
}

// take admits from the lease if its next token has vested.
func (b *bucket) take(now time.Time, lim Limits) (Decision, bool) {
	if !b.leaseActive(now) || b.base.Add(time.Duration(b.used+1)*lim.interval()).After(now) {
		return Decision{}, false
	}
	b.used++
	if b.used == b.n && b.vesting {
		// The org is at its limit and every instance that wants tokens is waiting for the
		// same moment; the holder of the last lease must not always be first.
		b.nextTry = now.Add(jitter(b.spread))
	}
	return b.decision(true, now, lim), true
}

func (b *bucket) refuse(now time.Time, lim Limits) Decision {
	d := b.decision(false, now, lim)
	next := b.nextTry
	if b.leaseActive(now) {
		next = b.base.Add(time.Duration(b.used+1) * lim.interval())
	}
	d.RetryAfter = max(next.Sub(now), 0)
	return d
}

// decision fills in the headers' values: Remaining is what this instance could admit now,
// from its lease and from the shared bucket as last seen, refilled to now.
func (b *bucket) decision(allowed bool, now time.Time, lim Limits) Decision {
	iv := lim.interval()
	remaining := 0
	if b.leaseActive(now) {
		vested := int(now.Sub(b.base) / iv)
		remaining = min(vested, b.n) - b.used
	}
	shared := lim.Burst - int((b.tat.Sub(now)+iv-1)/iv)
	remaining = min(max(remaining, 0)+max(shared, 0), lim.Burst)
	return Decision{Allowed: allowed, Limit: lim.PerMinute, Remaining: remaining, Reset: later(b.tat, now)}
}

// fallback admits from a bucket of the tier's size on this instance alone.
func (b *bucket) fallback(now time.Time, lim Limits) Decision {
	iv := lim.interval()
	tat := later(b.fallbackTat, now)
	d := Decision{Limit: lim.PerMinute, Reset: tat}
	if next := tat.Add(iv - time.Duration(lim.Burst)*iv); next.After(now) {
		d.RetryAfter = next.Sub(now)
		d.Remaining = 0
		return d
	}
	b.fallbackTat = tat.Add(iv)
	d.Allowed, d.Reset = true, b.fallbackTat
	d.Remaining = lim.Burst - int((b.fallbackTat.Sub(now)+iv-1)/iv)
	return d
}

// lease returns the unused tokens of an expired lease and takes a new one sized to the
// demand seen since the last attempt.
func (l *Limiter) lease(ctx context.Context, key string, b *bucket, now time.Time, lim Limits) error {
	pol := l.policy(lim)
	iv := lim.interval()
	returned := 0
	if b.used < b.n {
		returned = b.n - b.used
	}
	window := time.Duration(pol.Max) * iv
	elapsed := max(now.Sub(b.demandAt), time.Second)
	want := pol.Min
	if !b.demandAt.IsZero() {
		want = int(float64(b.demand) * float64(window) / float64(elapsed))
	}
	want = min(max(want, pol.Min), pol.Max)

	ref := l.client.Collection(l.collection).Doc(docID(key))
	for attempt := 0; ; attempt++ {
		snap, err := ref.Get(ctx)
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("reading bucket: %w", err)
		}
		l.reads.Add(1)
		tat := tatOf(snap)
		if returned > 0 {
			tat = tat.Add(-time.Duration(returned) * iv)
		}
		tat = later(tat, now)
		granted := 0
		if lvl := level(tat, now, lim); lvl >= 1 {
			// With Min tokens or more in the bucket the org is under its limit: lease only
			// tokens that exist, so no vesting lease blocks the other instances.
			granted = want
			if whole := int(lvl); whole >= pol.Min {
				granted = min(want, whole)
			}
		}
		base := tat.Add(-time.Duration(lim.Burst) * iv)
		tat = tat.Add(time.Duration(granted) * iv)
		if granted > 0 || returned > 0 {
			err = compareAndSet(ctx, ref, snap, tat)
			if errors.Is(err, errConflict) && attempt < maxAttempts {
				l.conflicts.Add(1)
				continue
			}
			if err != nil {
				return err
			}
			l.writes.Add(1)
		}
		b.tat, b.n, b.used = tat, 0, 0
		b.demand, b.demandAt = 0, now
		b.spread = time.Duration(pol.Min) * iv / 2
		if granted == 0 {
			b.nextTry = nextToken(tat, lim).Add(jitter(b.spread))
			return nil
		}
		l.leased.Add(int64(granted))
		b.base, b.n, b.expires = base, granted, now.Add(pol.TTL)
		b.vesting = base.Add(time.Duration(granted) * iv).After(now)
		return nil
	}
}

// jitter spreads the instances waiting for the next token over a random delay below
// spread, so that one wins the lease instead of all racing for it. The delay loses no
// tokens: spread is Min/2 tokens' time, which the bucket holds meanwhile.
func jitter(spread time.Duration) time.Duration {
	if spread <= 0 {
		return 0
	}
	return rand.N(spread) //nolint:gosec // spreading retries needs no secure randomness
}

// maxAttempts bounds the retries of a lease that lost a race; each loser learns the
// winner's write, so more than a few means something else is wrong.
const maxAttempts = 8

var errConflict = errors.New("bucket changed since read")

// compareAndSet writes tat only if the document is as read. It is used instead of a
// transaction because transactions lock the document: contending instances would wait on
// each other (2 s lock timeouts on the emulator) where a lost race only costs a re-read.
func compareAndSet(ctx context.Context, ref *firestore.DocumentRef, snap *firestore.DocumentSnapshot, tat time.Time) error {
	var err error
	if snap == nil || !snap.Exists() {
		_, err = ref.Create(ctx, map[string]any{"tat": tat.UnixNano()})
	} else {
		_, err = ref.Update(ctx, []firestore.Update{{Path: "tat", Value: tat.UnixNano()}},
			firestore.LastUpdateTime(snap.UpdateTime))
	}
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.AlreadyExists, codes.FailedPrecondition:
		return errConflict
	default:
		return fmt.Errorf("writing bucket: %w", err)
	}
}

// tatOf reads the tat field; a missing document is a full bucket.
func tatOf(snap *firestore.DocumentSnapshot) time.Time {
	if snap == nil || !snap.Exists() {
		return time.Time{}
	}
	v, ok := snap.Data()["tat"].(int64)
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// level is the number of tokens in the shared bucket at now (negative while leases vest).
func level(tat, now time.Time, lim Limits) float64 {
	return float64(lim.Burst) - float64(later(tat, now).Sub(now))/float64(lim.interval())
}

// nextToken is when the shared bucket next holds a whole token.
func nextToken(tat time.Time, lim Limits) time.Time {
	return tat.Add(-time.Duration(lim.Burst-1) * lim.interval())
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// docID escapes key: document IDs may not contain "/".
func docID(key string) string { return url.PathEscape(key) }
