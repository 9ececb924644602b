package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"tokapi.io/tok/emulators/gateway"
	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/tenant"
)

// Options says where the emulators already run and where the stack listens.
type Options struct {
	Root     string       // module root
	Project  string       // Google Cloud project for every emulator and function
	Listener net.Listener // the live API host's port
	// SandboxListener is the sandbox API host's port; nil: a free loopback port.
	SandboxListener net.Listener
	FirestoreHost   string
	PubSubHost      string
	KMSAddr         string // the KMS/Secret Manager emulator
	LogDir          string
	// Binary is the functions binary, built by Build.
	Binary string
	// Ticks publishes each scheduled topic's tick at its interval, as Cloud Scheduler does.
	Ticks bool
}

// Stack is a running local Tok.
type Stack struct {
	*stack
	URL string // the gateway's base URL for live keys, without /v1
	// SandboxURL is the gateway's base URL for sandbox keys (the sandbox.api.tokapi.io of
	// the local stack), without /v1.
	SandboxURL string
	Project    string // the Google Cloud project of the emulators and the functions
	LogDir     string // where each function logs, to <name>.log
	procs      *processes
	servers    []*http.Server
	cancel     context.CancelFunc
	stopOnce   sync.Once
	Exited     <-chan error // a function process ended on its own
	KeyName    string       // the tokens KMS key
}

// Start brings up the functions and the gateway on opts.Listener and returns once every
// function answers and Pub/Sub pushes are wired.
func Start(ctx context.Context, m *manifest.Manifest, opts Options) (st *Stack, err error) {
	if opts.Listener == nil {
		return nil, errors.New("localstack: no listener")
	}
	url, err := baseURL(opts.Listener)
	if err != nil {
		return nil, err
	}
	if opts.Binary == "" {
		return nil, errors.New("localstack: no functions binary; call Build first")
	}
	sandboxLn := opts.SandboxListener
	if sandboxLn == nil {
		if sandboxLn, err = loopbackListener(ctx); err != nil {
			return nil, err
		}
	}
	sandboxURL, err := baseURL(sandboxLn)
	if err != nil {
		return nil, err
	}
	// Pub/Sub pushes arrive on a loopback port of their own, which no API host serves.
	pushLn, err := loopbackListener(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // closing a listener a server already closed is harmless
			_ = pushLn.Close()
			if opts.SandboxListener == nil {
				_ = sandboxLn.Close()
			}
		}
	}()
	pushURL, _ := baseURL(pushLn)
	s := &stack{project: opts.Project, manifest: m, binary: opts.Binary, logDir: opts.LogDir, publicURL: url, sandboxURL: sandboxURL, pushURL: pushURL,
		firestoreHost: opts.FirestoreHost, pubsubHost: opts.PubSubHost, kmsAddr: opts.KMSAddr}
	if err := s.bootstrapKeys(ctx); err != nil {
		return nil, err
	}
	procs, err := s.startFunctions(ctx)
	st = &Stack{stack: s, URL: url, SandboxURL: sandboxURL, Project: opts.Project, LogDir: opts.LogDir, procs: procs, Exited: procs.exited, KeyName: s.keyName}
	defer func() {
		if err != nil {
			st.Stop()
		}
	}()
	if err != nil {
		return st, err
	}
	gw, err := gateway.New(m, opts.Project, procs.backends())
	if err != nil {
		return st, err
	}
	st.serve(opts.Listener, gw.API(tenant.Live), WriteTimeout)
	st.serve(sandboxLn, gw.API(tenant.Sandbox), WriteTimeout)
	st.serve(pushLn, gw.Pushes(), PushWriteTimeout)
	if err := waitReady(ctx, gw, procs.exited); err != nil {
		return st, fmt.Errorf("%w (logs in %s)", err, opts.LogDir)
	}
	if err := s.setupPubSub(ctx, gw.PushBase(pushURL)); err != nil {
		return st, err
	}
	if opts.Ticks {
		tickCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		st.cancel = cancel
		if err := s.startTicks(tickCtx); err != nil {
			return st, err
		}
	}
	return st, nil
}

// waitReady waits until every function listens, and fails at once when one exits instead.
func waitReady(ctx context.Context, gw *gateway.Gateway, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	ready := make(chan error, 1) // the wait ends on its own with ctx, after an exit too
	go func() { ready <- gw.WaitReady(ctx) }()
	select {
	case err := <-ready:
		return err
	case err := <-exited:
		return err
	}
}

// APIURL is the base URL (without /v1) of the host that serves key's environment: SandboxURL
// for a sandbox key, URL for any other.
func (st *Stack) APIURL(key string) string {
	if env, err := apikey.Parse(key); err == nil && env == tenant.Sandbox {
		return st.SandboxURL
	}
	return st.URL
}

// Bounds of the API ports, as the load balancer's: headers must arrive within HeaderTimeout
// (a client trickling them is cut), the whole request within ReadTimeout (the gateway
// answers a late body 408 at gateway.BodyReadTimeout, before this), the answer must be
// written within WriteTimeout (beyond the callback's 30 s deadline), and an idle
// connection closes after IdleTimeout. The function processes behind the gateway listen
// on loopback only and receive only the gateway's complete requests.
const (
	HeaderTimeout = 10 * time.Second
	ReadTimeout   = HeaderTimeout + gateway.BodyReadTimeout + 5*time.Second
	WriteTimeout  = 45 * time.Second
	IdleTimeout   = 60 * time.Second
	// PushWriteTimeout bounds an event function's handling of a push, a little beyond the
	// gateway's own 60 s client timeout towards the function.
	PushWriteTimeout = 65 * time.Second
)

func (st *Stack) serve(ln net.Listener, h http.Handler, writeTimeout time.Duration) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: HeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: IdleTimeout}
	st.servers = append(st.servers, srv)
	go func() { _ = srv.Serve(ln) }()
}

func loopbackListener(ctx context.Context) (net.Listener, error) {
	return (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
}

// baseURL is http://127.0.0.1:<port> of a loopback listener.
func baseURL(ln net.Listener) (string, error) {
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return "", errors.New("localstack: listener has no TCP address")
	}
	return "http://127.0.0.1:" + strconv.Itoa(addr.Port), nil
}

// Env is the environment the functions run with, plus TOK_API_URL and TOK_SANDBOX_API_URL:
// what .tok/dev.env says.
func (st *Stack) Env() []string { return st.envVars() }

// Stop stops the ticks, the gateway and every function process. Calls after the first do nothing.
func (st *Stack) Stop() {
	st.stopOnce.Do(func() {
		if st.cancel != nil {
			st.cancel()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range st.servers {
			_ = srv.Shutdown(ctx)
		}
		if st.procs != nil {
			st.procs.stop()
		}
	})
}
