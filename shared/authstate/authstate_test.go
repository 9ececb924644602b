package authstate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/testing/testenv"
)

func newStore(t *testing.T) authstate.Store {
	t.Helper()
	project := testenv.Project(t)
	return authstate.Store{Client: testenv.Firestore(t, project), Sealer: testenv.Sealer(t, project)}
}

// pending stores a state for a new consent with a sealed verifier, as the consents function
// does, and returns the state value.
func pending(t *testing.T, s authstate.Store, verifier string, expiresAt time.Time) (string, authstate.State) {
	t.Helper()
	state := bank.NewState()
	st := authstate.State{Env: "sandbox", OrgID: ids.New(ids.Organisation), ConsentID: ids.New(ids.Consent), ExpiresAt: expiresAt, CreatedAt: time.Now()}
	var err error
	if st.Verifier, err = s.SealVerifier(t.Context(), st.ConsentID, verifier); err != nil {
		t.Fatal(err)
	}
	err = s.Client.RunTransaction(t.Context(), func(_ context.Context, tx *firestore.Transaction) error {
		return s.Create(tx, authstate.Hash(state), st)
	})
	if err != nil {
		t.Fatal(err)
	}
	return state, st
}

func TestStateIsConsumedOnce(t *testing.T) {
	s := newStore(t)
	state, want := pending(t, s, "verifier-1", time.Now().Add(authstate.TTL))
	var wg sync.WaitGroup
	results := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			got, err := s.Consume(t.Context(), state, time.Now())
			if err == nil && (got.Tenant() != want.Tenant() || got.ConsentID != want.ConsentID) {
				err = errors.New("consumed another state")
			}
			results <- err
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, authstate.ErrBadState):
			t.Errorf("consume: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d callbacks consumed the state, want 1", won)
	}
}

func TestVerifierOpensOnlyForItsConsent(t *testing.T) {
	s := newStore(t)
	state, _ := pending(t, s, "verifier-2", time.Now().Add(authstate.TTL))
	st, err := s.Consume(t.Context(), state, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.OpenVerifier(t.Context(), st)
	if err != nil || string(v) != "verifier-2" {
		t.Fatalf("verifier %q %v", v, err)
	}
	st.ConsentID = ids.New(ids.Consent) // a verifier copied onto another consent's state
	if _, err := s.OpenVerifier(t.Context(), st); err == nil {
		t.Error("the verifier opened for another consent")
	}
}

func TestUnknownExpiredAndDeletedStatesAreBad(t *testing.T) {
	s := newStore(t)
	now := time.Now()
	expired, _ := pending(t, s, "v", now.Add(-time.Second))
	deleted, _ := pending(t, s, "v", now.Add(authstate.TTL))
	if err := s.Delete(t.Context(), authstate.Hash(deleted)); err != nil {
		t.Fatal(err)
	}
	for name, state := range map[string]string{"unknown": bank.NewState(), "expired": expired, "deleted": deleted, "empty": "",
		"too long": string(make([]byte, 513))} {
		if _, err := s.Consume(t.Context(), state, now); !errors.Is(err, authstate.ErrBadState) {
			t.Errorf("%s state: %v", name, err)
		}
	}
	if _, err := s.Consume(t.Context(), expired, now.Add(-time.Minute)); err != nil {
		t.Errorf("an expired state is left in place, not consumed: %v", err)
	}
}

// TestOutcomeUnderTicket: a new outcome is pending until finished, then holds the answer;
// an unknown, overlong or expired ticket is ErrBadState.
func TestOutcomeUnderTicket(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	now := time.Now()
	ticket, err := s.NewOutcome(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := s.Outcome(ctx, ticket, now); err != nil || o.Done {
		t.Fatalf("pending outcome %+v, %v", o, err)
	}
	if err := s.FinishOutcome(ctx, ticket, authstate.Outcome{Status: 303, Location: "https://app.example.com/cb?status=AUTHORIZED"}); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Outcome(ctx, ticket, now); err != nil || !o.Done || o.Status != 303 || o.Location != "https://app.example.com/cb?status=AUTHORIZED" {
		t.Fatalf("finished outcome %+v, %v", o, err)
	}
	other, _ := s.NewOutcome(ctx, now)
	for name, tk := range map[string]string{"unknown": ticket + "x", "overlong": string(make([]byte, authstate.MaxTicketLen+1)), "empty": ""} {
		if _, err := s.Outcome(ctx, tk, now); !errors.Is(err, authstate.ErrBadState) {
			t.Errorf("%s ticket: %v", name, err)
		}
	}
	if _, err := s.Outcome(ctx, other, now.Add(authstate.TTL)); !errors.Is(err, authstate.ErrBadState) {
		t.Errorf("expired ticket: %v", err)
	}
}
