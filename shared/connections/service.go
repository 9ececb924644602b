package connections

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
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

// Service is what the functions that work with connections share: the records, the token
// vault that holds each connection's bank tokens, the connector registry and the publisher
// of consent events. It is safe for concurrent use.
type Service struct {
	Repo       *Repo
	Vault      *tokenvault.Vault
	Connectors *connectors.Registry
	// Events (optional) receives consent.revoked / consent.expired when a bank call shows the
	// consent ended (EndAtBank).
	Events Publisher
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (s *Service) now() time.Time { return clock.Now(s.Now) }

// SealTokens encrypts a connection's tokens (associated data AAD(orgID, connectionID)).
func (s *Service) SealTokens(ctx context.Context, orgID, connectionID string, t bank.Tokens) ([]byte, error) {
	return s.Vault.Seal(ctx, AAD(orgID, connectionID), t)
}

// Session returns a bank session for the connection and the connector of its bank,
// refreshing the tokens first when they are about to expire. psu is nil for unattended
// calls. Errors: ErrNotFound, a *bank.Error of kind ConsentExpired/Revoked for an ended
// connection (connectors.APIError maps it), tokenvault.ErrUnreadable when the stored
// ciphertext fails its integrity check (fail closed: no bank call is made).
func (s *Service) Session(ctx context.Context, scope store.Scope, connectionID string, psu *PSU) (bank.Session, bank.Connector, error) {
	c, err := s.Repo.Get(ctx, scope, connectionID)
	if err != nil {
		return bank.Session{}, nil, err
	}
	if st := c.EffectiveStatus(s.now()); st != StatusActive {
		return bank.Session{}, nil, endedError(st)
	}
	conn, err := s.Connectors.For(scope.Tenant().Env, c.BankID)
	if err != nil {
		return bank.Session{}, nil, err
	}
	rec := tokenvault.Record{
		Ref: scope.Collection(CollConnections).Doc(c.ID),
		AAD: AAD(c.OrgID, c.ID),
		Read: func(snap *firestore.DocumentSnapshot) (tokenvault.Sealed, error) {
			var cur Connection
			if err := snap.DataTo(&cur); err != nil {
				return tokenvault.Sealed{}, err
			}
			if st := cur.EffectiveStatus(s.now()); st != StatusActive {
				return tokenvault.Sealed{}, endedError(st)
			}
			return cur.sealed(), nil
		},
	}
	tok, err := s.Vault.Fresh(ctx, rec, c.sealed(), conn.Refresh)
	if err != nil {
		return bank.Session{}, nil, err
	}
	sess := bank.Session{BankConsentID: c.BankConsentID, AccessToken: tok.AccessToken}
	if psu != nil {
		sess.PSUPresent, sess.PSUIPAddress = true, psu.IPAddress
	}
	return sess, conn, nil
}

// EndAtBank records what a failed bank call says about the connection: a consent expired
// or revoked at the bank ends the connection and its current consent (tokens destroyed,
// revokedBy "bank", consent.expired / consent.revoked published). ended is false when err
// does not say the consent ended. The status change is one transaction that changes nothing
// when it already happened, so a redelivered call publishes nothing again.
func (s *Service) EndAtBank(ctx context.Context, scope store.Scope, connectionID string, err error) (ended bool, _ error) {
	st := EndStatus(err)
	if st == "" {
		return false, nil
	}
	now := s.now()
	consent, changed, endErr := s.Repo.End(ctx, scope, connectionID, st, RevokedByBank, now)
	if endErr != nil {
		return false, endErr
	}
	if !changed {
		return true, nil
	}
	typ := EventConsentExpired
	if st == StatusRevoked {
		typ = EventConsentRevoked
	}
	if perr := s.PublishConsentEvent(ctx, scope.Tenant(), typ, consent, "bank", now); perr != nil {
		return true, fmt.Errorf("publish %s: %w", typ, perr)
	}
	return true, nil
}

// HandleBankError is EndAtBank for callers that answer the bank error itself: it returns err
// unchanged, so they write `return connectors.APIError(svc.HandleBankError(ctx, scope, id, err))`.
// A failure to record the ending is logged; the next bank call reports it again.
func (s *Service) HandleBankError(ctx context.Context, scope store.Scope, connectionID string, err error) error {
	if _, endErr := s.EndAtBank(ctx, scope, connectionID, err); endErr != nil {
		slog.WarnContext(ctx, "record consent ended at the bank", "connectionId", connectionID, "error", endErr)
	}
	return err
}

// PublishConsentEvent publishes a consent.* event with data {consentId, bankId, status,
// connectionId, reason?, validUntil?}; without Events it does nothing.
func (s *Service) PublishConsentEvent(ctx context.Context, t tenant.Tenant, typ string, c Consent, reason string, now time.Time) error {
	if s.Events == nil {
		return nil
	}
	data := map[string]any{"consentId": c.ID, "bankId": nil, "status": c.Status, "connectionId": c.ConnectionID}
	if c.BankID != "" { // none before the customer picked it on the hosted pages
		data["bankId"] = c.BankID
	}
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
	return s.Events.Publish(ctx, t, ev)
}

// UpsertAccount creates or refreshes the record of a bank account seen through connection
// c (the sync worker's accounts) and returns its ID.
func (s *Service) UpsertAccount(ctx context.Context, scope store.Scope, c Connection, a bank.Account) (string, error) {
	b, err := s.Connectors.Bank(scope.Tenant().Env, c.BankID)
	if err != nil {
		return "", err
	}
	acc := NewAccount(scope, b, c, a, nil, s.now())
	err = s.Repo.Client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		return UpsertAccounts(tx, scope, []Account{acc})
	})
	return acc.ID, err
}

// SetBalances stores an account's balances and the time of the sync that read them, and
// reports whether they changed.
func (s *Service) SetBalances(ctx context.Context, scope store.Scope, accountID string, bs []bank.Balance, at time.Time) (bool, error) {
	ref := scope.Collection(CollAccounts).Doc(accountID)
	next := ToBalances(bs)
	changed := true
	snap, err := ref.Get(ctx)
	if err != nil && !isNotFound(err) {
		return false, fmt.Errorf("read account %s: %w", accountID, err)
	}
	if err == nil {
		var old Account
		if err := snap.DataTo(&old); err == nil && old.BalancesAt != nil && slices.Equal(old.Balances, next) {
			changed = false
		}
	}
	if _, err := ref.Set(ctx, map[string]any{"balances": next, "balancesAt": at, "lastSyncAt": at}, firestore.MergeAll); err != nil {
		return false, fmt.Errorf("store balances of %s: %w", accountID, err)
	}
	return changed, nil
}
