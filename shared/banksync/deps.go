// Package banksync syncs one bank connection into Firestore (the worker) and finds the
// connections that are due (the scheduler). See Worker for the guarantees.
package banksync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/transactions"
)

// RequestsTopic carries sync requests; TickTopic the scheduler's ticks.
const (
	RequestsTopic = "tok-sync-requests"
	TickTopic     = "tok-sync-tick"
)

// Request asks for one connection to be synced (the JSON of a tok-sync-requests message).
type Request struct {
	Env          string `json:"env"`
	OrgID        string `json:"orgId"`
	ConnectionID string `json:"connectionId"`
	// Attended is true for the first sync at authorisation, while the PSU is present: it
	// does not count against the consent's unattended accesses and goes as far back as the
	// bank allows.
	Attended bool   `json:"attended"`
	Reason   string `json:"reason"`
}

// Tenant of the request.
func (r Request) Tenant() tenant.Tenant { return tenant.Tenant{Env: r.Env, OrgID: r.OrgID} }

// Connection is what the sync needs of a connection record (issue 5's connections).
type Connection struct {
	ID              string
	BankID          string
	ConsentID       string
	Status          string
	FrequencyPerDay int
	ValidUntil      time.Time
}

// Active reports whether the connection may be synced.
func (c Connection) Active() bool {
	return SyncableStatus(c.Status)
}

// Connection statuses the scheduler picks up (issue 5's connection/consent status).
var syncable = []string{"active", "AUTHORIZED"}

// SyncableStatus reports whether a connection in status s is synced.
func SyncableStatus(s string) bool {
	for _, v := range syncable {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Connections reads and schedules connection records.
type Connections interface {
	Get(ctx context.Context, scope store.Scope, id string) (Connection, error)
	// Synced records a sync's outcome: lastSyncAt (nil: unchanged) and the next due time.
	Synced(ctx context.Context, scope store.Scope, id string, lastSyncAt *time.Time, nextSyncAt time.Time) error
}

// SessionSource gives a usable bank session for a connection (issue 5's token vault:
// tokens refreshed as needed). attended marks a PSU-present session.
type SessionSource interface {
	Session(ctx context.Context, scope store.Scope, connectionID string, attended bool) (bank.Session, bank.Connector, error)
}

// Accounts maps bank accounts to Tok accounts (issue 5's accounts).
type Accounts interface {
	// Upsert returns the Tok account ID of a bank account of the connection, creating it
	// when new.
	Upsert(ctx context.Context, scope store.Scope, c Connection, a bank.Account) (string, error)
	// SetBalances stores the account's balances and reports whether they changed.
	SetBalances(ctx context.Context, scope store.Scope, accountID string, b []bank.Balance, at time.Time) (bool, error)
}

// FirestoreConnections implements Connections on the contract's documents
// (envs/{env}/orgs/{org}/connections/{id}).
type FirestoreConnections struct{}

// Get reads a connection.
func (FirestoreConnections) Get(ctx context.Context, scope store.Scope, id string) (Connection, error) {
	snap, err := scope.Collection("connections").Doc(id).Get(ctx)
	if err != nil {
		return Connection{}, fmt.Errorf("read connection %s: %w", id, err)
	}
	var rec struct {
		BankID          string    `firestore:"bankId"`
		ConsentID       string    `firestore:"consentId"`
		Status          string    `firestore:"status"`
		FrequencyPerDay int       `firestore:"frequencyPerDay"`
		ValidUntil      time.Time `firestore:"validUntil"`
	}
	if err := snap.DataTo(&rec); err != nil {
		return Connection{}, fmt.Errorf("decode connection %s: %w", id, err)
	}
	return Connection{ID: id, BankID: rec.BankID, ConsentID: rec.ConsentID, Status: rec.Status,
		FrequencyPerDay: rec.FrequencyPerDay, ValidUntil: rec.ValidUntil}, nil
}

// Synced updates lastSyncAt and nextSyncAt.
func (FirestoreConnections) Synced(ctx context.Context, scope store.Scope, id string, last *time.Time, next time.Time) error {
	up := []firestore.Update{{Path: "nextSyncAt", Value: next}}
	if last != nil {
		up = append(up, firestore.Update{Path: "lastSyncAt", Value: *last})
	}
	_, err := scope.Collection("connections").Doc(id).Update(ctx, up)
	return err
}

// FirestoreAccounts implements Accounts on the contract's account documents
// (envs/{env}/orgs/{org}/accounts/{acc}): the ID is derived from the bank and the IBAN (or
// the bank's resource ID), so the same bank account keeps its ID across consents.
type FirestoreAccounts struct{}

// AccountID derives the Tok ID of a bank account.
func AccountID(bankID string, a bank.Account) string {
	key := a.IBAN
	if key == "" {
		key = "res:" + a.ResourceID
	}
	return ids.Derive(ids.Account, bankID, key)
}

// Upsert creates or refreshes the account document.
func (FirestoreAccounts) Upsert(ctx context.Context, scope store.Scope, c Connection, a bank.Account) (string, error) {
	id := AccountID(c.BankID, a)
	ref := scope.Collection(transactions.AccountsCollection).Doc(id)
	_, err := ref.Set(ctx, map[string]any{
		"id": id, "connectionId": c.ID, "bankId": c.BankID, "consentId": c.ConsentID, "resourceId": a.ResourceID,
		"iban": a.IBAN, "currency": a.Currency, "name": a.Name,
	}, firestore.MergeAll)
	return id, err
}

// SetBalances stores balances on the account document.
func (FirestoreAccounts) SetBalances(ctx context.Context, scope store.Scope, accountID string, bs []bank.Balance, at time.Time) (bool, error) {
	ref := scope.Collection(transactions.AccountsCollection).Doc(accountID)
	list := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		list = append(list, map[string]any{"type": b.Type, "amount": b.Amount.StringFixed(4), "currency": b.Currency, "referenceDate": b.ReferenceDate})
	}
	changed := true
	snap, err := ref.Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return false, err
	}
	if err == nil {
		if old, ok := snap.Data()["balances"].([]any); ok && fmt.Sprint(old) == fmt.Sprint(toAny(list)) {
			changed = false
		}
	}
	_, err = ref.Set(ctx, map[string]any{"balances": list, "balancesAt": at, "lastSyncAt": at}, firestore.MergeAll)
	return changed, err
}

func toAny(l []map[string]any) []any {
	out := make([]any, len(l))
	for i, m := range l {
		out[i] = m
	}
	return out
}
