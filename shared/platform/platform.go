// Package platform turns a function package into a Cloud Run function: `init()` calls HTTP
// or Event to register it, and nothing else happens until the first request or event. Then
// the configuration is read, the handler is built once for the instance, and the Google
// clients it uses are created on their own first use (shared/gcp).
package platform

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/config"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/logging"
)

// Env is what a function builds its handler from: configuration and the instance's
// lazily created clients.
type Env struct {
	Config  *config.Config
	Clients *gcp.Clients
}

// NewEnv reads the configuration; it creates no client.
func NewEnv(ctx context.Context) (*Env, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return nil, err
	}
	logging.Default(cfg.LogLevel)
	return &Env{Config: cfg, Clients: gcp.NewClients(cfg)}, nil
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
	}
	return instanceEnv, nil
}

// HTTPBuilder builds a function's handler from the instance's Env.
type HTTPBuilder func(ctx context.Context, env *Env) (http.Handler, error)

// HTTP registers an HTTP function under entryPoint.
func HTTP(entryPoint string, build HTTPBuilder) {
	functions.HTTP(entryPoint, LazyHTTP(build, instance).ServeHTTP)
}

// LazyHTTP returns a handler that builds the real one on the first request, wrapped in
// httpapi.Middleware. envFor supplies the Env (tests pass their own).
func LazyHTTP(build HTTPBuilder, envFor func(context.Context) (*Env, error)) http.Handler {
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
		h, err := build(ctx, env)
		if err != nil {
			return nil, fmt.Errorf("build handler: %w", err)
		}
		inner = h
		return h, nil
	}
	return httpapi.Middleware(os.Getenv("GOOGLE_CLOUD_PROJECT"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := get(r.Context())
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// EventHandler handles one CloudEvent.
type EventHandler func(ctx context.Context, e event.Event) error

// EventBuilder builds a function's event handler from the instance's Env.
type EventBuilder func(ctx context.Context, env *Env) (EventHandler, error)

// Event registers a CloudEvent function under entryPoint.
func Event(entryPoint string, build EventBuilder) {
	functions.CloudEvent(entryPoint, LazyEvent(build, instance))
}

// LazyEvent returns an event handler that builds the real one on the first event.
func LazyEvent(build EventBuilder, envFor func(context.Context) (*Env, error)) EventHandler {
	var (
		mu    sync.Mutex
		inner EventHandler
	)
	return func(ctx context.Context, e event.Event) error {
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
