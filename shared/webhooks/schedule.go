package webhooks

import (
	"math/rand/v2"
	"time"
)

// retryDelays are the gaps after the 1st, 2nd, ... failed attempt; the last repeats until
// RetryWindow has passed since the first attempt. The first two retries land within a minute
// of the first failure (5 s and 30 s, ±20 %); then the gaps grow exponentially.
var retryDelays = []time.Duration{
	5 * time.Second,
	30 * time.Second,
	2 * time.Minute,
	10 * time.Minute,
	30 * time.Minute,
	1 * time.Hour,
	2 * time.Hour,
	4 * time.Hour,
	8 * time.Hour,
}

// jitter is the ± fraction applied to every gap, so endpoints recovering from an outage are
// not hit by every delivery at once.
const jitter = 0.2

// Schedule decides the next attempt of failing deliveries.
type Schedule struct {
	// Rand returns a float in [0, 1); nil means math/rand/v2.
	Rand func() float64
}

// Next returns when to try again after failures failed attempts (>= 1), the first made at
// first, the latest failure at now; ok is false when the delivery is to be dead-lettered:
// RetryWindow has passed since the first attempt.
func (s Schedule) Next(first time.Time, failures int, now time.Time) (next time.Time, ok bool) {
	if now.Sub(first) >= RetryWindow {
		return time.Time{}, false
	}
	i := min(max(failures, 1), len(retryDelays)) - 1
	r := s.Rand
	if r == nil {
		r = rand.Float64
	}
	d := retryDelays[i]
	d += time.Duration((r()*2 - 1) * jitter * float64(d))
	return now.Add(d), true
}

// Delays returns the nominal gaps (without jitter), for documentation and tests.
func Delays() []time.Duration { return append([]time.Duration(nil), retryDelays...) }
