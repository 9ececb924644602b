package connections

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/syncdue"
)

// consentStatusFor is the consent status matching an ended connection status.
func consentStatusFor(st string) string {
	if st == StatusRevoked {
		return ConsentRevoked
	}
	return ConsentExpired
}

// End marks a connection StatusRevoked or StatusExpired and its current consent REVOKED or
// EXPIRED, destroying the tokens, in one transaction; by (RevokedByBank, RevokedByOrganisation)
// is recorded as the consent's revokedBy when st is StatusRevoked. changed is false when the
// connection had already ended that way (nothing to publish).
func (r *Repo) End(ctx context.Context, scope store.Scope, connectionID, st, by string, now time.Time) (Consent, bool, error) {
	cref := scope.Collection(CollConnections).Doc(connectionID)
	var consent Consent
	changed := false
	err := r.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		changed = false
		snap, err := tx.Get(cref)
		if err != nil {
			return err
		}
		var c Connection
		if err := snap.DataTo(&c); err != nil {
			return err
		}
		var kref *firestore.DocumentRef
		if c.ConsentID != "" {
			kref = scope.Collection(CollConsents).Doc(c.ConsentID)
			ks, err := tx.Get(kref)
			if err != nil {
				return err
			}
			if err := ks.DataTo(&consent); err != nil {
				return err
			}
		}
		if c.Status == st && len(c.Tokens) == 0 && (kref == nil || consent.Status == consentStatusFor(st)) {
			return nil
		}
		if c.Status == StatusRevoked && st == StatusExpired {
			return nil // revoked stays revoked
		}
		changed = true
		if err := tx.Update(cref, []firestore.Update{
			{Path: "status", Value: st}, {Path: "tokens", Value: firestore.Delete},
			{Path: "refreshLease", Value: nil}, {Path: "updatedAt", Value: now},
		}); err != nil {
			return err
		}
		if kref == nil {
			return nil
		}
		ups := []firestore.Update{{Path: "status", Value: consentStatusFor(st)}, {Path: "updatedAt", Value: now}}
		if st == StatusRevoked {
			ups = append(ups, firestore.Update{Path: "revokedAt", Value: now}, firestore.Update{Path: "revokedBy", Value: by})
			consent.RevokedAt, consent.RevokedBy = &now, by
		}
		consent.Status, consent.UpdatedAt = consentStatusFor(st), now
		return tx.Update(kref, ups)
	})
	if err != nil {
		return Consent{}, false, fmt.Errorf("end connection %s: %w", connectionID, err)
	}
	return consent, changed, nil
}

// NewAccount builds the account record of a bank account seen through connection c.
func NewAccount(scope store.Scope, b bankcatalog.Bank, c Connection, a bank.Account, balances []bank.Balance, now time.Time) Account {
	acc := Account{
		ID: AccountID(scope.Tenant(), b.ID, a.IBAN, a.ResourceID), ConnectionID: c.ID, ConsentID: c.ConsentID,
		BankID: b.ID, BankName: b.Name, ResourceID: a.ResourceID, IBAN: a.IBAN, Currency: a.Currency,
		Name: a.Name, Product: a.Product, OwnerName: a.OwnerName, CreatedAt: now, UpdatedAt: now,
	}
	if acc.Name == "" {
		acc.Name = a.Product
	}
	acc.Balances = ToBalances(balances)
	if balances != nil {
		acc.BalancesAt = &now
	}
	return acc
}

// ToBalances converts bank balances to the stored form (amounts with 4 decimals).
func ToBalances(bs []bank.Balance) []Balance {
	out := make([]Balance, 0, len(bs))
	for _, b := range bs {
		out = append(out, Balance{Type: b.Type, Amount: money.FormatAmount(b.Amount), Currency: b.Currency, ReferenceDate: b.ReferenceDate})
	}
	return out
}

// UpsertAccounts writes accounts in tx, keeping each existing account's createdAt and
// lastSyncAt (reads happen first, as transactions require). Use it inside
// RunTransaction before any write.
func UpsertAccounts(tx *firestore.Transaction, scope store.Scope, accounts []Account) error {
	refs := make([]*firestore.DocumentRef, len(accounts))
	for i, a := range accounts {
		refs[i] = scope.Collection(CollAccounts).Doc(a.ID)
	}
	if len(refs) == 0 {
		return nil
	}
	snaps, err := tx.GetAll(refs)
	if err != nil {
		return err
	}
	writes := make([]Account, len(accounts))
	for i, a := range accounts {
		if snaps[i].Exists() {
			var old Account
			if err := snaps[i].DataTo(&old); err == nil {
				a.CreatedAt, a.LastSyncAt = old.CreatedAt, old.LastSyncAt
				if a.BalancesAt == nil {
					a.Balances, a.BalancesAt = old.Balances, old.BalancesAt
				}
			}
		}
		writes[i] = a
	}
	for i, a := range writes {
		if err := tx.Set(refs[i], a); err != nil {
			return err
		}
	}
	return nil
}

// Synced records a sync's outcome on the connection: lastSyncAt (nil: unchanged) and the
// next time it is due, with the scheduler's entry for that time in the same commit.
func (r *Repo) Synced(ctx context.Context, scope store.Scope, connectionID string, lastSyncAt *time.Time, nextSyncAt time.Time) error {
	up := []firestore.Update{{Path: "nextSyncAt", Value: nextSyncAt}}
	if lastSyncAt != nil {
		up = append(up, firestore.Update{Path: "lastSyncAt", Value: *lastSyncAt})
	}
	entryRef, entry := syncdue.For(r.Client, scope.Tenant(), connectionID, nextSyncAt, time.Now())
	err := r.Client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if err := tx.Update(scope.Collection(CollConnections).Doc(connectionID), up); err != nil {
			return err
		}
		return tx.Set(entryRef, entry)
	})
	if err != nil {
		return fmt.Errorf("record sync of %s: %w", connectionID, err)
	}
	return nil
}
