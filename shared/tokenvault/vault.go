// Package tokenvault keeps bank tokens sealed at rest and fresh in use. Tokens are sealed
// with the KMS envelope (shared/envelope) under associated data that names the record they
// belong to, so a ciphertext moved to another record does not open. A refresh happens once
// across all instances: it is claimed with a lease in the record itself, in a Firestore
// transaction, so one caller talks to the bank while the others wait for its tokens.
//
// The vault knows nothing of what holds the tokens (an AIS connection, a payment mandate):
// a Record names the document, its associated data and how to read it.
package tokenvault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/ids"
)

// ErrUnreadable reports stored tokens that failed their integrity check (tampered, moved
// from another record, or sealed under an unknown key). The record fails closed: no bank
// call is made with them, and the PSU must authorise again.
var ErrUnreadable = errors.New("tokenvault: the stored bank tokens failed their integrity check; the connection fails closed and must be re-authorised")

// ErrNoTokens reports a record whose tokens were destroyed (revoked) or never stored.
var ErrNoTokens = errors.New("tokenvault: the record holds no bank tokens")

// Lease marks a token refresh in progress.
type Lease struct {
	Holder string    `firestore:"holder"`
	Until  time.Time `firestore:"until"`
}

// Sealed is what a record holds of its tokens, in its fields tokens, tokenExpiresAt and
// refreshLease: a record type embeds it.
type Sealed struct {
	Tokens         []byte    `firestore:"tokens"`
	TokenExpiresAt time.Time `firestore:"tokenExpiresAt"`
	RefreshLease   *Lease    `firestore:"refreshLease"`
}

// SealedTokens is what s holds (promoted to the records that embed a Sealed, for FreshIn).
func (s Sealed) SealedTokens() Sealed { return s }

// Holder is a record type that embeds a Sealed.
type Holder interface{ SealedTokens() Sealed }

// Record is one Firestore document holding sealed tokens in the fields tokens,
// tokenExpiresAt, refreshLease (and updatedAt, set when the tokens change).
type Record struct {
	Ref *firestore.DocumentRef
	AAD []byte
	// Read decodes the document inside the refresh transaction. An error (for example: the
	// record was revoked meanwhile) ends the refresh with that error.
	Read func(*firestore.DocumentSnapshot) (Sealed, error)
}

// Refresher trades a refresh token for new tokens at the bank (bank.Connector.Refresh).
type Refresher func(ctx context.Context, refreshToken string) (bank.Tokens, error)

// Vault seals, opens and refreshes bank tokens. It is safe for concurrent use.
type Vault struct {
	Client *firestore.Client
	Sealer *envelope.Sealer
	// Now is the clock (default time.Now). RefreshBefore is how long before expiry tokens
	// are refreshed (default 2 minutes); LeaseTTL bounds one refresh (default 30 s).
	Now           func() time.Time
	RefreshBefore time.Duration
	LeaseTTL      time.Duration
}

func (v *Vault) now() time.Time { return clock.Now(v.Now) }

func (v *Vault) refreshBefore() time.Duration { return clock.Or(v.RefreshBefore, 2*time.Minute) }

func (v *Vault) leaseTTL() time.Duration { return clock.Or(v.LeaseTTL, 30*time.Second) }

// sealedTokens is the plaintext inside a sealed blob.
type sealedTokens struct {
	AccessToken  string    `json:"a"`
	RefreshToken string    `json:"r"`
	ExpiresAt    time.Time `json:"e"`
}

// Seal encrypts tokens under the associated data aad.
func (v *Vault) Seal(ctx context.Context, aad []byte, t bank.Tokens) ([]byte, error) {
	// #nosec G117 -- the plaintext is sealed at once and never leaves this function.
	pt, err := json.Marshal(sealedTokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresAt: t.ExpiresAt.UTC()})
	if err != nil {
		return nil, fmt.Errorf("tokenvault: encode tokens: %w", err)
	}
	defer clear(pt)
	blob, err := v.Sealer.Seal(ctx, pt, aad)
	if err != nil {
		return nil, fmt.Errorf("tokenvault: seal tokens of %s: %w", aad, err)
	}
	return blob, nil
}

// Open decrypts tokens sealed under aad; integrity failures are ErrUnreadable, an empty
// blob ErrNoTokens.
func (v *Vault) Open(ctx context.Context, blob, aad []byte) (bank.Tokens, error) {
	if len(blob) == 0 {
		return bank.Tokens{}, fmt.Errorf("%s: %w", aad, ErrNoTokens)
	}
	pt, err := v.Sealer.Open(ctx, blob, aad)
	if err != nil {
		if errors.Is(err, envelope.ErrDecrypt) {
			return bank.Tokens{}, fmt.Errorf("%s: %w (%w)", aad, ErrUnreadable, err)
		}
		return bank.Tokens{}, fmt.Errorf("%s: open tokens: %w", aad, err)
	}
	defer clear(pt)
	var st sealedTokens
	if err := json.Unmarshal(pt, &st); err != nil {
		return bank.Tokens{}, fmt.Errorf("%s: %w (undecodable plaintext)", aad, ErrUnreadable)
	}
	return bank.Tokens{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, ExpiresAt: st.ExpiresAt}, nil
}

// Fresh returns the tokens of rec, whose current content is cur, refreshing them through
// refresh first when they expire within RefreshBefore.
func (v *Vault) Fresh(ctx context.Context, rec Record, cur Sealed, refresh Refresher) (bank.Tokens, error) {
	tok, err := v.Open(ctx, cur.Tokens, rec.AAD)
	if err != nil {
		return bank.Tokens{}, err
	}
	if tok.ExpiresAt.After(v.now().Add(v.refreshBefore())) {
		return tok, nil
	}
	return v.refresh(ctx, rec, refresh)
}

// FreshIn is Fresh for cur, a record of type T at ref whose tokens are sealed under aad:
// inside the refresh the document is read back as a T.
func FreshIn[T Holder](ctx context.Context, v *Vault, ref *firestore.DocumentRef, aad []byte, cur T, refresh Refresher) (bank.Tokens, error) {
	rec := Record{Ref: ref, AAD: aad, Read: func(snap *firestore.DocumentSnapshot) (Sealed, error) {
		var now T
		if err := snap.DataTo(&now); err != nil {
			return Sealed{}, err
		}
		return now.SealedTokens(), nil
	}}
	return v.Fresh(ctx, rec, cur.SealedTokens(), refresh)
}

// refresh renews the record's tokens once across all callers: it claims a lease in a
// transaction (re-reading the document: if another caller already refreshed, its tokens
// are used), calls the bank outside the transaction (a retried transaction must never
// spend a refresh token twice), then stores the rotated pair and releases the lease in one
// update.
func (v *Vault) refresh(ctx context.Context, rec Record, refresh Refresher) (bank.Tokens, error) {
	holder := ids.New("lease")
	var claimed Sealed
	deadline := v.now().Add(2 * v.leaseTTL())
	for {
		var cur Sealed
		won, fresh := false, false
		err := v.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			won, fresh = false, false
			snap, err := tx.Get(rec.Ref)
			if err != nil {
				return err
			}
			if cur, err = rec.Read(snap); err != nil {
				return err
			}
			now := v.now()
			if cur.TokenExpiresAt.After(now.Add(v.refreshBefore())) {
				fresh = true
				return nil
			}
			if cur.RefreshLease != nil && cur.RefreshLease.Until.After(now) {
				return nil // someone else is refreshing
			}
			won = true
			return tx.Update(rec.Ref, []firestore.Update{{Path: "refreshLease", Value: Lease{Holder: holder, Until: now.Add(v.leaseTTL())}}})
		})
		if err != nil {
			return bank.Tokens{}, fmt.Errorf("%s: claim token refresh: %w", rec.Ref.ID, err)
		}
		if fresh {
			return v.Open(ctx, cur.Tokens, rec.AAD)
		}
		if won {
			claimed = cur
			break
		}
		if v.now().After(deadline) {
			return bank.Tokens{}, fmt.Errorf("%s: another token refresh did not finish in time", rec.Ref.ID)
		}
		select {
		case <-ctx.Done():
			return bank.Tokens{}, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}

	old, err := v.Open(ctx, claimed.Tokens, rec.AAD)
	if err != nil {
		v.releaseLease(ctx, rec, holder)
		return bank.Tokens{}, err
	}
	tok, err := refresh(ctx, old.RefreshToken)
	if err != nil {
		v.releaseLease(ctx, rec, holder)
		return bank.Tokens{}, fmt.Errorf("%s: refresh tokens: %w", rec.Ref.ID, err)
	}
	if tok.RefreshToken == "" { // banks that do not rotate keep the old one valid
		tok.RefreshToken = old.RefreshToken
	}
	blob, err := v.Seal(ctx, rec.AAD, tok)
	if err != nil {
		return bank.Tokens{}, err
	}
	var stored Sealed
	var winner bool
	err = v.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(rec.Ref)
		if err != nil {
			return err
		}
		if stored, err = rec.Read(snap); err != nil {
			return err
		}
		winner = bytes.Equal(stored.Tokens, claimed.Tokens)
		if !winner {
			// Our lease lapsed and another caller stored newer tokens: keep theirs.
			return nil
		}
		return tx.Update(rec.Ref, []firestore.Update{
			{Path: "tokens", Value: blob}, {Path: "tokenExpiresAt", Value: tok.ExpiresAt.UTC()},
			{Path: "refreshLease", Value: nil}, {Path: "updatedAt", Value: v.now()},
		})
	})
	if err != nil {
		return bank.Tokens{}, fmt.Errorf("%s: store refreshed tokens: %w", rec.Ref.ID, err)
	}
	if !winner {
		return v.Open(ctx, stored.Tokens, rec.AAD)
	}
	return tok, nil
}

// releaseTimeout bounds the release of a refresh lease, which runs even when the caller's
// context has ended; a lease not released lapses.
const releaseTimeout = 5 * time.Second

func (v *Vault) releaseLease(ctx context.Context, rec Record, holder string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_ = v.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(rec.Ref)
		if err != nil {
			return err
		}
		var l struct {
			Lease *Lease `firestore:"refreshLease"`
		}
		if err := snap.DataTo(&l); err != nil {
			return err
		}
		if l.Lease == nil || l.Lease.Holder != holder {
			return nil
		}
		return tx.Update(rec.Ref, []firestore.Update{{Path: "refreshLease", Value: nil}})
	})
}
