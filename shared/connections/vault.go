package connections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// PSU describes a customer present at the call (an interactive request). A nil *PSU means
// an unattended call, which counts against the consent's frequencyPerDay at the bank.
type PSU struct {
	IPAddress string
}

// Publisher publishes domain events (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, t tenant.Tenant, e events.Event) error
}

// Vault holds the bank tokens of connections: it seals them with the KMS envelope, opens
// them only to make a bank.Session, and refreshes them before they expire. It is safe for
// concurrent use, across instances too: a refresh is claimed with a lease in a Firestore
// transaction, so one caller talks to the bank while the others wait for its tokens.
type Vault struct {
	Repo       *Repo
	Sealer     *envelope.Sealer
	Connectors *Connectors
	// Events (optional) receives consent.revoked / consent.expired when a bank call shows the
	// consent ended (HandleBankError).
	Events Publisher
	// Now is the clock (default time.Now). RefreshBefore is how long before expiry tokens
	// are refreshed (default 2 minutes); LeaseTTL bounds one refresh (default 30 s).
	Now           func() time.Time
	RefreshBefore time.Duration
	LeaseTTL      time.Duration
}

func (v *Vault) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

func (v *Vault) refreshBefore() time.Duration {
	if v.RefreshBefore > 0 {
		return v.RefreshBefore
	}
	return 2 * time.Minute
}

func (v *Vault) leaseTTL() time.Duration {
	if v.LeaseTTL > 0 {
		return v.LeaseTTL
	}
	return 30 * time.Second
}

// sealedTokens is the plaintext inside a sealed blob.
type sealedTokens struct {
	AccessToken  string    `json:"a"`
	RefreshToken string    `json:"r"`
	ExpiresAt    time.Time `json:"e"`
}

// Seal encrypts tokens for a connection (associated data AAD(orgID, connectionID)).
func (v *Vault) Seal(ctx context.Context, orgID, connectionID string, t bank.Tokens) ([]byte, error) {
	// #nosec G117 -- the plaintext is sealed at once and never leaves this function.
	pt, err := json.Marshal(sealedTokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresAt: t.ExpiresAt.UTC()})
	if err != nil {
		return nil, fmt.Errorf("connections: encode tokens: %w", err)
	}
	defer clear(pt)
	blob, err := v.Sealer.Seal(ctx, pt, AAD(orgID, connectionID))
	if err != nil {
		return nil, fmt.Errorf("connections: seal tokens of %s: %w", connectionID, err)
	}
	return blob, nil
}

// open decrypts a connection's tokens; integrity failures are ErrTokensUnreadable.
func (v *Vault) open(ctx context.Context, c Connection) (bank.Tokens, error) {
	if len(c.Tokens) == 0 {
		return bank.Tokens{}, fmt.Errorf("connection %s: %w", c.ID, ErrNoTokens)
	}
	pt, err := v.Sealer.Open(ctx, c.Tokens, AAD(c.OrgID, c.ID))
	if err != nil {
		if errors.Is(err, envelope.ErrDecrypt) {
			return bank.Tokens{}, fmt.Errorf("connection %s: %w (%w)", c.ID, ErrTokensUnreadable, err)
		}
		return bank.Tokens{}, fmt.Errorf("connection %s: open tokens: %w", c.ID, err)
	}
	defer clear(pt)
	var st sealedTokens
	if err := json.Unmarshal(pt, &st); err != nil {
		return bank.Tokens{}, fmt.Errorf("connection %s: %w (undecodable plaintext)", c.ID, ErrTokensUnreadable)
	}
	return bank.Tokens{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, ExpiresAt: st.ExpiresAt}, nil
}

// endedError is the bank error a call on an ended connection gets.
func endedError(c Connection, st string) error {
	if st == StatusRevoked {
		return &bank.Error{Kind: bank.ConsentRevoked, Message: "the connection's consent was revoked"}
	}
	return &bank.Error{Kind: bank.ConsentExpired, Message: "the connection's consent has expired"}
}

// Session returns a bank session for the connection and the connector of its bank,
// refreshing the tokens first when they expire within RefreshBefore. psu is nil for
// unattended calls. Errors: ErrNotFound, a *bank.Error of kind ConsentExpired/Revoked for
// an ended connection (connections.APIError maps it), ErrTokensUnreadable when the stored
// ciphertext fails its integrity check (fail closed: no bank call is made).
func (v *Vault) Session(ctx context.Context, scope store.Scope, connectionID string, psu *PSU) (bank.Session, bank.Connector, error) {
	c, err := v.Repo.Get(ctx, scope, connectionID)
	if err != nil {
		return bank.Session{}, nil, err
	}
	if st := c.EffectiveStatus(v.now()); st != StatusActive {
		return bank.Session{}, nil, endedError(c, st)
	}
	conn, err := v.Connectors.For(scope.Tenant().Env, c.BankID)
	if err != nil {
		return bank.Session{}, nil, err
	}
	tok, err := v.open(ctx, c)
	if err != nil {
		return bank.Session{}, nil, err
	}
	if !tok.ExpiresAt.After(v.now().Add(v.refreshBefore())) {
		if tok, c, err = v.refresh(ctx, scope, connectionID, conn); err != nil {
			return bank.Session{}, nil, err
		}
	}
	s := bank.Session{BankConsentID: c.BankConsentID, AccessToken: tok.AccessToken}
	if psu != nil {
		s.PSUPresent, s.PSUIPAddress = true, psu.IPAddress
	}
	return s, conn, nil
}

// refresh renews the connection's tokens once across all callers: it claims a lease in a
// transaction (re-reading the document: if another caller already refreshed, its tokens
// are used), calls the bank outside the transaction (a retried transaction must never
// spend a refresh token twice), then stores the rotated pair and releases the lease in one
// update.
func (v *Vault) refresh(ctx context.Context, scope store.Scope, id string, conn bank.Connector) (bank.Tokens, Connection, error) {
	ref := scope.Collection(CollConnections).Doc(id)
	holder := ids.New("lease")
	var claimed Connection
	deadline := v.now().Add(2 * v.leaseTTL())
	for {
		var cur Connection
		won, fresh := false, false
		err := v.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			won, fresh = false, false
			snap, err := tx.Get(ref)
			if err != nil {
				return err
			}
			if err := snap.DataTo(&cur); err != nil {
				return err
			}
			now := v.now()
			if st := cur.EffectiveStatus(now); st != StatusActive {
				return endedError(cur, st)
			}
			if cur.TokenExpiresAt.After(now.Add(v.refreshBefore())) {
				fresh = true
				return nil
			}
			if cur.RefreshLease != nil && cur.RefreshLease.Until.After(now) {
				return nil // someone else is refreshing
			}
			won = true
			return tx.Update(ref, []firestore.Update{{Path: "refreshLease", Value: Lease{Holder: holder, Until: now.Add(v.leaseTTL())}}})
		})
		if err != nil {
			return bank.Tokens{}, Connection{}, fmt.Errorf("connection %s: claim token refresh: %w", id, err)
		}
		if fresh {
			tok, err := v.open(ctx, cur)
			return tok, cur, err
		}
		if won {
			claimed = cur
			break
		}
		if v.now().After(deadline) {
			return bank.Tokens{}, Connection{}, fmt.Errorf("connection %s: another token refresh did not finish in time", id)
		}
		select {
		case <-ctx.Done():
			return bank.Tokens{}, Connection{}, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}

	old, err := v.open(ctx, claimed)
	if err != nil {
		v.releaseLease(ctx, ref, holder)
		return bank.Tokens{}, Connection{}, err
	}
	tok, err := conn.Refresh(ctx, old.RefreshToken)
	if err != nil {
		v.releaseLease(ctx, ref, holder)
		return bank.Tokens{}, Connection{}, fmt.Errorf("connection %s: refresh tokens: %w", id, err)
	}
	if tok.RefreshToken == "" { // banks that do not rotate keep the old one valid
		tok.RefreshToken = old.RefreshToken
	}
	blob, err := v.Seal(ctx, claimed.OrgID, id, tok)
	if err != nil {
		return bank.Tokens{}, Connection{}, err
	}
	var out Connection
	var winner bool
	err = v.Repo.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		if err := snap.DataTo(&out); err != nil {
			return err
		}
		winner = bytes.Equal(out.Tokens, claimed.Tokens)
		if !winner {
			// Our lease lapsed and another caller stored newer tokens: keep theirs.
			return nil
		}
		now := v.now()
		out.Tokens, out.TokenExpiresAt, out.RefreshLease, out.UpdatedAt = blob, tok.ExpiresAt.UTC(), nil, now
		return tx.Update(ref, []firestore.Update{
			{Path: "tokens", Value: blob}, {Path: "tokenExpiresAt", Value: tok.ExpiresAt.UTC()},
			{Path: "refreshLease", Value: nil}, {Path: "updatedAt", Value: now},
		})
	})
	if err != nil {
		return bank.Tokens{}, Connection{}, fmt.Errorf("connection %s: store refreshed tokens: %w", id, err)
	}
	if !winner {
		t, err := v.open(ctx, out)
		return t, out, err
	}
	return tok, out, nil
}

func (v *Vault) releaseLease(ctx context.Context, ref *firestore.DocumentRef, holder string) {
	_ = v.Repo.Client.RunTransaction(context.WithoutCancel(ctx), func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		var c Connection
		if err := snap.DataTo(&c); err != nil {
			return err
		}
		if c.RefreshLease == nil || c.RefreshLease.Holder != holder {
			return nil
		}
		return tx.Update(ref, []firestore.Update{{Path: "refreshLease", Value: nil}})
	})
}

// HandleBankError records what a failed bank call says about the connection: a consent
// expired or revoked at the bank ends the connection and its current consent (tokens
// destroyed, consent.expired / consent.revoked published). It returns err unchanged, so
// callers write `return connections.APIError(vault.HandleBankError(ctx, scope, id, err))`.
func (v *Vault) HandleBankError(ctx context.Context, scope store.Scope, connectionID string, err error) error {
	st := EndStatus(err)
	if st == "" {
		return err
	}
	consent, changed, endErr := v.Repo.End(ctx, scope, connectionID, st, v.now())
	if endErr != nil || !changed {
		return err
	}
	typ := EventConsentExpired
	if st == StatusRevoked {
		typ = EventConsentRevoked
	}
	_ = v.publish(ctx, scope.Tenant(), typ, consent, "bank")
	return err
}

func (v *Vault) publish(ctx context.Context, t tenant.Tenant, typ string, c Consent, reason string) error {
	if v.Events == nil {
		return nil
	}
	return PublishConsentEvent(ctx, v.Events, t, typ, c, reason, v.now())
}

// PublishConsentEvent publishes a consent.* event with data {consentId, bankId, status,
// connectionId, reason?}.
func PublishConsentEvent(ctx context.Context, p Publisher, t tenant.Tenant, typ string, c Consent, reason string, now time.Time) error {
	data := map[string]any{"consentId": c.ID, "bankId": c.BankID, "status": c.Status, "connectionId": c.ConnectionID}
	if reason != "" {
		data["reason"] = reason
	}
	if !c.ValidUntil.IsZero() {
		data["validUntil"] = c.ValidUntil.UTC().Format(time.RFC3339)
	}
	ev, err := events.New(typ, data, now)
	if err != nil {
		return err
	}
	return p.Publish(ctx, t, ev)
}
