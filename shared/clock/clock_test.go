package clock

import (
	"testing"
	"time"
)

func TestNowUsesTheGivenClockInUTC(t *testing.T) {
	belgrade := time.FixedZone("CET", 3600)
	fixed := time.Date(2026, 5, 4, 10, 30, 0, 123456789, belgrade)
	got := Now(func() time.Time { return fixed })
	if !got.Equal(fixed) || got.Location() != time.UTC {
		t.Fatalf("Now = %v, want %v in UTC", got, fixed)
	}
	stored := Stored(func() time.Time { return fixed })
	if stored.Nanosecond() != 123456000 || stored.Location() != time.UTC {
		t.Fatalf("Stored = %v, want microseconds in UTC", stored)
	}
}

func TestNowWithoutClockIsSystemTime(t *testing.T) {
	before := time.Now()
	got := Now(nil)
	if got.Before(before.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) || got.Location() != time.UTC {
		t.Fatalf("Now(nil) = %v, not the system time in UTC", got)
	}
	if Stored(nil).Nanosecond()%1000 != 0 {
		t.Fatal("Stored(nil) keeps nanoseconds")
	}
}

func TestOrKeepsAPositiveDurationElseTheDefault(t *testing.T) {
	for _, c := range []struct{ d, want time.Duration }{{time.Second, time.Second}, {0, time.Minute}, {-time.Second, time.Minute}} {
		if got := Or(c.d, time.Minute); got != c.want {
			t.Errorf("Or(%v, 1m) = %v, want %v", c.d, got, c.want)
		}
	}
}
