// Package rpccount is a counting proxy in front of an emulator's gRPC endpoint: a process
// pointed at it makes its calls as usual, and the test or benchmark reads how many it made
// of each method (BatchGetDocuments, Commit, AccessSecretVersion, ...). Only tests import it.
package rpccount

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"path"
	"sync"
	"testing"
	"time"
)

// Proxy forwards gRPC (HTTP/2 without TLS, as the emulators speak it) to one target and
// counts the calls by method name.
type Proxy struct {
	// Addr is host:port to give the client in place of the target's.
	Addr string

	mu     sync.Mutex
	counts map[string]int
}

// New starts a proxy to target (host:port), stopped when tb ends.
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(tb.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("rpccount: listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), counts: map[string]int{}}
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", target
		},
		Transport: &http.Transport{Protocols: &h2c, MaxIdleConnsPerHost: 64},
		// gRPC streams: forward every frame at once.
		FlushInterval: -1,
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			p.counts[path.Base(r.URL.Path)]++
			p.mu.Unlock()
			rp.ServeHTTP(w, r)
		}),
		Protocols:         &h2c,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("rpccount: serve: %v", err)
		}
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return p
}

// Counts returns the calls made so far by method name.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Reset forgets the calls counted so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
}

// Total is the number of calls of the named methods made so far.
func (p *Proxy) Total(methods ...string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range methods {
		n += p.counts[m]
	}
	return n
}
