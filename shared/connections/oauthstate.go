package connections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/tenant"
)

// StatesCollection is the global collection of pending OAuth states, keyed by the SHA-256
// of the state (the state itself is never stored). The bank callback carries no API key,
// so the state is what names the tenant and the consent.
const StatesCollection = "oauthStates"

// StateTTL is how long a consent's SCA redirect may take.
const StateTTL = 15 * time.Minute

// State is one pending authorisation.
type State struct {
	Env       string `firestore:"env"`
	OrgID     string `firestore:"orgId"`
	ConsentID string `firestore:"consentId"`
	// Verifier is the PKCE code verifier, sealed (associated data "pkce/" + consentId).
	Verifier  []byte    `firestore:"verifier"`
	ExpiresAt time.Time `firestore:"expiresAt"`
	CreatedAt time.Time `firestore:"createdAt"`
}

// Tenant is the state's owner.
func (s State) Tenant() tenant.Tenant { return tenant.Tenant{Env: s.Env, OrgID: s.OrgID} }

// HashState is the stored form of a state value.
func HashState(state string) string {
	sum := sha256.Sum256([]byte("tok-oauth-state\x00" + state))
	return hex.EncodeToString(sum[:])
}

// PKCEAAD is the associated data sealing a consent's PKCE verifier.
func PKCEAAD(consentID string) []byte { return []byte("pkce/" + consentID) }

// ErrBadState covers a state that is unknown (forged), already used (replayed) or expired.
var ErrBadState = errors.New("the authorisation state is unknown, already used or expired")

// SaveState stores a pending state under its hash.
func (r *Repo) SaveState(ctx context.Context, state string, s State) error {
	if _, err := r.Client.Collection(StatesCollection).Doc(HashState(state)).Create(ctx, s); err != nil {
		return fmt.Errorf("save OAuth state: %w", err)
	}
	return nil
}

// DeleteStateHash removes a pending state (the consent was deleted before authorisation).
func (r *Repo) DeleteStateHash(ctx context.Context, hash string) error {
	if hash == "" {
		return nil
	}
	_, err := r.Client.Collection(StatesCollection).Doc(hash).Delete(ctx)
	return err
}

// ConsumeState takes a state exactly once: in one transaction it reads and deletes the
// record, so of two callbacks with the same state only one gets it. Unknown, used and
// expired states are ErrBadState.
func (r *Repo) ConsumeState(ctx context.Context, state string, now time.Time) (State, error) {
	if state == "" || len(state) > 512 {
		return State{}, ErrBadState
	}
	ref := r.Client.Collection(StatesCollection).Doc(HashState(state))
	var s State
	err := r.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return ErrBadState
		}
		if err != nil {
			return err
		}
		if err := snap.DataTo(&s); err != nil {
			return err
		}
		if !now.Before(s.ExpiresAt) {
			return ErrBadState // left for the expiry job; an expired state changes nothing
		}
		return tx.Delete(ref)
	})
	if err != nil {
		if errors.Is(err, ErrBadState) {
			return State{}, ErrBadState
		}
		return State{}, fmt.Errorf("consume OAuth state: %w", err)
	}
	return s, nil
}
