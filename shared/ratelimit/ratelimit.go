// Package ratelimit enforces Tok's per-organisation, per-tier token buckets (Free 60/min
// burst 10, Pro 300/min burst 50, Enterprise 1,000/min burst 200) across every instance of
// every function, without a Firestore write per request.
//
// # Design
//
// Each key has one bucket document in Firestore holding tat, the time at which the bucket
// is full again (the "theoretical arrival time" of GCRA, an exact reformulation of a token
// bucket), and closed, see below. With emission interval T = 1 min / rate the bucket holds
// Burst - (tat-now)/T tokens. An instance takes a lease of n tokens that exist now (tat +=
// n·T) with a read and a compare-and-set write, and admits from it locally until it is used
// up or its TTL (3 s) passes. Leases never take tokens the bucket has not refilled yet, so
// no instance holds a future share of the rate and none can starve the others.
//
// Leases are small and follow demand: an instance's first lease for a key is one token; each
// later one covers the instance's own request rate over LeasePolicy.Period (2 s), at most
// double the previous lease (or Batch) and at most Max (a quarter of the burst). Requests
// queued on the instance for the key while it leases are demand already there: every lease
// covers them too, up to Max, so a burst waits for one round trip, not a series. A lease
// takes at most half of what the bucket holds beyond Batch tokens, so other instances find
// tokens while the organisation is under its limit.
//
// While the bucket holds at least half its burst, an instance with demand takes its next
// lease ahead of need, in the background, when its current one is three-quarters used:
// requests go on admitting from the tokens left meanwhile, and the new lease adds to them,
// so below the limit a request waits for Firestore only on the instance's first request of
// a key, after a lapse, or when a lease ran out before the next one came. The new lease
// takes only tokens the bucket holds, as every lease does, so leasing ahead admits no more
// than leasing on demand.
//
// Unused tokens go back to the bucket: in the instance's next lease write for the key, when
// the lease's TTL passes (ReturnLapsed, which a background sweeper runs every second), and
// when the instance stops (Close, which the platform calls on SIGTERM). Starting and
// stopping instances therefore costs the organisation nothing: a new instance finds the
// tokens the old ones did not use.
//
// A lease that leaves the bucket without a whole token closes it until Batch tokens (one
// second of the rate: 1 for Free, 5 for Pro, 17 for Enterprise) have refilled, and records
// that time in the document. While it is closed every instance refuses locally, without
// Firestore, and tells the client to retry at that time; nobody takes tokens meanwhile, so a
// client that waits Retry-After finds Batch tokens wherever it comes back, unless other
// requests of the organisation took them first.
//
// # Accuracy and write rate
//
// Every admitted request spent a token that existed in the shared bucket, so over any
// interval t the admitted count never exceeds Burst + rate·t, however requests spread over
// functions and instances (the fallback below is the one exception). A request the tier
// would allow is refused only while other instances hold unused leased tokens, for at most
// the TTL, or while the bucket is closed for less than Batch tokens. Measured with four to
// six instances far above the limit, 99-100 % of the allowance is admitted.
//
// An instance writes at most about once per Period while it has demand; at the limit a key
// costs about one write a second in all (one per Batch), within Firestore's sustained rate
// for one document. Writes are compare-and-set (LastUpdateTime precondition), not
// transactions, so contending instances never wait on a document lock (the emulator's is
// 2 s); a lost race costs a re-read. Concurrent requests of an instance for one key wait for
// its lease instead of starting their own.
//
// # Failure mode
//
// If Firestore is unreachable the limiter fails open: it admits from an in-memory bucket at
// the tier's rate on this instance (so the org may get up to one limit per instance) and
// returns the decision together with the error, for the caller to log. A rate limiter
// outage must not take the API down; Firestore being down breaks most endpoints anyway.
// Firestore is retried after FallbackPeriod.
//
// The bucket's time is the limiter's clock, not server time, so tests can run it faster
// than real time; instances therefore need synchronised clocks, as Cloud Run's are.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// tokens is the duration of n tokens' refill.
func (l Limits) tokens(n int) time.Duration { return time.Duration(n) * l.interval() }

// LeasePolicy sizes the leases an instance takes from the shared bucket.
type LeasePolicy struct {
	Max    int           // most tokens in one lease
	Batch  int           // an empty bucket is tried again when it holds this many
	Period time.Duration // a lease covers this much of the instance's demand
	TTL    time.Duration // a lease's tokens are usable this long; the rest go back
}

// DefaultLeasePolicy is the policy New uses.
func DefaultLeasePolicy(l Limits) LeasePolicy {
	return LeasePolicy{
		Max:    max(1, l.Burst/4),
		Batch:  max(1, (l.PerMinute+59)/60),
		Period: 2 * time.Second,
		TTL:    3 * time.Second,
	}
}

// FallbackPeriod is how long the limiter admits from its in-memory fallback after a
// Firestore error before it tries Firestore again.
const FallbackPeriod = 5 * time.Second

// SweepInterval is how often a Limiter returns the unused tokens of lapsed leases.
const SweepInterval = time.Second

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock; the shared buckets are kept in its time.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithCollection sets the collection of bucket documents (default "ratelimits").
func WithCollection(name string) Option { return func(l *Limiter) { l.collection = name } }

// WithLeasePolicy sets how leases are sized per tier (default DefaultLeasePolicy).
func WithLeasePolicy(p func(Limits) LeasePolicy) Option { return func(l *Limiter) { l.policy = p } }

// WithoutSweeper leaves returning lapsed leases to explicit ReturnLapsed calls and takes no
// lease ahead of need, so nothing happens in the background (tests that drive the clock
// themselves).
func WithoutSweeper() Option { return func(l *Limiter) { l.sweep, l.ahead = false, false } }

// Limiter admits requests per key. It is safe for concurrent use; use one per instance and
// Close it when the instance stops.
type Limiter struct {
	client     *firestore.Client
	collection string
	now        func() time.Time
	policy     func(Limits) LeasePolicy
	sweep      bool
	ahead      bool // take the next lease in the background before the current one runs out
	inFlight   sync.WaitGroup

	mu       sync.Mutex
	buckets  map[string]*bucket
	stop     chan struct{} // closed by Close; nil until the sweeper starts
	stopOnce sync.Once

	reads, writes, conflicts, leased, returned, waited atomic.Int64
}

// New returns a Limiter keeping its shared buckets in client's database.
func New(client *firestore.Client, opts ...Option) *Limiter {
	l := &Limiter{
		client:     client,
		collection: "ratelimits",
		now:        time.Now,
		policy:     DefaultLeasePolicy,
		sweep:      true,
		ahead:      true,
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
	Returned  int64 // leased tokens given back unused
	Waited    int64 // requests that waited for a lease round trip
}

// Stats returns the limiter's counters.
func (l *Limiter) Stats() Stats {
	return Stats{Reads: l.reads.Load(), Writes: l.writes.Load(), Conflicts: l.conflicts.Load(),
		Leased: l.leased.Load(), Returned: l.returned.Load(), Waited: l.waited.Load()}
}

// Decision is the outcome of Allow; SetHeaders turns it into the contract's headers.
type Decision struct {
	Allowed bool
	// Limit is the tier's sustained rate, requests per minute (X-RateLimit-Limit).
	Limit int
	// Remaining is how many more requests could be admitted at once, right after this one:
	// the tokens in the bucket as the answering instance last saw it, at most the burst,
	// and 0 whenever the request is refused (X-RateLimit-Remaining).
	Remaining int
	// Reset is when the bucket is full (Remaining = burst) again if no request is made
	// meanwhile (X-RateLimit-Reset).
	Reset time.Time
	// RetryAfter, when refused, is how long to wait until a request is admitted again,
	// unless other requests of the key take the refilled tokens first (Retry-After).
	RetryAfter time.Duration
}

// SetHeaders writes the rate-limit headers of the contract, Retry-After only when refused.
func (d Decision) SetHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(d.Reset), 10))
	if !d.Allowed {
		h.Set("Retry-After", strconv.Itoa(RetrySeconds(d.RetryAfter)))
	}
}

// RetrySeconds is d in whole seconds, rounded up and at least 1: a client retrying earlier
// would only be refused again.
func RetrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// bucket is an instance's view of one key: its current lease and what it last saw of the
// shared bucket.
type bucket struct {
	mu  sync.Mutex
	lim Limits

	n, used int       // the lease: n tokens taken, used of them admitted
	expires time.Time // the lease's tokens are usable until then

	tat          time.Time // the shared bucket's tat as last read or written
	blockedUntil time.Time // the shared bucket holds no token for us before this
	lastGrant    int       // size of the last lease granted
	demand       int       // requests since the last lease attempt
	demandSince  time.Time // time of the last lease attempt

	fallbackUntil time.Time // while in the future, admit from fallbackTat
	fallbackErr   error
	fallbackTat   time.Time

	ahead chan struct{} // while a lease ahead of need is in flight, closed when it lands

	// queued counts the requests waiting for mu: demand that is already here, which a lease
	// taken meanwhile covers too, so a burst waits for one lease round trip, not for a
	// series of growing ones.
	queued atomic.Int64
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
	b.queued.Add(1)
	b.mu.Lock()
	b.queued.Add(-1)
	defer b.mu.Unlock()

	now := l.now()
	b.demand++
	if now.Before(b.fallbackUntil) {
		return b.fallback(now, lim), b.fallbackErr
	}
	if b.take(now) {
		l.leaseAhead(key, b, now, lim)
		return b.admitted(now), nil
	}
	waited := b.ahead != nil
	if waited {
		l.waited.Add(1)
	}
	// The next lease is on its way: wait for it rather than take another, and for the one
	// after it if other requests took its tokens first.
	for b.ahead != nil && ctx.Err() == nil {
		ahead := b.ahead
		b.mu.Unlock()
		select {
		case <-ahead:
		case <-ctx.Done():
		}
		b.mu.Lock()
		now = l.now()
		if b.take(now) {
			l.leaseAhead(key, b, now, lim)
			return b.admitted(now), nil
		}
	}
	if now.Before(b.blockedUntil) {
		return b.refused(now), nil
	}
	if !waited {
		l.waited.Add(1)
	}
	if err := l.lease(ctx, key, b, now, lim); err != nil {
		b.fallbackUntil = now.Add(FallbackPeriod)
		b.fallbackErr = fmt.Errorf("ratelimit: leasing tokens for %q: %w", key, err)
		b.fallbackTat = later(b.tat, now)
		return b.fallback(now, lim), b.fallbackErr
	}
	if b.take(now) {
		l.leaseAhead(key, b, now, lim)
		return b.admitted(now), nil
	}
	return b.refused(now), nil
}

// Refund gives back the token the last admitted request of key took, for a request that
// turned out not to need it; the token stays with this instance's lease.
func (l *Limiter) Refund(key string) {
	b := l.bucket(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && l.now().Before(b.expires) {
		b.used--
	}
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

// take admits from the lease if it has a token left.
func (b *bucket) take(now time.Time) bool {
	if b.used >= b.n || !now.Before(b.expires) {
		return false
	}
	b.used++
	return true
}

// unused is the number of leased tokens not admitted.
func (b *bucket) unused() int { return b.n - b.used }

func (b *bucket) admitted(now time.Time) Decision {
	lim := b.lim
	shared := max(0, int(level(b.tat, now, lim)))
	return Decision{Allowed: true, Limit: lim.PerMinute,
		Remaining: min(lim.Burst, shared+b.unused()),
		Reset:     later(b.tat.Add(-lim.tokens(b.unused())), now)}
}

func (b *bucket) refused(now time.Time) Decision {
	return Decision{Limit: b.lim.PerMinute, Reset: later(b.tat, now),
		RetryAfter: max(b.blockedUntil.Sub(now), 0)}
}

// fallback admits from a bucket of the tier's size on this instance alone.
func (b *bucket) fallback(now time.Time, lim Limits) Decision {
	d, tat := gcra(later(b.fallbackTat, now), now, lim)
	b.fallbackTat = tat
	return d
}

// gcra admits one request from a bucket whose full time is tat, and returns the decision
// and the new tat.
func gcra(tat, now time.Time, lim Limits) (Decision, time.Time) {
	tat = later(tat, now)
	d := Decision{Limit: lim.PerMinute, Reset: tat}
	if next := tat.Add(-lim.tokens(lim.Burst - 1)); next.After(now) {
		d.RetryAfter = next.Sub(now)
		return d, tat
	}
	tat = tat.Add(lim.interval())
	d.Allowed, d.Reset = true, tat
	d.Remaining = max(0, int(level(tat, now, lim)))
	return d, tat
}

// want is the size of the next lease: the instance's demand over one Period, at most
// pol.Max and at most twice the previous lease or Batch, whichever is more (so an instance
// at the limit takes a whole refilled batch in one write); and at least the requests here
// now, the one leasing and those queued behind it, up to pol.Max. The rate is an estimate,
// so its growth is bounded; the queued requests spend their tokens at once.
func (b *bucket) want(now time.Time, pol LeasePolicy) int {
	here := min(1+int(b.queued.Load()), pol.Max)
	if b.lastGrant == 0 {
		return here
	}
	elapsed := max(now.Sub(b.demandSince), pol.Period/10)
	w := int(math.Ceil(float64(b.demand) * float64(pol.Period) / float64(elapsed)))
	return max(here, min(w, max(2*b.lastGrant, pol.Batch), pol.Max))
}

// grant is how many of the avail whole tokens of the bucket a lease of want takes: all it
// wants up to Batch, beyond that at most half of them, leaving the rest to other instances.
func grant(want, avail int, pol LeasePolicy) int {
	switch {
	case avail < 1:
		return 0
	case avail <= pol.Batch:
		return min(want, avail)
	default:
		return min(want, max(pol.Batch, avail/2))
	}
}

// lease returns the unused tokens of the current lease and takes a new one sized to the
// demand.
func (l *Limiter) lease(ctx context.Context, key string, b *bucket, now time.Time, lim Limits) error {
	// Sized once the bucket is read: the requests that queued meanwhile count.
	got, err := l.exchange(ctx, key, b, now, lim, func() int { return b.want(now, l.policy(lim)) })
	if err != nil {
		return err
	}
	b.demand, b.demandSince = 0, now
	if got > 0 {
		b.lastGrant = got
		l.startSweeper()
	}
	return nil
}

// maxAttempts bounds the retries of a write that lost a race; each loser learns the
// winner's write, so more than this many means the key is heavily contended.
const maxAttempts = 16

// exchange gives the bucket's unused leased tokens back to the shared bucket and takes a
// new lease of up to want tokens, in one compare-and-set write, and returns the tokens
// granted.
//
// A lease that leaves the bucket without a whole token closes it until Batch tokens have
// refilled; the document records that time, so while it is closed no instance takes a
// token, every instance refuses until the same moment, and a client told to wait until
// then finds Batch tokens wherever it comes back.
func (l *Limiter) exchange(ctx context.Context, key string, b *bucket, now time.Time, lim Limits, want func() int) (int, error) {
	unused := 0
	if b.lim == lim {
		unused = b.unused()
	}
	r, err := l.write(ctx, key, now, lim, unused, want)
	if err != nil {
		return 0, err
	}
	if r.contended {
		// Heavily contended: keep the lease to return it later, try again in a token's time.
		b.lim, b.tat, b.blockedUntil = lim, later(r.stored, now), now.Add(lim.interval())
		return 0, nil
	}
	if r.wrote {
		b.n, b.used, b.expires = r.got, 0, now.Add(l.policy(lim).TTL)
	}
	b.lim, b.tat, b.blockedUntil = lim, r.tat, r.closed
	if r.got == 0 && r.closed.IsZero() {
		b.blockedUntil = r.tat.Add(-lim.tokens(lim.Burst - 1)) // the next whole token
	}
	return r.got, nil
}

// fixed is a lease size that does not depend on what the read finds.
func fixed(n int) func() int { return func() int { return n } }

// written is what one compare-and-set of a bucket document did.
type written struct {
	got         int       // tokens granted
	wrote       bool      // the document was written
	tat, closed time.Time // the document as written (or read, if not)
	contended   bool      // every attempt lost its race
	stored      time.Time // the tat last read, when contended
}

// write returns unused tokens to the bucket document of key and takes up to want() more,
// in one compare-and-set write retried on a lost race; it touches no instance state itself,
// so a lease ahead of need runs it without holding the bucket.
func (l *Limiter) write(ctx context.Context, key string, now time.Time, lim Limits, unused int, want func() int) (written, error) {
	pol := l.policy(lim)
	ref := l.client.Collection(l.collection).Doc(docID(key))
	for attempt := 0; ; attempt++ {
		snap, err := ref.Get(ctx)
		if err != nil && status.Code(err) != codes.NotFound {
			return written{}, fmt.Errorf("reading bucket: %w", err)
		}
		l.reads.Add(1)
		stored, closed := fieldsOf(snap)
		tat := later(stored.Add(-lim.tokens(unused)), now)
		avail := level(tat, now, lim)
		if !now.Before(closed) || avail >= float64(pol.Batch) {
			closed = time.Time{}
		} else {
			avail = 0
		}
		got := grant(want(), int(avail), pol)
		tat = tat.Add(lim.tokens(got))
		if got > 0 && level(tat, now, lim) < 1 {
			closed = tat.Add(-lim.tokens(lim.Burst - pol.Batch))
		}
		if got == 0 && unused == 0 {
			return written{tat: tat, closed: closed}, nil
		}
		err = compareAndSet(ctx, ref, snap, tat, closed)
		if errors.Is(err, errConflict) {
			l.conflicts.Add(1)
			if attempt < maxAttempts {
				continue
			}
			return written{contended: true, stored: stored}, nil
		}
		if err != nil {
			return written{}, err
		}
		l.writes.Add(1)
		l.returned.Add(int64(unused))
		l.leased.Add(int64(got))
		return written{got: got, wrote: true, tat: tat, closed: closed}, nil
	}
}

// AheadTimeout bounds a lease taken ahead of need. No request waits on it unless its lease
// ran out meanwhile (and then no longer than its own deadline), so it may take as long as a
// slow Firestore needs: a lease abandoned early may still be written, and its tokens would
// be lost to everyone until they refill.
const AheadTimeout = 10 * time.Second

// leaseAhead starts, in the background, the next lease of an instance whose current one for
// key is three-quarters used, unless that one is a single token (an instance's first lease of
// a key, or one with too little demand to be worth a write ahead of it), one is already on
// its way, or the shared bucket held
// less than half its burst when the instance last saw it: near the limit, tokens leased
// ahead would sit on one instance while the others refuse, so leases follow need there. Its
// tokens add to what is left of the current lease (a quarter of it at most), which lives on
// for a TTL from the new lease; b is held.
func (l *Limiter) leaseAhead(key string, b *bucket, now time.Time, lim Limits) {
	pol := l.policy(lim)
	if !l.ahead || b.ahead != nil || b.lim != lim || b.n < 2 || 4*b.unused() > b.n ||
		now.Before(b.blockedUntil) || 2*level(b.tat, now, lim) < float64(lim.Burst) {
		return
	}
	want := b.want(now, pol)
	b.demand, b.demandSince = 0, now
	done := make(chan struct{})
	b.ahead = done
	l.inFlight.Add(1)
	go func() {
		defer l.inFlight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), AheadTimeout)
		r, err := l.write(ctx, key, now, lim, 0, fixed(want))
		cancel()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.ahead = nil
		close(done)
		if err != nil || r.contended || b.lim != lim {
			// The request that finds the lease empty takes one itself (and learns of an
			// outage then); the tokens of a lease that lands after a change of tier
			// refill on their own.
			return
		}
		if r.wrote {
			b.n, b.used, b.expires = b.unused()+r.got, 0, now.Add(pol.TTL)
			b.lastGrant = r.got
		}
		b.tat, b.blockedUntil = r.tat, r.closed
		if r.got == 0 && r.closed.IsZero() {
			b.blockedUntil = r.tat.Add(-lim.tokens(lim.Burst - 1))
		}
	}()
}

// ReturnLapsed gives back to the shared buckets the unused tokens of leases whose TTL has
// passed. The sweeper calls it every SweepInterval; an instance that idles thus holds no
// tokens for long.
func (l *Limiter) ReturnLapsed(ctx context.Context) error {
	return l.giveBack(ctx, func(b *bucket, now time.Time) bool { return !now.Before(b.expires) })
}

// Close gives back every unused leased token and stops the sweeper. The platform calls it
// when the instance is told to stop, so the organisation loses nothing to scale-in. The
// limiter keeps working after Close, leasing anew.
func (l *Limiter) Close(ctx context.Context) error {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.stop != nil {
			close(l.stop)
		}
		l.sweep = false
	})
	// A lease ahead of need still in flight lands first, so its tokens go back too.
	landed := make(chan struct{})
	go func() {
		l.inFlight.Wait()
		close(landed)
	}()
	select {
	case <-landed:
	case <-ctx.Done():
	}
	return l.giveBack(ctx, func(*bucket, time.Time) bool { return true })
}

func (l *Limiter) giveBack(ctx context.Context, due func(*bucket, time.Time) bool) error {
	l.mu.Lock()
	keys := make(map[string]*bucket, len(l.buckets))
	for k, b := range l.buckets {
		keys[k] = b
	}
	l.mu.Unlock()
	var errs []error
	for key, b := range keys {
		b.mu.Lock()
		now := l.now()
		// A lease ahead of need in flight carries the unused tokens into the next lease; a
		// return now would only race its write.
		if b.unused() > 0 && b.ahead == nil && due(b, now) && !now.Before(b.fallbackUntil) {
			if _, err := l.exchange(ctx, key, b, now, b.lim, fixed(0)); err != nil {
				errs = append(errs, fmt.Errorf("ratelimit: returning tokens of %q: %w", key, err))
			}
		}
		b.mu.Unlock()
	}
	return errors.Join(errs...)
}

// startSweeper starts the goroutine that returns lapsed leases, once, until Close.
func (l *Limiter) startSweeper() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.sweep || l.stop != nil {
		return
	}
	l.stop = make(chan struct{})
	go func(stop <-chan struct{}) {
		t := time.NewTicker(SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), SweepInterval)
				_ = l.ReturnLapsed(ctx) // best effort: the next lease write returns them too
				cancel()
			}
		}
	}(l.stop)
}

var errConflict = errors.New("bucket changed since read")

// compareAndSet writes the bucket only if the document is as read. It is used instead of a
// transaction because transactions lock the document: contending instances would wait on
// each other (2 s lock timeouts on the emulator) where a lost race only costs a re-read.
func compareAndSet(ctx context.Context, ref *firestore.DocumentRef, snap *firestore.DocumentSnapshot, tat, closed time.Time) error {
	var err error
	if snap == nil || !snap.Exists() {
		_, err = ref.Create(ctx, map[string]any{"tat": tat.UnixNano(), "closed": unixNano(closed)})
	} else {
		_, err = ref.Update(ctx, []firestore.Update{{Path: "tat", Value: tat.UnixNano()}, {Path: "closed", Value: unixNano(closed)}},
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

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fieldsOf reads the bucket document: tat, and until when it is closed. A missing document
// is a full, open bucket.
func fieldsOf(snap *firestore.DocumentSnapshot) (tat, closed time.Time) {
	if snap == nil || !snap.Exists() {
		return time.Time{}, time.Time{}
	}
	return nsField(snap, "tat"), nsField(snap, "closed")
}

func nsField(snap *firestore.DocumentSnapshot, field string) time.Time {
	v, ok := snap.Data()[field].(int64)
	if !ok || v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// level is the number of tokens in the shared bucket at now.
func level(tat, now time.Time, lim Limits) float64 {
	return float64(lim.Burst) - float64(later(tat, now).Sub(now))/float64(lim.interval())
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// docID escapes key: document IDs may not contain "/".
func docID(key string) string { return url.PathEscape(key) }
