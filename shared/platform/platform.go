// Package platform turns a function package into a Cloud Run function: `init()` calls HTTP
// or Event to register it, and nothing else happens until the first request or event. Then
// the platform's configuration (Config) is read, the handler is built once for the
// instance, and the Google clients it uses are created on their own first use (shared/gcp).
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/config"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/idempotency"
	"tokapi.io/tok/shared/logging"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/queryparams"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/secrets"
)

// Config is what the platform reads for every function: where its clients connect, the log
// level, and the API's hosts, which authentication names to a caller on the wrong one. A
// function reads its own settings in its build (config.Process into its own struct).
type Config struct {
	GCP      gcp.Config
	URLs     PublicURLs
	LogLevel string `env:"TOK_LOG_LEVEL, default=info"`
}

// PublicURLs are the base URLs (without /v1) of the API's two hosts: live keys are served at
// Live, which is also the bank callback's host, and sandbox keys at Sandbox.
type PublicURLs struct {
	Live    string `env:"TOK_PUBLIC_URL, default=http://127.0.0.1:8080"`
	Sandbox string `env:"TOK_SANDBOX_PUBLIC_URL, default=http://127.0.0.1:8081"`
}

// Env is what a function builds its handler from: the instance's lazily created clients.
type Env struct {
	Clients *gcp.Clients

	cfg Config

	mu      sync.Mutex
	secrets *secrets.Reader
	auth    *auth.Authenticator
	limiter *ratelimit.Limiter
}

// NewEnv reads the platform's configuration; it creates no client.
func NewEnv(ctx context.Context) (*Env, error) {
	var cfg Config
	if err := config.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	logging.Default(cfg.LogLevel)
	return NewEnvFrom(cfg), nil
}

// NewEnvFrom returns an Env for a configuration (tests build their own).
func NewEnvFrom(cfg Config) *Env {
	return &Env{cfg: cfg, Clients: gcp.NewClients(cfg.GCP)}
}

// SecretCacheTTL is how long a secret value is reused before Secret Manager is asked again.
const SecretCacheTTL = 5 * time.Minute

// Secrets returns the instance's Secret Manager reader.
func (e *Env) Secrets(ctx context.Context) (*secrets.Reader, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.secrets == nil {
		client, err := e.Clients.SecretManager(ctx)
		if err != nil {
			return nil, err
		}
		e.secrets = secrets.New(client, e.cfg.GCP.ProjectID, SecretCacheTTL)
	}
	return e.secrets, nil
}

// WithConfig reads a function's settings, a struct of `env`-tagged fields (config.Process),
// before its build runs, so each function declares exactly what it reads:
//
//	platform.HTTP("Payments", platform.WithConfig(build))
//	func build(ctx context.Context, env *platform.Env, s settings) (http.Handler, error)
func WithConfig[C, H any](build func(context.Context, *Env, C) (H, error)) func(context.Context, *Env) (H, error) {
	return func(ctx context.Context, env *Env) (H, error) {
		var c C
		if err := config.Process(ctx, &c); err != nil {
			var zero H
			return zero, err
		}
		return build(ctx, env, c)
	}
}

// Using builds a function on one dependency: it reads the dependency's configuration K and
// the function's own settings C (struct{} for none), makes the dependency with dep (a shared
// package's FromEnv) and hands both to build.
//
//	platform.HTTP("Payments", platform.Using(connections.FromEnv, build))
//	func build(ctx context.Context, env *platform.Env, conns *connections.Service, urls platform.PublicURLs) (http.Handler, error)
func Using[K, D, C, H any](dep func(context.Context, *Env, K) (D, error), build func(context.Context, *Env, D, C) (H, error)) func(context.Context, *Env) (H, error) {
	type settings struct {
		Dependency K
		Function   C
	}
	return WithConfig(func(ctx context.Context, env *Env, s settings) (H, error) {
		d, err := dep(ctx, env, s.Dependency)
		if err != nil {
			var zero H
			return zero, err
		}
		return build(ctx, env, d, s.Function)
	})
}

// PepperSecret is the Secret Manager secret holding the API key pepper.
const PepperSecret = "api-key-pepper"

// Pepper reads the API key pepper (PepperSecret), which also keys idempotency records.
func (e *Env) Pepper(ctx context.Context) ([]byte, error) {
	sr, err := e.Secrets(ctx)
	if err != nil {
		return nil, err
	}
	pepper, err := sr.Get(ctx, PepperSecret)
	if err != nil {
		return nil, fmt.Errorf("read API key pepper: %w", err)
	}
	return pepper, nil
}

// Authenticator returns the instance's API key authenticator and rate limiter.
func (e *Env) Authenticator(ctx context.Context) (*auth.Authenticator, error) {
	// The Secret Manager client comes first, so nothing delays the pepper's read, the head
	// of the first request's chain of calls; the Firestore client is made while the pepper
	// is read: the key's lookup, which needs both, then waits for neither in turn.
	if _, err := e.Secrets(ctx); err != nil {
		return nil, err
	}
	firestoreClient := inBackground(func() (*firestore.Client, error) { return e.Clients.Firestore(ctx) })
	pepper, err := e.Pepper(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := firestoreClient()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.auth != nil {
		return e.auth, nil
	}
	e.limiter = ratelimit.New(fs)
	e.auth = auth.New(orgs.New(fs, pepper), pepper, e.limiter,
		auth.WithAPIURLs(e.cfg.URLs.Live+"/v1", e.cfg.URLs.Sandbox+"/v1"))
	return e.auth, nil
}

// inBackground starts f on a goroutine of its own and returns what waits for its result.
func inBackground[T any](f func() (T, error)) func() (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	return func() (T, error) {
		r := <-done
		return r.v, r.err
	}
}

// Close gives back the rate-limit tokens the instance leased and did not use, so stopping
// an instance costs its organisations nothing. The process's Env is closed on SIGTERM,
// which Cloud Run sends before it stops an instance.
func (e *Env) Close(ctx context.Context) error {
	e.mu.Lock()
	lim := e.limiter
	e.mu.Unlock()
	if lim == nil {
		return nil
	}
	return lim.Close(ctx)
}

// StopTimeout bounds Close on SIGTERM, well inside the 10 s Cloud Run grants.
const StopTimeout = 5 * time.Second

// closeOnSIGTERM closes env when the process is told to stop, then lets the signal take
// its default course.
func closeOnSIGTERM(env *Env) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() {
		sig := <-stop
		ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
		if err := env.Close(ctx); err != nil {
			slog.WarnContext(ctx, "closing the instance", "error", err)
		}
		cancel()
		signal.Reset(sig)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Signal(sig)
		}
	}()
}

// idempotency is the store that makes every POST honour Idempotency-Key, sealing stored
// responses under the pepper.
func (e *Env) idempotency(ctx context.Context) (*idempotency.Store, error) {
	pepper, err := e.Pepper(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := e.Clients.Firestore(ctx)
	if err != nil {
		return nil, err
	}
	return &idempotency.Store{Client: fs, Secret: pepper}, nil
}

var (
	instanceMu  sync.Mutex
	instanceEnv *Env
)

// instance returns the process's Env, created on the first call; a failure is retried on
// the next call.
func instance(ctx context.Context) (*Env, error) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	if instanceEnv == nil {
		env, err := NewEnv(ctx)
		if err != nil {
			return nil, err
		}
		instanceEnv = env
		closeOnSIGTERM(env)
	}
	return instanceEnv, nil
}

// HTTPBuilder builds a function's handler from the instance's Env.
type HTTPBuilder func(ctx context.Context, env *Env) (http.Handler, error)

// Option changes how an HTTP function is served.
type Option func(*options)

type options struct {
	public      bool
	timeout     time.Duration
	bodyTimeout time.Duration
}

// Public serves a function without API key authentication or the organisation rate limit:
// only for the bank callback and the sandbox bank, which banks and browsers call.
func Public() Option { return func(o *options) { o.public = true } }

// Timeout gives the function's requests a deadline other than httpapi.RequestTimeout: longer
// for the bank callback, whose request waits on several bank calls.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// HTTP registers an HTTP function under entryPoint. Every request's body is read whole
// within httpapi.BodyReadTimeout and its answer must be written within its deadline and
// WriteMargin. Unless the function is Public, every request is authenticated by its API key
// and rate-limited, its path and query are checked against the API spec, its JSON body is
// held strict (httpapi.StrictJSON), and every POST honours Idempotency-Key.
func HTTP(entryPoint string, build HTTPBuilder, opts ...Option) {
	registryMu.Lock()
	httpBuilders[entryPoint] = build
	registryMu.Unlock()
	functions.HTTP(entryPoint, LazyHTTP(build, instance, opts...).ServeHTTP)
}

var (
	registryMu   sync.Mutex
	httpBuilders = map[string]HTTPBuilder{}
)

// RouteLister is a handler that lists the route patterns it serves (httpapi.Router).
type RouteLister interface{ Patterns() []string }

// Routes builds the handler of every HTTP function registered in this process, as its first
// request would, and returns the patterns each serves by entry point; nil for a handler that
// is not a RouteLister. The local stack's functions binary prints it, so a test compares the
// routes really served with the spec's operations.
func Routes(ctx context.Context) (map[string][]string, error) {
	env, err := instance(ctx)
	if err != nil {
		return nil, err
	}
	registryMu.Lock()
	builders := make(map[string]HTTPBuilder, len(httpBuilders))
	for k, v := range httpBuilders {
		builders[k] = v
	}
	registryMu.Unlock()
	out := make(map[string][]string, len(builders))
	for entryPoint, build := range builders {
		h, err := build(ctx, env)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", entryPoint, err)
		}
		out[entryPoint] = nil
		if rl, ok := h.(RouteLister); ok {
			out[entryPoint] = rl.Patterns()
		}
	}
	return out, nil
}

// WriteMargin is how long past its deadline a request's answer may take to be written: a
// client that does not read its answer holds the connection no longer.
const WriteMargin = 5 * time.Second

// LazyHTTP returns a handler that builds the real one on the first request, behind
// httpapi.Middleware and, unless Public, authentication. envFor supplies the Env (tests
// pass their own).
//
// The read and write deadlines are set here, per request, on the connection itself:
// functions-framework-go serves with an http.Server that has no timeouts, and the process
// owns no other place to set them. A body shorter than its Content-Length or a stalled
// chunked body is answered 408 in the envelope at httpapi.BodyReadTimeout, never held.
func LazyHTTP(build HTTPBuilder, envFor func(context.Context) (*Env, error), opts ...Option) http.Handler {
	o := options{timeout: httpapi.RequestTimeout, bodyTimeout: httpapi.BodyReadTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	var (
		mu    sync.Mutex
		inner http.Handler
	)
	get := func(ctx context.Context) (http.Handler, error) {
		mu.Lock()
		defer mu.Unlock()
		if inner != nil {
			return inner, nil
		}
		env, err := envFor(ctx)
		if err != nil {
			return nil, fmt.Errorf("instance environment: %w", err)
		}
		if o.public {
			h, err := build(ctx, env)
			if err != nil {
				return nil, fmt.Errorf("build handler: %w", err)
			}
			inner = h
			return h, nil
		}
		// The authenticator's first call (the pepper, from Secret Manager) heads the first
		// request's chain of calls, so it is made here at once; the handler and the spec's
		// checker, which do not need it, are built meanwhile on a goroutine of their own.
		checked := inBackground(func() (h http.Handler, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("build handler: panic: %v", p)
				}
			}()
			if h, err = build(ctx, env); err != nil {
				return nil, fmt.Errorf("build handler: %w", err)
			}
			// The API's path parameters and query strings are the spec's, and its JSON
			// bodies strict: checked after authentication, so an unauthenticated caller
			// learns nothing about the operation.
			queries, err := specChecker(h)
			if err != nil {
				return nil, err
			}
			return queries.Middleware(httpapi.StrictJSON(h)), nil
		})
		a, err := env.Authenticator(ctx)
		if err != nil {
			return nil, err
		}
		idem, err := env.idempotency(ctx)
		if err != nil {
			return nil, err
		}
		h, err := checked()
		if err != nil {
			return nil, err
		}
		inner = a.Middleware(idem.Middleware(h))
		return inner, nil
	}
	return httpapi.MiddlewareWithTimeout(os.Getenv("GOOGLE_CLOUD_PROJECT"), o.timeout, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request on a connection sets its own write deadline, so one left by the
		// previous request of a kept-alive connection never cuts this one.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(o.timeout + WriteMargin))
		if err := httpapi.ReadBody(w, r, o.bodyTimeout, httpapi.MaxRequestBytes); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		h, err := get(r.Context())
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// specChecker is the API spec's checker of the operations h serves when h lists them (a
// router), else of every operation.
func specChecker(h http.Handler) (*queryparams.Checker, error) {
	if rl, ok := h.(RouteLister); ok {
		return queryparams.SpecFor(rl.Patterns())
	}
	return queryparams.Spec()
}

// EventHandler handles one CloudEvent.
type EventHandler func(ctx context.Context, e event.Event) error

// EventBuilder builds a function's event handler from the instance's Env.
type EventBuilder func(ctx context.Context, env *Env) (EventHandler, error)

// EventTimeout is the deadline of one event delivery, building the handler on the first
// one included. Event functions run with a 60 s timeout and their push subscriptions' ack
// deadline is the same (infra/modules/function): a delivery whose dependency does not
// answer fails well before either, its push is answered with an error, and Pub/Sub
// delivers it again (or, after the subscription's attempts, to its dead-letter topic).
const EventTimeout = 45 * time.Second

// Event registers a CloudEvent function under entryPoint.
func Event(entryPoint string, build EventBuilder) {
	functions.CloudEvent(entryPoint, LazyEvent(build, instance))
}

// LazyEvent returns an event handler that builds the real one on the first event, and
// gives every delivery the deadline EventTimeout.
func LazyEvent(build EventBuilder, envFor func(context.Context) (*Env, error)) EventHandler {
	return lazyEvent(build, envFor, EventTimeout)
}

func lazyEvent(build EventBuilder, envFor func(context.Context) (*Env, error), timeout time.Duration) EventHandler {
	var (
		mu    sync.Mutex
		inner EventHandler
	)
	return func(ctx context.Context, e event.Event) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		mu.Lock()
		h := inner
		if h == nil {
			env, err := envFor(ctx)
			if err != nil {
				mu.Unlock()
				return fmt.Errorf("instance environment: %w", err)
			}
			if h, err = build(ctx, env); err != nil {
				mu.Unlock()
				return fmt.Errorf("build event handler: %w", err)
			}
			inner = h
		}
		mu.Unlock()
		ctx = logging.With(ctx, logAttrs(e)...)
		return h(ctx, e)
	}
}
