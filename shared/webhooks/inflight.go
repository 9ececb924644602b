package webhooks

import (
	"sync"
	"time"
)

// Per-endpoint concurrency of one instance. A fan-out attempts its deliveries inline and
// waits for them at most InlineBudget; an endpoint that took longer is marked slow and then
// gets one attempt in flight at a time, the rest of its deliveries going through the queue,
// so a customer whose endpoint hangs for the whole Timeout holds one attempt per instance
// and never the fan-out of everyone else's events.
const (
	// MaxInFlightPerEndpoint bounds one instance's concurrent attempts to one endpoint.
	MaxInFlightPerEndpoint = 32
	// InlineBudget is how long a fan-out waits for its inline attempts before it hands the
	// unfinished ones over to the retry queue (they are still recorded when they end).
	InlineBudget = time.Second
	// BusyDelay is how long a queued attempt to an endpoint at its bound waits to be tried.
	BusyDelay = 5 * time.Second
)

// endpointLoad tracks one instance's attempts in flight per endpoint.
type endpointLoad struct {
	mu sync.Mutex
	by map[string]*load
}

type load struct {
	inFlight int
	// slow is set when an attempt outlived InlineBudget and cleared by one that did not.
	slow bool
}

// acquire takes a slot for an attempt to webhookID; false means the endpoint is at its bound.
func (l *endpointLoad) acquire(webhookID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string]*load{}
	}
	e := l.by[webhookID]
	if e == nil {
		e = &load{}
		l.by[webhookID] = e
	}
	if e.inFlight >= MaxInFlightPerEndpoint || (e.slow && e.inFlight >= 1) {
		return false
	}
	e.inFlight++
	return true
}

// markSlow records that an attempt to webhookID is still running after InlineBudget.
func (l *endpointLoad) markSlow(webhookID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.by[webhookID]; e != nil {
		e.slow = true
	}
}

// release gives back a slot; took is how long the attempt ran.
func (l *endpointLoad) release(webhookID string, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.by[webhookID]
	if e == nil {
		return
	}
	e.inFlight--
	if took <= InlineBudget {
		e.slow = false
	}
	if e.inFlight == 0 && !e.slow {
		delete(l.by, webhookID)
	}
}
