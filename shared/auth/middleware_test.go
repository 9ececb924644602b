package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/tenant"
)

var pepper = []byte("test-pepper")

// memKeys is an in-memory Keys that counts lookups.
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]Key
	lookups int
	fail    error
}

func (m *memKeys) Authenticate(_ context.Context, hash string) (Key, error) {
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
