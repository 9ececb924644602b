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
	"tokapi.io/tok/shared/manifest"
)

// Options says where the emulators already run and where the stack listens.
type Options struct {
	Root          string // module root
	Project       string // Google Cloud project for every emulator and function
	Listener      net.Listener
	FirestoreHost string
	PubSubHost    string
	KMSAddr       string // the KMS/Secret Manager emulator
	LogDir        string
	// Binary is the functions binary, built by Build.
	Binary string
	// Ticks publishes each scheduled topic's tick at its interval, as Cloud Scheduler does.
	Ticks bool
}

// Stack is a running local Tok.
type Stack struct {
	*stack
	URL      string // the gateway's base URL, without /v1
	Project  string // the Google Cloud project of the emulators and the functions
	LogDir   string // where each function logs, to <name>.log
	procs    *processes
	server   *http.Server
	cancel   context.CancelFunc
	stopOnce sync.Once
	Exited   <-chan error // a function process ended on its own
	KeyName  string       // the tokens KMS key
}

// Start brings up the functions and the gateway on opts.Listener and returns once every
// function answers and Pub/Sub pushes are wired.
func Start(ctx context.Context, m *manifest.Manifest, opts Options) (st *Stack, err error) {
	if opts.Listener == nil {
		return nil, errors.New("localstack: no listener")
	}
	addr, ok := opts.Listener.Addr().(*net.TCPAddr)
	if !ok {
		return nil, errors.New("localstack: listener has no TCP address")
	}
	url := "http://127.0.0.1:" + strconv.Itoa(addr.Port)
	if opts.Binary == "" {
		return nil, errors.New("localstack: no functions binary; call Build first")
	}
	s := &stack{project: opts.Project, manifest: m, binary: opts.Binary, logDir: opts.LogDir, publicURL: url,
		firestoreHost: opts.FirestoreHost, pubsubHost: opts.PubSubHost, kmsAddr: opts.KMSAddr}
	if err := s.bootstrapKeys(ctx); err != nil {
		return nil, err
	}
	procs, err := s.startFunctions(ctx)
	st = &Stack{stack: s, URL: url, Project: opts.Project, LogDir: opts.LogDir, procs: procs, Exited: procs.exited, KeyName: s.keyName}
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
	st.server = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.server.Serve(opts.Listener) }()
	readyCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		return st, fmt.Errorf("%w (logs in %s)", err, opts.LogDir)
	}
	if err := s.setupPubSub(ctx); err != nil {
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

// Env is the environment the functions run with, plus TOK_API_URL: what .tok/dev.env says.
func (st *Stack) Env() []string { return st.envVars() }

// Stop stops the ticks, the gateway and every function process. Calls after the first do nothing.
func (st *Stack) Stop() {
	st.stopOnce.Do(func() {
		if st.cancel != nil {
			st.cancel()
		}
		if st.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = st.server.Shutdown(ctx)
		}
		if st.procs != nil {
			st.procs.stop()
		}
	})
}
