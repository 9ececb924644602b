package banksync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
)

// VaultSessions adapts issue 5's token vault to SessionSource.
type VaultSessions struct{ Vault *connections.Vault }

// Session returns a refreshed session; attended marks the PSU as present.
func (v VaultSessions) Session(ctx context.Context, scope store.Scope, id string, attended bool) (bank.Session, bank.Connector, error) {
	var psu *connections.PSU
	if attended {
		psu = &connections.PSU{}
	}
	return v.Vault.Session(ctx, scope, id, psu)
}

// RepoConnections adapts connections.Repo to Connections.
type RepoConnections struct{ Repo *connections.Repo }

// Get reads a connection; a missing one is reported as such.
func (r RepoConnections) Get(ctx context.Context, scope store.Scope, id string) (Connection, error) {
	c, err := r.Repo.Get(ctx, scope, id)
	if errors.Is(err, connections.ErrNotFound) {
		return Connection{}, ErrNoConnection
	}
	if err != nil {
		return Connection{}, err
	}
	st := c.Status
	if c.EffectiveStatus(time.Now()) != connections.StatusActive {
		st = c.EffectiveStatus(time.Now())
	}
	return Connection{ID: c.ID, BankID: c.BankID, ConsentID: c.ConsentID, Status: st, FrequencyPerDay: c.FrequencyPerDay, ValidUntil: c.ValidUntil}, nil
}

// Synced records lastSyncAt and nextSyncAt.
func (r RepoConnections) Synced(ctx context.Context, scope store.Scope, id string, last *time.Time, next time.Time) error {
	return FirestoreConnections{}.Synced(ctx, scope, id, last, next)
}

// ErrNoConnection: the request names a connection that does not exist.
var ErrNoConnection = errors.New("banksync: no such connection")

// RepoAccounts adapts issue 5's account records to Accounts.
type RepoAccounts struct {
	Repo       *connections.Repo
	Connectors *connections.Connectors
}

// Upsert creates or refreshes the account record (issue 5's IDs and fields).
func (r RepoAccounts) Upsert(ctx context.Context, scope store.Scope, c Connection, a bank.Account) (string, error) {
	b, err := r.Connectors.Bank(scope.Tenant().Env, c.BankID)
	if err != nil {
		return "", fmt.Errorf("bank %s: %w", c.BankID, err)
	}
	cx := connections.Connection{ID: c.ID, BankID: c.BankID, ConsentID: c.ConsentID}
	acc := connections.NewAccount(scope, b, cx, a, nil, time.Now().UTC())
	err = r.Repo.Client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		return connections.UpsertAccounts(tx, scope, []connections.Account{acc})
	})
	return acc.ID, err
}

// SetBalances stores balances and the sync time on the account record.
func (r RepoAccounts) SetBalances(ctx context.Context, scope store.Scope, accountID string, bs []bank.Balance, at time.Time) (bool, error) {
	return FirestoreAccounts{}.SetBalances(ctx, scope, accountID, bs, at)
}
