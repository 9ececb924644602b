package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/gcp/kmsclient"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/testenv"
)

// countingProxy forwards TCP connections to target and counts them. Frozen, it stops
// forwarding bytes, as a dependency that hangs does.
type countingProxy struct {
	ln     net.Listener
	conns  atomic.Int64
	frozen atomic.Bool
	closed chan struct{}
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, closed: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			go func() {
				up, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", target)
				if err != nil {
					_ = c.Close()
					return
				}
				go func() { p.copy(up, c); _ = up.Close() }()
				p.copy(c, up)
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() { close(p.closed); _ = ln.Close() })
	return p
}

// copy forwards src to dst, holding every chunk while the proxy is frozen.
func (p *countingProxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			select {
			case <-p.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

// TestNoClientCallsBeforeFirstRequest proves that registering a function and starting an
// instance touch no Google service: Firestore, KMS and Secret Manager are first reached by
// the first request.
func TestNoClientCallsBeforeFirstRequest(t *testing.T) {
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	smEndpoint := testenv.SecretManagerEndpoint(t)

	// Set up a pepper and an organisation directly, not through the proxies.
	keys := seedOrg(t, project, fs, smEndpoint, orgs.TierPro)

	firestoreProxy := newCountingProxy(t, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	kmsProxy := newCountingProxy(t, testenv.KMSEndpoint(t))
	smProxy := newCountingProxy(t, smEndpoint)
	t.Setenv("FIRESTORE_EMULATOR_HOST", firestoreProxy.addr())
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: project, KMSEndpoint: kmsProxy.addr(), SecretManagerEndpoint: smProxy.addr()}})
	built := 0
	build := func(ctx context.Context, env *Env) (http.Handler, error) {
		built++
		client, err := env.Clients.Firestore(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := kmsclient.Get(ctx, env.Clients); err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := client.Collection("probe").Doc("x").Get(r.Context()); err != nil && !errors.Is(err, context.Canceled) {
				httpapi.WriteJSON(w, http.StatusOK, map[string]string{"read": "attempted"})
				return
			}
			httpapi.WriteJSON(w, http.StatusOK, map[string]string{"read": "ok"})
		}), nil
	}

	// Instance start: the handler is registered and idle.
	h := LazyHTTP(build, func(context.Context) (*Env, error) { return env, nil })
	time.Sleep(300 * time.Millisecond)
	if n := firestoreProxy.conns.Load() + kmsProxy.conns.Load() + smProxy.conns.Load(); n != 0 || built != 0 {
		t.Fatalf("before the first request: %d connections, handler built %d times", n, built)
	}

	req := httptest.NewRequest(http.MethodGet, "/v1/probe", nil)
	req.Header.Set("Authorization", "ApiKey "+keys.LiveKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	if firestoreProxy.conns.Load() == 0 || smProxy.conns.Load() == 0 {
		t.Errorf("first request made no Firestore (%d) or Secret Manager (%d) connection: the proxies are not in the path",
			firestoreProxy.conns.Load(), smProxy.conns.Load())
	}
	// A second request reuses the instance's handler and clients.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || built != 1 {
		t.Errorf("second request: %d, handler built %d times", rec.Code, built)
	}
}

// TestPublicFunctionsSkipAuthentication: a Public function answers without a key, while a
// default one refuses.
func TestPublicFunctionsSkipAuthentication(t *testing.T) {
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: "unused"}})
	envFor := func(context.Context) (*Env, error) { return env, nil }
	build := func(context.Context, *Env) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }), nil
	}
	rec := httptest.NewRecorder()
	LazyHTTP(build, envFor, Public()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox-bank/x", nil))
	if rec.Code != http.StatusNoContent || rec.Header().Get(httpapi.RequestIDHeader) == "" {
		t.Fatalf("public function: %d %v", rec.Code, rec.Header())
	}
}

// seedOrg stores the API key pepper in Secret Manager and creates an organisation of tier.
func seedOrg(t *testing.T, project string, fs *firestore.Client, smEndpoint string, tier string) orgs.NewKeyPair {
	t.Helper()
	ctx := context.Background()
	sc, err := secretmanager.NewClient(ctx, gcp.EmulatorOptions(smEndpoint)...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sc.Close() }()
	secret, err := sc.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + project, SecretId: PepperSecret,
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	pepper := []byte("pepper-for-this-test")
	if _, err := sc.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: secret.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: pepper}}); err != nil {
		t.Fatal(err)
	}
	_, keys, err := orgs.New(fs, pepper).CreateOrg(ctx, "Lazy Ltd", tier, nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRateLimitHeadersOnEveryAnswer: an authenticated request carries its organisation's
// rate-limit headers whatever the function answers, unknown routes and errors included, and
// an instance that is closed gives its unused tokens back.
func TestRateLimitHeadersOnEveryAnswer(t *testing.T) {
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	smEndpoint := testenv.SecretManagerEndpoint(t)
	keys := seedOrg(t, project, fs, smEndpoint, orgs.TierFree)
	build := func(context.Context, *Env) (http.Handler, error) {
		rt := httpapi.NewRouter()
		rt.Handle("GET /v1/things", func(http.ResponseWriter, *http.Request) error {
			return httpapi.InvalidField("limit", "must be between 1 and 100")
		})
		rt.Handle("POST /v1/things", func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusCreated)
			return nil
		})
		return rt, nil
	}
	newInstance := func() (*Env, http.Handler) {
		env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: project, SecretManagerEndpoint: smEndpoint}})
		t.Cleanup(func() { _ = env.Close(context.Background()) })
		return env, LazyHTTP(build, func(context.Context) (*Env, error) { return env, nil })
	}
	env, h := newInstance()
	call := func(h http.Handler, method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), method, path, nil)
		req.Header.Set("Authorization", "ApiKey "+keys.LiveKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/things", http.StatusBadRequest},
		{http.MethodGet, "/v1/nowhere", http.StatusNotFound},
		{http.MethodDelete, "/v1/things", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/things", http.StatusCreated},
	} {
		rec := call(h, tc.method, tc.path)
		if rec.Code != tc.status {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, rec.Code, rec.Body)
		}
		hd := rec.Header()
		if hd.Get("X-RateLimit-Limit") != "60" || hd.Get("X-RateLimit-Remaining") == "" || hd.Get("X-RateLimit-Reset") == "" {
			t.Errorf("%s %s answered %d without the rate-limit headers: %v", tc.method, tc.path, rec.Code, hd)
		}
	}
	// Four requests used four tokens; the instance leased more. Closed, it gives the rest
	// back: a new instance then admits what the burst of 10 has left.
	if err := env.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, h2 := newInstance()
	admitted := 0
	for range 10 {
		if call(h2, http.MethodPost, "/v1/things").Code == http.StatusCreated {
			admitted++
		}
	}
	if admitted < 6 {
		t.Errorf("a new instance admitted %d after the first closed, want at least the 6 the burst of 10 has left", admitted)
	}
}

// TestEveryPostHonoursIdempotencyKey: the platform, not each handler, honours
// Idempotency-Key, so a POST of any authenticated function runs once per key.
func TestEveryPostHonoursIdempotencyKey(t *testing.T) {
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	smEndpoint := testenv.SecretManagerEndpoint(t)
	keys := seedOrg(t, project, fs, smEndpoint, orgs.TierPro)
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: project, SecretManagerEndpoint: smEndpoint}})
	var runs atomic.Int64
	build := func(context.Context, *Env) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			httpapi.WriteJSON(w, http.StatusCreated, map[string]int64{"run": runs.Add(1)})
		}), nil
	}
	h := LazyHTTP(build, func(context.Context) (*Env, error) { return env, nil })
	post := func(key, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/anything", strings.NewReader(body))
		req.Header.Set("Authorization", "ApiKey "+keys.LiveKey)
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	first, again := post("k1", `{}`), post("k1", `{}`)
	if first.Code != 201 || again.Code != 201 || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" || runs.Load() != 1 {
		t.Fatalf("first %d %s, again %d %s %v, runs %d", first.Code, first.Body, again.Code, again.Body, again.Header(), runs.Load())
	}
	if r := post("k1", `{"other":1}`); r.Code != 422 {
		t.Errorf("reused key: %d %s", r.Code, r.Body)
	}
}

// TestFrozenFirestoreAnswers503: when Firestore stops answering, a request gets 503
// SERVICE_UNAVAILABLE with Retry-After at its deadline instead of waiting for Firestore,
// both for a key not yet cached (the key lookup hangs) and in the handler.
func TestFrozenFirestoreAnswers503(t *testing.T) {
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	smEndpoint := testenv.SecretManagerEndpoint(t)
	keys := seedOrg(t, project, fs, smEndpoint, orgs.TierPro)
	firestoreProxy := newCountingProxy(t, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	t.Setenv("FIRESTORE_EMULATOR_HOST", firestoreProxy.addr())
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: project, SecretManagerEndpoint: smEndpoint}})
	build := func(ctx context.Context, env *Env) (http.Handler, error) {
		client, err := env.Clients.Firestore(ctx)
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := client.Collection("probe").Doc("x").Get(r.Context()); err != nil && status.Code(err) != codes.NotFound {
				httpapi.WriteError(w, r, fmt.Errorf("read probe: %w", err))
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}), nil
	}
	h := LazyHTTP(build, func(context.Context) (*Env, error) { return env, nil }, Timeout(time.Second))
	get := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/probe", nil)
		req.Header.Set("Authorization", "ApiKey "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// Before the freeze the function answers (a first request on a loaded machine may need
	// more than the short deadline to build the instance, so it may take a few tries).
	for i := 0; ; i++ {
		rec := get(keys.LiveKey)
		if rec.Code == http.StatusNoContent {
			break
		}
		if i == 10 {
			t.Fatalf("before the freeze: %d %s", rec.Code, rec.Body)
		}
	}
	// Frozen for the rest of the test: only the deadline can end these requests.
	firestoreProxy.frozen.Store(true)
	for name, key := range map[string]string{"handler read": keys.LiveKey, "key lookup": keys.SandboxKey} {
		rec := get(key)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
			!strings.Contains(rec.Body.String(), `"SERVICE_UNAVAILABLE"`) || !strings.Contains(rec.Body.String(), `"req_`) {
			t.Errorf("%s with Firestore frozen: %d %v %s", name, rec.Code, rec.Header(), rec.Body)
		}
	}
}

// TestQueriesCheckedAgainstTheServedOperations: a router's requests are checked against the
// spec's rules of the operations it serves, so a bad query of one of them is 400 and a
// request for another function's operation is the router's 404; a handler that does not
// list its routes is checked against every operation.
func TestQueriesCheckedAgainstTheServedOperations(t *testing.T) {
	keys, envFor := seededInstance(t, orgs.TierEnterprise)
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	router := LazyHTTP(func(context.Context, *Env) (http.Handler, error) {
		rt := httpapi.NewRouter()
		rt.Handle("GET /v1/banks", func(w http.ResponseWriter, r *http.Request) error { ok(w, r); return nil })
		return rt, nil
	}, envFor)
	plain := LazyHTTP(func(context.Context, *Env) (http.Handler, error) { return http.HandlerFunc(ok), nil }, envFor)
	for _, tc := range []struct {
		name   string
		h      http.Handler
		path   string
		status int
	}{
		{"router, its operation", router, "/v1/banks?country=HR", http.StatusNoContent},
		{"router, its operation, bad query", router, "/v1/banks?country=hr", http.StatusBadRequest},
		{"router, another function's operation", router, "/v1/accounts?currency=eur", http.StatusNotFound},
		{"plain handler, any operation, bad query", plain, "/v1/accounts?currency=eur", http.StatusBadRequest},
		{"plain handler, good query", plain, "/v1/accounts?currency=EUR", http.StatusNoContent},
	} {
		if rec := get(t, tc.h, keys.LiveKey, tc.path); rec.Code != tc.status {
			t.Errorf("%s: %s answered %d, want %d: %s", tc.name, tc.path, rec.Code, tc.status, rec.Body)
		}
	}
}

// TestPanickingBuildAnswers500: a handler's build that panics, on the goroutine it runs on
// while the authenticator reads the pepper, is answered 500 in the envelope, as a handler's
// panic is, instead of ending the process.
func TestPanickingBuildAnswers500(t *testing.T) {
	keys, envFor := seededInstance(t, orgs.TierPro)
	h := LazyHTTP(func(context.Context, *Env) (http.Handler, error) { panic("broken build") }, envFor)
	if rec := get(t, h, keys.LiveKey, "/v1/banks"); rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"code"`) {
		t.Fatalf("a panicking build: %d %s", rec.Code, rec.Body)
	}
}

// seededInstance seeds an organisation of tier and returns its keys and the environment of
// an instance whose clients reach the emulators.
func seededInstance(t *testing.T, tier string) (orgs.NewKeyPair, func(context.Context) (*Env, error)) {
	t.Helper()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	smEndpoint := testenv.SecretManagerEndpoint(t)
	keys := seedOrg(t, project, fs, smEndpoint, tier)
	env := NewEnvFrom(Config{GCP: gcp.Config{ProjectID: project, SecretManagerEndpoint: smEndpoint}})
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	return keys, func(context.Context) (*Env, error) { return env, nil }
}

// get sends GET path to h with the API key key.
func get(t *testing.T, h http.Handler, key, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
	req.Header.Set("Authorization", "ApiKey "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
