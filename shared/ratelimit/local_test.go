package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestLocalBurstThenRefill(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLocal()
	l.now = func() time.Time { return now }
	admitted := 0
	for range 15 {
		d, err := l.Allow(context.Background(), "k", Free)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		} else if d.RetryAfter <= 0 || d.RetryAfter > time.Second {
			t.Fatalf("refused with RetryAfter %v", d.RetryAfter)
		}
	}
	if admitted != 10 {
		t.Fatalf("admitted %d of 15 at once, want the Free burst of 10", admitted)
	}
	now = now.Add(3 * time.Second) // Free refills one token a second
	admitted = 0
	for range 5 {
		if d, _ := l.Allow(context.Background(), "k", Free); d.Allowed {
			admitted++
		}
	}
	if admitted != 3 {
		t.Fatalf("admitted %d after 3 s, want 3", admitted)
	}
	if d, _ := l.Allow(context.Background(), "other", Free); !d.Allowed {
		t.Fatal("another key shares the bucket")
	}
}
