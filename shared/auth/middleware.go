package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/tenant"
)

// CacheTTL bounds how long an instance trusts what it read about a key. A revoked key
// therefore stops working on every instance within CacheTTL (30 s, well inside the
// promised 60 s); an expiry time is checked on every request and holds to the second.
const CacheTTL = 30 * time.Second

// negativeTTL caches unknown keys briefly, so a flood of bad keys costs few reads.
const negativeTTL = 10 * time.Second

// maxCached bounds the cache; past it the cache starts again empty.
const maxCached = 10000

// ErrUnknownKey is what a Keys implementation returns for a hash it does not hold.
var ErrUnknownKey = errors.New("unknown API key")

// Key is what authentication needs to know of a stored key.
type Key struct {
	Hash      string
	OrgID     string
	Env       string
	KeyPairID string
	Role      Role
	Tier      string
	ExpiresAt *time.Time
	Revoked   bool
}

// Keys finds a stored key by its keyed hash.
type Keys interface {
	Authenticate(ctx context.Context, hash string) (Key, error)
}

// Limiter is the rate limiter (shared/ratelimit), for organisations and client addresses.
type Limiter interface {
	Allow(ctx context.Context, key string, tier ratelimit.Tier) (ratelimit.Decision, error)
	Refund(key string)
}

// AddressTier limits, per client address and across instances, the requests that need a
// key lookup or fail authentication: 60 a minute, burst 10.
const AddressTier = ratelimit.Free

// Authenticator is the middleware's state for one instance.
type Authenticator struct {
	keys      Keys
	pepper    []byte
	cursorKey []byte
	limiter   Limiter
	now       func() time.Time
	// apiURLs are the base URLs of the two API hosts by environment, for the answer to a
	// key sent to the other environment's host.
	apiURLs map[string]string

	mu      sync.Mutex
	cache   map[string]cached
	flights map[string]*flight
	// addresses holds the client addresses this instance has seen (at most maxCached).
	addresses map[string]bool
}

type cached struct {
	key     Key
	known   bool
	fetched time.Time
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(a *Authenticator) { a.now = now } }

// WithAPIURLs names the base URLs (with /v1) of the live and sandbox API hosts.
func WithAPIURLs(live, sandbox string) Option {
	return func(a *Authenticator) { a.apiURLs = map[string]string{tenant.Live: live, tenant.Sandbox: sandbox} }
}

// BucketKey is the rate-limit bucket of a tenant: each environment of an organisation has
// its own, with the tier's whole allowance, so a sandbox key's traffic never spends the
// live allowance (nor the other way round).
func BucketKey(t tenant.Tenant) string { return t.Env + ":" + t.OrgID }

// New returns an Authenticator. limiter limits tenants by BucketKey and, before any key
// lookup, client addresses by "addr:<address>".
func New(keys Keys, pepper []byte, limiter Limiter, opts ...Option) *Authenticator {
	a := &Authenticator{keys: keys, pepper: pepper, cursorKey: httpapi.DeriveCursorKey(pepper), limiter: limiter, now: time.Now, cache: map[string]cached{}, flights: map[string]*flight{}, addresses: map[string]bool{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// invalidKey is the one answer to every kind of bad key: missing, malformed, unknown,
// revoked or expired look the same from outside.
func invalidKey() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey,
		Message: "The API key is missing or invalid. Send it as `Authorization: ApiKey <key>`."}
}

// wrongHost answers a key sent to the host of the other environment (a key's prefix names
// its environment, so this tells the caller nothing it did not send).
func (a *Authenticator) wrongHost(keyEnv string) *httpapi.Error {
	where := "the " + keyEnv + " API host"
	if u := a.apiURLs[keyEnv]; u != "" {
		where = u
	}
	return &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey,
		Message: "This is a " + keyEnv + " API key, and this host serves the other environment; send it to " + where + "."}
}

// Middleware authenticates the request, applies the rate limit and the read_only rule,
// and hands the handler a context carrying the Caller, its tenant, and the key that signs
// list cursors (derived from the pepper, so no other secret needs provisioning). A request that came
// in on one environment's host (tenant.EnvironmentHeader, set by the load balancer) is
// refused with the other environment's key before the key is looked up; without the header
// (a caller inside the project) the key alone decides. Every response of an
// authenticated request, whatever the handler answers, carries the organisation's
// rate-limit headers; a request that fails authentication carries its address's.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		caller, err := a.authenticate(ctx, w, r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		d, err := a.limiter.Allow(ctx, BucketKey(caller.Tenant), ratelimit.Tier(caller.Tier))
		if err != nil {
			// The limiter fails open with a local bucket; the outage is worth a log line.
			slog.WarnContext(ctx, "rate limiter degraded", "error", err)
		}
		d.SetHeaders(w.Header())
		if !d.Allowed {
			httpapi.WriteError(w, r, rateLimited(d, "The organisation's rate limit"))
			return
		}
		if !allowedMethod(caller.Role, r.Method) {
			httpapi.WriteError(w, r, httpapi.Forbidden("This API key is read_only; it may only make GET requests."))
			return
		}
		next.ServeHTTP(w, r.WithContext(httpapi.WithCursorKey(WithCaller(ctx, caller), a.cursorKey)))
	})
}

func rateLimited(d ratelimit.Decision, what string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusTooManyRequests, Code: httpapi.CodeRateLimited,
		Message: fmt.Sprintf("%s of %d requests per minute is exceeded; retry after %d seconds.", what, d.Limit, ratelimit.RetrySeconds(d.RetryAfter))}
}

// authenticate finds the caller. A key this instance has not verified recently costs its
// client address a token before the lookup, so a flood of made-up keys is refused before it
// reaches Firestore; the token is refunded when the key is good. A failure costs a token
// too, and its response carries the address's rate-limit headers.
//
// The first time the instance sees an address it looks the key up before charging: a good
// key, whose token would be refunded anyway, then costs the address bucket no round trip
// (the first request of a new instance waits for its key and its organisation's lease
// only), and a bad one is charged after its lookup. What an address is refused stays what
// its bucket refuses; a flood from it costs at most one lookup per instance beyond what the
// bucket admits.
func (a *Authenticator) authenticate(ctx context.Context, w http.ResponseWriter, r *http.Request) (Caller, error) {
	addr := "addr:" + clientAddress(r)
	charged := false
	charge := func() error {
		d, err := a.limiter.Allow(ctx, addr, AddressTier)
		if err != nil {
			slog.WarnContext(ctx, "rate limiter degraded", "error", err)
		}
		d.SetHeaders(w.Header())
		if !d.Allowed {
			return rateLimited(d, "The rate limit for requests without a valid API key")
		}
		charged = true
		return nil
	}
	failWith := func(refusal error) error {
		if !charged {
			if err := charge(); err != nil {
				return err
			}
		}
		return refusal
	}
	fail := func() error { return failWith(invalidKey()) }

	key, env, err := apikey.FromHeader(r.Header.Get("Authorization"))
	if err != nil {
		return Caller{}, fail()
	}
	if hostEnv := r.Header.Get(tenant.EnvironmentHeader); hostEnv != "" && hostEnv != env {
		return Caller{}, failWith(a.wrongHost(env))
	}
	hash := apikey.Hash(a.pepper, key)
	k, known, ok := a.cached(hash)
	if !ok {
		before := charge
		if a.firstSight(addr) {
			before = func() error { return nil }
		}
		if k, known, err = a.lookupOnce(ctx, hash, before, func() {
			if charged {
				a.limiter.Refund(addr)
			}
		}); err != nil {
			return Caller{}, err
		}
	}
	now := a.now()
	if !known || k.Revoked || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) ||
		k.Env != env || !apikey.Equal(k.Hash, hash) {
		return Caller{}, fail()
	}
	if _, ok := ParseRole(string(k.Role)); !ok {
		return Caller{}, fail()
	}
	if charged {
		a.limiter.Refund(addr)
	}
	return Caller{Tenant: tenant.Tenant{Env: k.Env, OrgID: k.OrgID}, KeyPairID: k.KeyPairID, Role: k.Role, Tier: k.Tier}, nil
}

// firstSight reports whether this instance has not seen addr before (and notes it).
func (a *Authenticator) firstSight(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.addresses[addr] {
		return false
	}
	if len(a.addresses) >= maxCached {
		a.addresses = map[string]bool{}
	}
	a.addresses[addr] = true
	return true
}

// cached returns what the instance read about hash within its TTL.
func (a *Authenticator) cached(hash string) (Key, bool, bool) {
	a.mu.Lock()
	c, ok := a.cache[hash]
	a.mu.Unlock()
	if !ok {
		return Key{}, false, false
	}
	ttl := CacheTTL
	if !c.known {
		ttl = negativeTTL
	}
	if a.now().Sub(c.fetched) >= ttl {
		return Key{}, false, false
	}
	return c.key, c.known, true
}

// flight is a key lookup in progress, which concurrent requests with the same key wait for.
type flight struct {
	done  chan struct{}
	key   Key
	known bool
	err   error
}

// lookupOnce looks hash up once however many requests need it at the same moment: the
// first pays its client address a token (charge, unless the address is new here) and reads Firestore, the others wait for
// its answer, so a burst of requests on a cold instance costs one lookup and one token
// (refunded for a good key) instead of exhausting the address's bucket. A waiter whose
// leader failed looks up on its own.
func (a *Authenticator) lookupOnce(ctx context.Context, hash string, charge func() error, refund func()) (Key, bool, error) {
	a.mu.Lock()
	f, waiting := a.flights[hash]
	if !waiting {
		f = &flight{done: make(chan struct{})}
		a.flights[hash] = f
	}
	a.mu.Unlock()
	if waiting {
		select {
		case <-f.done:
			if f.err == nil {
				return f.key, f.known, nil
			}
		case <-ctx.Done():
			return Key{}, false, fmt.Errorf("waiting for an API key lookup: %w", ctx.Err())
		}
		f = &flight{done: make(chan struct{})} // ours alone
	} else {
		defer func() {
			a.mu.Lock()
			delete(a.flights, hash)
			a.mu.Unlock()
		}()
	}
	defer close(f.done)
	if f.err = charge(); f.err != nil {
		return Key{}, false, f.err
	}
	if f.key, f.known, f.err = a.fetch(ctx, hash); f.err != nil {
		refund()
	}
	return f.key, f.known, f.err
}

// fetch looks hash up and caches the answer.
func (a *Authenticator) fetch(ctx context.Context, hash string) (Key, bool, error) {
	k, err := a.keys.Authenticate(ctx, hash)
	known := err == nil
	if err != nil && !errors.Is(err, ErrUnknownKey) {
		return Key{}, false, fmt.Errorf("look up API key: %w", err)
	}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		a.cache = map[string]cached{}
	}
	a.cache[hash] = cached{key: k, known: known, fetched: a.now()}
	a.mu.Unlock()
	return k, known, nil
}
