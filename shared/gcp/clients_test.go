package gcp

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestKindIsCreatedOncePerInstance: a kind's client is made on its first Get, once however
// many callers ask at the same moment, again for another instance's Clients, and again after
// a failure, which is not kept.
func TestKindIsCreatedOncePerInstance(t *testing.T) {
	made := 0
	fail := true
	boom := errors.New("unavailable")
	kind := NewKind(func(_ context.Context, cfg Config) (*string, error) {
		made++
		if fail {
			return nil, boom
		}
		v := cfg.ProjectID
		return &v, nil
	})
	ctx := context.Background()
	c := NewClients(Config{ProjectID: "p1"})
	if made != 0 {
		t.Fatalf("NewClients made %d clients", made)
	}
	if _, err := kind.Get(ctx, c); !errors.Is(err, boom) {
		t.Fatalf("failing create: %v", err)
	}
	fail = false
	var wg sync.WaitGroup
	got := make([]*string, 8)
	for i := range got {
		wg.Go(func() {
			v, err := kind.Get(ctx, c)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	if made != 2 {
		t.Fatalf("made %d clients, want 2 (the failure, then one)", made)
	}
	for _, v := range got {
		if v != got[0] || *v != "p1" {
			t.Fatalf("callers got different clients or another's configuration: %v", got)
		}
	}
	other, err := kind.Get(ctx, NewClients(Config{ProjectID: "p2"}))
	if err != nil || *other != "p2" || made != 3 {
		t.Fatalf("another instance: %v, %v, made %d", other, err, made)
	}
	// Two kinds of the same type are two clients.
	second := NewKind(func(context.Context, Config) (*string, error) { v := "second"; return &v, nil })
	if v, err := second.Get(ctx, c); err != nil || *v != "second" {
		t.Fatalf("second kind: %v, %v", v, err)
	}
}
