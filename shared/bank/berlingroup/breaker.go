package berlingroup

import (
	"sync"
	"time"
)

// breaker is a per-bank circuit breaker: it opens after Threshold consecutive Unavailable
// failures, rejects calls while open, and after Cooldown lets one trial call through
// (half-open); its success closes the circuit, its failure opens it again.
type breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	failures  int
	openUntil time.Time
	trial     bool // a half-open trial call is in flight
}

var (
	breakersMu sync.Mutex
	breakers   = map[string]*breaker{}
)

// breakerFor returns the instance-wide breaker of a bank, so every client built for the
// same bank shares it.
func breakerFor(bankID string, threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	breakersMu.Lock()
	defer breakersMu.Unlock()
	b, ok := breakers[bankID]
	if !ok {
		b = &breaker{}
		breakers[bankID] = b
	}
	b.mu.Lock()
	b.threshold, b.cooldown, b.now = threshold, cooldown, now
	b.mu.Unlock()
	return b
}

// allow reports whether a call may go to the bank now.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	if b.now().Before(b.openUntil) || b.trial {
		return false
	}
	b.trial = true // half-open: one trial call
	return true
}

// record notes the outcome of a call that allow let through.
func (b *breaker) record(unavailable bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if !unavailable {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openUntil = b.now().Add(b.cooldown)
	}
}

// State is "closed", "open" or "half-open" (for tests and metrics).
func (b *breaker) state() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures < b.threshold:
		return "closed"
	case b.now().Before(b.openUntil):
		return "open"
	}
	return "half-open"
}
