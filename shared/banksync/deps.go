// Package banksync syncs one bank connection into Firestore (the worker) and finds the
// connections that are due (the scheduler). See Worker for the guarantees.
package banksync

import (
	"context"
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
)

// Connections reads and schedules connection records (connections.Repo).
type Connections interface {
	Get(ctx context.Context, scope store.Scope, id string) (connections.Connection, error)
	// Synced records a sync's outcome: lastSyncAt (nil: unchanged) and the next due time.
	Synced(ctx context.Context, scope store.Scope, id string, lastSyncAt *time.Time, nextSyncAt time.Time) error
}

// SessionSource gives a usable bank session for a connection, its tokens refreshed as
// needed (connections.Service). A non-nil psu marks a PSU-present session.
type SessionSource interface {
	Session(ctx context.Context, scope store.Scope, connectionID string, psu *connections.PSU) (bank.Session, bank.Connector, error)
	// EndAtBank ends the connection and its consent when err says the bank revoked or
	// expired it, publishing consent.revoked / consent.expired once.
	EndAtBank(ctx context.Context, scope store.Scope, connectionID string, err error) (bool, error)
}

// Accounts maps bank accounts to Tok accounts (connections.Service).
type Accounts interface {
	// UpsertAccount returns the Tok account ID of a bank account of the connection,
	// creating its record when new.
	UpsertAccount(ctx context.Context, scope store.Scope, c connections.Connection, a bank.Account) (string, error)
	// SetBalances stores the account's balances and reports whether they changed.
	SetBalances(ctx context.Context, scope store.Scope, accountID string, b []bank.Balance, at time.Time) (bool, error)
}

// Reconciler links an account's booked transactions to Tok payments (payments.Reconciler).
type Reconciler interface {
	Reconcile(ctx context.Context, scope store.Scope, accountID, iban string) error
}
