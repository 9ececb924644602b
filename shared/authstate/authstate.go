// Package authstate keeps the pending authorisations of bank redirects: the single-use
// OAuth state that the bank's SCA pages carry back to the callback, with the PKCE verifier
// sealed beside it. The callback carries no API key, so the state is what names the tenant
// and the resource being authorised.
//
// States live in one global collection keyed by the SHA-256 of the state (the state itself
// is never stored) and are consumed exactly once. Beside them, under tickets, the answers of
// callbacks that showed the browser a waiting page (outcome.go).
package authstate

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

	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// Collection is the global collection of pending states.
const Collection = "oauthStates"

// TTL is how long an SCA redirect may take.
const TTL = 15 * time.Minute

// MaxLen bounds the state a callback may present; longer ones were never issued.
const MaxLen = 512

// State is one pending authorisation.
type State struct {
	Env       string `firestore:"env"`
	OrgID     string `firestore:"orgId"`
	ConsentID string `firestore:"consentId"`
	// PaymentID is set instead of ConsentID for the authorisation of a payment, a refund or a
	// refund batch (shared/payments), VRPConsentID for a VRP consent's (shared/vrp).
	PaymentID    string `firestore:"paymentId"`
	VRPConsentID string `firestore:"vrpConsentId"`
	// Verifier is the PKCE code verifier, sealed (Store.SealVerifier).
	Verifier  []byte    `firestore:"verifier"`
	ExpiresAt time.Time `firestore:"expiresAt"`
	CreatedAt time.Time `firestore:"createdAt"`
}

// Tenant is the state's owner.
func (s State) Tenant() tenant.Tenant { return tenant.Tenant{Env: s.Env, OrgID: s.OrgID} }

// Hash is the stored form of a state value.
func Hash(state string) string {
	sum := sha256.Sum256([]byte("tok-oauth-state\x00" + state))
	return hex.EncodeToString(sum[:])
}

// pkceAAD is the associated data sealing the PKCE verifier of a consent or payment.
func pkceAAD(resourceID string) []byte { return []byte("pkce/" + resourceID) }

// resource is the ID of what the state authorises.
func (s State) resource() string {
	switch {
	case s.PaymentID != "":
		return s.PaymentID
	case s.VRPConsentID != "":
		return s.VRPConsentID
	}
	return s.ConsentID
}

// ErrBadState covers a state that is unknown (forged), already used (replayed) or expired.
var ErrBadState = errors.New("the authorisation state is unknown, already used or expired")

// MaxCodeAttempts bounds the codes tried under one state. Whoever holds a valid state (it
// travels in the browser's address bar) could otherwise try codes at the bank until it
// expires; the customer's own redirect needs one.
const MaxCodeAttempts = 5

// ErrAttemptsSpent is a code tried under a state whose MaxCodeAttempts were all spent: the
// state is consumed without the code reaching the bank, and what it authorised ends as an
// abandoned authorisation does, when its window closes.
var ErrAttemptsSpent = errors.New("too many codes were tried under this authorisation state")

// Store reads and writes pending states; Sealer seals their PKCE verifiers.
type Store struct {
	Client *firestore.Client
	Sealer *envelope.Sealer
}

// SealVerifier seals the PKCE code verifier of a consent or payment (its ID) for its State.
func (s Store) SealVerifier(ctx context.Context, resourceID, verifier string) ([]byte, error) {
	sealed, err := s.Sealer.Seal(ctx, []byte(verifier), pkceAAD(resourceID))
	if err != nil {
		return nil, fmt.Errorf("seal PKCE verifier: %w", err)
	}
	return sealed, nil
}

// OpenVerifier returns the PKCE code verifier of a consumed state; callers clear it after
// use.
func (s Store) OpenVerifier(ctx context.Context, st State) ([]byte, error) {
	v, err := s.Sealer.Open(ctx, st.Verifier, pkceAAD(st.resource()))
	if err != nil {
		return nil, fmt.Errorf("open PKCE verifier: %w", err)
	}
	return v, nil
}

// Create stores a pending state under its hash in tx, beside the record it authorises.
func (s Store) Create(tx *firestore.Transaction, hash string, st State) error {
	return tx.Create(s.Client.Collection(Collection).Doc(hash), st)
}

// Delete removes a pending state by its hash (the resource ended before authorisation).
func (s Store) Delete(ctx context.Context, hash string) error {
	if hash == "" {
		return nil
	}
	_, err := s.Client.Collection(Collection).Doc(hash).Delete(ctx)
	return err
}

// Peek returns a pending state without taking it. The callback peeks first and consumes
// only once the bank's answer fits the state (a denial, or a code the bank exchanged), so a
// redirect that carries no such answer leaves the state usable and changes nothing.
func (s Store) Peek(ctx context.Context, state string, now time.Time) (State, error) {
	if state == "" || len(state) > MaxLen {
		return State{}, ErrBadState
	}
	st, err := store.Get[State](ctx, s.Client.Collection(Collection).Doc(Hash(state)), "OAuth state", ErrBadState)
	if err != nil {
		return State{}, err
	}
	if !now.Before(st.ExpiresAt) {
		return State{}, ErrBadState
	}
	return st, nil
}

// AttemptCollection holds one document per code tried under a state (Attempt).
const AttemptCollection = "oauthCodeAttempts"

// Attempt takes one of the MaxCodeAttempts slots of state for a code about to be tried at
// the bank, so that at most that many codes ever reach the bank under one state, concurrent
// ones included. Each slot is a document that can be created once: an attempt creates the
// first free one, so N concurrent attempts take exactly min(N, MaxCodeAttempts) slots without
// contending on one document. With every slot taken the state is consumed and the attempt
// is ErrAttemptsSpent. Unknown, used and expired states are ErrBadState.
func (s Store) Attempt(ctx context.Context, state string, now time.Time) error {
	if state == "" || len(state) > MaxLen {
		return ErrBadState
	}
	ref := s.Client.Collection(Collection).Doc(Hash(state))
	st, err := store.Get[State](ctx, ref, "OAuth state", ErrBadState)
	if err != nil {
		return err
	}
	if !now.Before(st.ExpiresAt) {
		return ErrBadState
	}
	for slot := 1; slot <= MaxCodeAttempts; slot++ {
		_, err := s.Client.Collection(AttemptCollection).Doc(fmt.Sprintf("%s-%d", Hash(state), slot)).
			Create(ctx, map[string]any{"expiresAt": st.ExpiresAt, "at": now})
		if err == nil {
			return nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("count a code attempt: %w", err)
		}
	}
	if _, err := ref.Delete(ctx); err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("consume a spent state: %w", err)
	}
	return ErrAttemptsSpent
}

// Consume takes a state exactly once: in one transaction it reads and deletes the record,
// so of two callbacks with the same state only one gets it. Unknown, used and expired
// states are ErrBadState.
func (s Store) Consume(ctx context.Context, state string, now time.Time) (State, error) {
	if state == "" || len(state) > MaxLen {
		return State{}, ErrBadState
	}
	ref := s.Client.Collection(Collection).Doc(Hash(state))
	var st State
	err := s.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if st, err = store.GetTx[State](tx, ref, "OAuth state", ErrBadState); err != nil {
			return err
		}
		if !now.Before(st.ExpiresAt) {
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
	return st, nil
}
