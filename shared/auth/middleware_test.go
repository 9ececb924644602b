package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

var pepper = []byte("test-pepper")

// memKeys is an in-memory Keys that counts lookups.
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]Key
	lookups int
	fail    error
	delay   time.Duration // each lookup takes this long, as a Firestore read does
	before  func()        // called at the start of each lookup
}

func (m *memKeys) Authenticate(_ context.Context, hash string) (Key, error) {
	if m.before != nil {
		m.before()
	}
	time.Sleep(m.delay)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.fail != nil {
		return Key{}, m.fail
	}
	k, ok := m.keys[hash]
	if !ok {
		return Key{}, ErrUnknownKey
	}
	return k, nil
}

func (m *memKeys) add(env string, role Role, mutate func(*Key)) string {
	key, err := apikey.New(env)
	if err != nil {
		panic(err)
	}
	k := Key{Hash: apikey.Hash(pepper, key), OrgID: "org_A", Env: env, KeyPairID: "key_1", Role: role, Tier: "pro"}
	if mutate != nil {
		mutate(&k)
	}
	m.mu.Lock()
	m.keys[k.Hash] = k
	m.mu.Unlock()
	return key
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func setup() (*memKeys, *clock, http.Handler) {
	keys := &memKeys{keys: map[string]Key{}}
	clk := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	lim := ratelimit.NewLocal()
	a := New(keys, pepper, lim, WithClock(clk.Now))
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := CallerFrom(r.Context())
		t, terr := tenant.From(r.Context())
		if err != nil || terr != nil || c.Tenant != t {
			httpapi.WriteError(w, r, errors.New("no caller"))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"org": t.OrgID, "env": t.Env, "role": string(c.Role)})
	})
	return keys, clk, httpapi.Middleware("p", a.Middleware(inner))
}

func call(h http.Handler, method, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/v1/x", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// body without the request ID, which differs per request by design.
func bodyWithoutRequestID(rec *httptest.ResponseRecorder) string {
	return strings.Replace(rec.Body.String(), rec.Header().Get(httpapi.RequestIDHeader), "", 1)
}

func TestEveryBadKeyGetsTheSame401(t *testing.T) {
	keys, clk, h := setup()
	good := keys.add(tenant.Live, RoleAdmin, nil)
	revoked := keys.add(tenant.Live, RoleAdmin, func(k *Key) { k.Revoked = true })
	past := clk.now.Add(-time.Second)
	expired := keys.add(tenant.Live, RoleAdmin, func(k *Key) { k.ExpiresAt = &past })
	unknown, _ := apikey.New(tenant.Live)
	// A sandbox key whose record claims live: the key's own prefix must agree.
	mismatched := keys.add(tenant.Sandbox, RoleAdmin, func(k *Key) { k.Env = tenant.Live })

	if rec := call(h, "GET", "ApiKey "+good); rec.Code != 200 {
		t.Fatalf("good key: %d %s", rec.Code, rec.Body)
	}
	var first string
	for name, header := range map[string]string{
		"missing": "", "malformed": "ApiKey nonsense", "wrong scheme": "Bearer " + good,
		"unknown": "ApiKey " + unknown, "revoked": "ApiKey " + revoked, "expired": "ApiKey " + expired,
		"environment mismatch": "ApiKey " + mismatched,
	} {
		rec := call(h, "GET", header)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"INVALID_API_KEY"`) {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
		if rec.Header().Get("X-RateLimit-Limit") == "" {
			t.Errorf("%s: no rate limit headers on the 401", name)
		}
		b := bodyWithoutRequestID(rec)
		if first == "" {
			first = b
		} else if b != first {
			t.Errorf("%s: body differs from the others:\n%s\n%s", name, b, first)
		}
	}
}

func TestRevocationWithinCacheTTLAndExpiryToTheSecond(t *testing.T) {
	keys, clk, h := setup()
	exp := clk.now.Add(10 * time.Second)
	key := keys.add(tenant.Sandbox, RoleDeveloper, func(k *Key) { k.ExpiresAt = &exp })
	if rec := call(h, "GET", "ApiKey "+key); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"env":"sandbox"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// Expiry is checked on every request, even from the cache.
	clk.now = exp
	if rec := call(h, "GET", "ApiKey "+key); rec.Code != 401 {
		t.Fatalf("expired key answered %d", rec.Code)
	}

	key2 := keys.add(tenant.Live, RoleAdmin, nil)
	call(h, "GET", "ApiKey "+key2)
	keys.mu.Lock()
	k := keys.keys[apikey.Hash(pepper, key2)]
	k.Revoked = true
	keys.keys[k.Hash] = k
	keys.mu.Unlock()
	lookups := keys.lookups
	clk.now = clk.now.Add(CacheTTL - time.Second)
	if rec := call(h, "GET", "ApiKey "+key2); rec.Code != 200 || keys.lookups != lookups {
		t.Fatalf("within the cache TTL: %d, lookups %d -> %d", rec.Code, lookups, keys.lookups)
	}
	clk.now = clk.now.Add(2 * time.Second)
	if rec := call(h, "GET", "ApiKey "+key2); rec.Code != 401 {
		t.Fatalf("revoked key still works after CacheTTL: %d", rec.Code)
	}
}

func TestRolesAndRateLimit(t *testing.T) {
	keys, _, h := setup()
	ro := keys.add(tenant.Live, RoleReadOnly, nil)
	if rec := call(h, "GET", "ApiKey "+ro); rec.Code != 200 {
		t.Fatalf("read_only GET: %d", rec.Code)
	}
	if rec := call(h, "POST", "ApiKey "+ro); rec.Code != 403 || !strings.Contains(rec.Body.String(), `"FORBIDDEN"`) {
		t.Fatalf("read_only POST: %d %s", rec.Code, rec.Body)
	}
	dev := keys.add(tenant.Live, RoleDeveloper, func(k *Key) { k.OrgID = "org_B"; k.Tier = "free" })
	if rec := call(h, "DELETE", "ApiKey "+dev); rec.Code != 200 || rec.Header().Get("X-RateLimit-Limit") != "60" {
		t.Fatalf("developer DELETE: %d %v", rec.Code, rec.Header())
	}
	limited := 0
	for range 20 {
		rec := call(h, "GET", "ApiKey "+dev)
		if rec.Code == http.StatusTooManyRequests {
			limited++
			if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"RATE_LIMITED"`) {
				t.Fatalf("429 without Retry-After or code: %v %s", rec.Header(), rec.Body)
			}
		}
	}
	if limited != 11 { // burst 10, one already used
		t.Fatalf("free tier: %d of 20 refused, want 11", limited)
	}
}

// TestSandboxFloodLeavesLiveAllowance: an organisation's sandbox and live keys have a bucket
// each, so emptying the sandbox one costs live traffic nothing.
func TestSandboxFloodLeavesLiveAllowance(t *testing.T) {
	keys, _, h := setup()
	free := func(k *Key) { k.OrgID = "org_F"; k.Tier = "free" }
	sandbox, live := keys.add(tenant.Sandbox, RoleDeveloper, free), keys.add(tenant.Live, RoleDeveloper, free)
	refused := 0
	for range 30 {
		if call(h, "GET", "ApiKey "+sandbox).Code == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused < 15 {
		t.Fatalf("the sandbox flood was not limited: %d of 30 refused", refused)
	}
	for i := range 10 {
		rec := call(h, "GET", "ApiKey "+live)
		if rec.Code != 200 || rec.Header().Get("X-RateLimit-Remaining") != strconv.Itoa(9-i) {
			t.Fatalf("live request %d after a sandbox flood: %d remaining %s", i+1, rec.Code, rec.Header().Get("X-RateLimit-Remaining"))
		}
	}
}

func TestRequire(t *testing.T) {
	ctx := WithCaller(context.Background(), Caller{Tenant: tenant.Tenant{Env: tenant.Live, OrgID: "org_A"}, Role: RoleDeveloper})
	if err := Require(ctx, RoleDeveloper); err != nil {
		t.Fatal(err)
	}
	var apiErr *httpapi.Error
	if err := Require(ctx, RoleAdmin); !errors.As(err, &apiErr) || apiErr.Status != 403 {
		t.Fatalf("developer passed an admin check: %v", err)
	}
	if err := Require(context.Background(), RoleReadOnly); err == nil {
		t.Fatal("no caller passed")
	}
}

func TestLookupFailureIsA500NotA401(t *testing.T) {
	keys, _, h := setup()
	key := keys.add(tenant.Live, RoleAdmin, nil)
	keys.fail = errors.New("firestore unavailable")
	if rec := call(h, "GET", "ApiKey "+key); rec.Code != 500 {
		t.Fatalf("lookup failure answered %d", rec.Code)
	}
}

// TestKeyOnTheOtherEnvironmentsHost: the host a request came in on (the load balancer's
// environment header) must be the key's environment; the 401 names the right host, and no
// lookup is made for it.
func TestKeyOnTheOtherEnvironmentsHost(t *testing.T) {
	keys := &memKeys{keys: map[string]Key{}}
	a := New(keys, pepper, ratelimit.NewLocal(), WithAPIURLs("https://api.tokapi.io/v1", "https://sandbox.api.tokapi.io/v1"))
	h := httpapi.Middleware("p", a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	live, sandbox := keys.add(tenant.Live, RoleAdmin, nil), keys.add(tenant.Sandbox, RoleAdmin, nil)
	for _, c := range []struct {
		key, host string
		want      int
		names     string
	}{
		{live, tenant.Live, 204, ""},
		{sandbox, tenant.Sandbox, 204, ""},
		{live, "", 204, ""},
		{sandbox, "", 204, ""},
		{sandbox, tenant.Live, 401, "https://sandbox.api.tokapi.io/v1"},
		{live, tenant.Sandbox, 401, "https://api.tokapi.io/v1"},
		{live, "staging", 401, "https://api.tokapi.io/v1"},
	} {
		lookups := keys.lookups
		req := httptest.NewRequest("GET", "/v1/x", nil)
		req.Header.Set("Authorization", "ApiKey "+c.key)
		if c.host != "" {
			req.Header.Set(tenant.EnvironmentHeader, c.host)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s key on the %q host: %d %s, want %d", c.key[:8], c.host, rec.Code, rec.Body, c.want)
		}
		if c.want == 401 && (!strings.Contains(rec.Body.String(), `"INVALID_API_KEY"`) || !strings.Contains(rec.Body.String(), c.names) || keys.lookups != lookups) {
			t.Errorf("%s key on the %q host: %s (lookups %d -> %d), want a 401 naming %s without a lookup", c.key[:8], c.host, rec.Body, lookups, keys.lookups, c.names)
		}
	}
}

// TestUnauthenticatedFloodAcrossInstances floods four instances with made-up keys from one
// address: the address's shared bucket refuses them before any key lookup, so Firestore sees
// no more lookups than the bucket admits, while another address and a known key go through.
func TestUnauthenticatedFloodAcrossInstances(t *testing.T) {
	project := testenv.Project(t)
	clk := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	keys := &memKeys{keys: map[string]Key{}}
	good := keys.add(tenant.Live, RoleDeveloper, nil)
	var handlers []http.Handler
	for range 4 {
		lim := ratelimit.New(testenv.Firestore(t, project), ratelimit.WithClock(clk.Now), ratelimit.WithoutSweeper())
		t.Cleanup(func() { _ = lim.Close(context.Background()) })
		a := New(keys, pepper, lim, WithClock(clk.Now))
		handlers = append(handlers, httpapi.Middleware("p", a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}))))
	}
	send := func(h http.Handler, forwarded, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/v1/x", nil)
		req.Header.Set("X-Forwarded-For", forwarded)
		req.Header.Set("Authorization", "ApiKey "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// The known key's instance has verified it before the flood.
	if rec := send(handlers[0], "198.51.100.1, 10.0.0.1", good); rec.Code != http.StatusNoContent {
		t.Fatalf("known key: %d %s", rec.Code, rec.Body)
	}

	const flood, step = 400, 25 * time.Millisecond // 40 a second for 10 s
	unauthorized, limited := 0, 0
	lookupsBefore := keys.lookups
	for i := range flood {
		made, _ := apikey.New(tenant.Live)
		// The attacker varies what it writes into X-Forwarded-For; the load balancer appends
		// the real address and its own.
		rec := send(handlers[i%len(handlers)], "10.9.9."+strconv.Itoa(i%250)+", 203.0.113.7, 10.0.0.1", made)
		switch rec.Code {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
			if rec.Header().Get("Retry-After") == "" || rec.Header().Get("X-Ratelimit-Remaining") != "0" {
				t.Fatalf("429 headers %v", rec.Header())
			}
		default:
			t.Fatalf("made-up key: %d %s", rec.Code, rec.Body)
		}
		clk.now = clk.now.Add(step)
	}
	lookups := keys.lookups - lookupsBefore
	allowance := 10 + 60*(flood*step).Minutes() // AddressTier's burst + rate × time
	t.Logf("%d made-up keys over 4 instances: %d answered 401, %d 429, %d key lookups (allowance %.0f)",
		flood, unauthorized, limited, lookups, allowance)
	if float64(lookups) > 1.1*allowance || float64(unauthorized) > 1.1*allowance {
		t.Errorf("%d lookups and %d 401s, want at most 10%% over %.0f", lookups, unauthorized, allowance)
	}
	if float64(unauthorized) < 0.9*allowance {
		t.Errorf("only %d 401s, want about %.0f", unauthorized, allowance)
	}
	made, _ := apikey.New(tenant.Live)
	if rec := send(handlers[1], "198.51.100.2, 10.0.0.1", made); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address during the flood: %d, want 401", rec.Code)
	}
	if rec := send(handlers[0], "203.0.113.7, 10.0.0.1", good); rec.Code != http.StatusNoContent {
		t.Errorf("a verified key from the flooding address: %d, want 204", rec.Code)
	}
}

func TestClientAddress(t *testing.T) {
	for _, tc := range []struct{ forwarded, remote, want string }{
		{"203.0.113.7, 10.0.0.1", "10.0.0.2:1234", "203.0.113.7"},
		{"1.2.3.4, 203.0.113.7, 10.0.0.1", "10.0.0.2:1234", "203.0.113.7"},
		{"203.0.113.7", "10.0.0.2:1234", "203.0.113.7"},
		{"", "192.0.2.5:1234", "192.0.2.5"},
		{"2001:db8:1:2:3:4:5:6, 10.0.0.1", "", "2001:db8:1:2::/64"},
		{"::ffff:203.0.113.7, 10.0.0.1", "", "203.0.113.7"},
		{"nonsense, 10.0.0.1", "", "unknown"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.remote
		if tc.forwarded != "" {
			req.Header.Set("X-Forwarded-For", tc.forwarded)
		}
		if got := clientAddress(req); got != tc.want {
			t.Errorf("clientAddress(%q, %q) = %q, want %q", tc.forwarded, tc.remote, got, tc.want)
		}
	}
}

// TestBurstOnAColdInstance: many concurrent requests with a key the instance has not seen
// cost one lookup and no token of the address's bucket, so none is refused.
func TestBurstOnAColdInstance(t *testing.T) {
	keys, _, h := setup()
	keys.delay = 50 * time.Millisecond
	key := keys.add(tenant.Live, RoleDeveloper, func(k *Key) { k.Tier = "enterprise" })
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Go(func() { codes[i] = call(h, "GET", "ApiKey "+key).Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: %d", i, c)
		}
	}
	keys.mu.Lock()
	defer keys.mu.Unlock()
	if keys.lookups != 1 {
		t.Errorf("%d lookups for 40 concurrent requests with one key, want 1", keys.lookups)
	}
}

// orderLimiter is a local limiter that records its address charges and organisation
// leases, in order with the key lookups.
type orderLimiter struct {
	*ratelimit.Local
	mu     sync.Mutex
	events []string
}

func (o *orderLimiter) note(e string) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}

func (o *orderLimiter) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := strings.Join(o.events, ",")
	o.events = nil
	return e
}

func (o *orderLimiter) Allow(ctx context.Context, key string, tier ratelimit.Tier) (ratelimit.Decision, error) {
	if strings.HasPrefix(key, "addr:") {
		o.note("address")
	} else {
		o.note("org")
	}
	return o.Local.Allow(ctx, key, tier)
}

// TestFirstSightOfAnAddress: the first request an instance sees from an address has its
// key looked up before the address is charged, and a good key is then not charged at all;
// later unknown keys from the address are charged before their lookup, so a refused address
// costs no lookup. The address's burst is intact after good keys.
func TestFirstSightOfAnAddress(t *testing.T) {
	keys := &memKeys{keys: map[string]Key{}}
	lim := &orderLimiter{Local: ratelimit.NewLocal()}
	keys.before = func() { lim.note("lookup") }
	h := httpapi.Middleware("p", New(keys, pepper, lim).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	first, second := keys.add(tenant.Live, RoleDeveloper, nil), keys.add(tenant.Live, RoleDeveloper, nil)
	if rec := call(h, "GET", "ApiKey "+first); rec.Code != http.StatusNoContent || rec.Header().Get("X-RateLimit-Limit") != "300" {
		t.Fatalf("first request: %d %v", rec.Code, rec.Header())
	}
	if got := lim.take(); got != "lookup,org" {
		t.Errorf("first request from the address: %s, want lookup,org", got)
	}
	if rec := call(h, "GET", "ApiKey "+second); rec.Code != http.StatusNoContent {
		t.Fatalf("second request: %d", rec.Code)
	}
	if got := lim.take(); got != "address,lookup,org" {
		t.Errorf("second request from the address: %s, want address,lookup,org", got)
	}
	for i := range 10 {
		made, _ := apikey.New(tenant.Live)
		if rec := call(h, "GET", "ApiKey "+made); rec.Code != http.StatusUnauthorized {
			t.Fatalf("unknown key %d: %d, want 401 (the address's burst is 10)", i+1, rec.Code)
		}
	}
	made, _ := apikey.New(tenant.Live)
	if rec := call(h, "GET", "ApiKey "+made); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("unknown key past the burst: %d, want 429", rec.Code)
	}
	if got := lim.take(); strings.Count(got, "lookup") != 10 || !strings.HasSuffix(got, "lookup,address") {
		t.Errorf("unknown keys: %s, want 10 lookups and a refused charge without one", got)
	}
}

// TestFirstSightOfAnExhaustedAddress: on an instance new to an address whose shared bucket
// is empty, a made-up key is looked up once and refused 429, as the bucket says; a good key
// is served, as it would be once its key is cached.
func TestFirstSightOfAnExhaustedAddress(t *testing.T) {
	keys := &memKeys{keys: map[string]Key{}}
	lim := ratelimit.NewLocal()
	for range 10 {
		if d, _ := lim.Allow(t.Context(), "addr:192.0.2.1", AddressTier); !d.Allowed {
			t.Fatal("the address's burst is 10")
		}
	}
	instance := func() http.Handler {
		return httpapi.Middleware("p", New(keys, pepper, lim).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})))
	}
	made, _ := apikey.New(tenant.Live)
	h := instance()
	for i := range 3 {
		if rec := call(h, "GET", "ApiKey "+made); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("made-up key %d from an exhausted address: %d %v, want 429", i+1, rec.Code, rec.Header())
		}
	}
	if keys.lookups != 1 {
		t.Errorf("%d lookups, want the first sight's one", keys.lookups)
	}
	good := keys.add(tenant.Live, RoleDeveloper, nil)
	if rec := call(instance(), "GET", "ApiKey "+good); rec.Code != http.StatusNoContent {
		t.Fatalf("good key from an exhausted address on a new instance: %d", rec.Code)
	}
}
