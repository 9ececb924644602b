// Package clock is where Tok components read the time: from a test's clock when one is set,
// else from the system, always in UTC.
package clock

import "time"

// Now is the time from now (the system clock when nil), in UTC.
func Now(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}

// Stored is Now truncated to the microsecond, the precision Firestore keeps, so a time
// answered before a write equals the one read back after it.
func Stored(now func() time.Time) time.Time {
	return Now(now).Truncate(time.Microsecond)
}

// Or is d when it is positive, else def: a configured duration whose zero value (or a
// nonsensical negative one) means the default.
func Or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
