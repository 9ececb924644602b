package sandboxbank

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/keylock"
)

// Collection is the top-level Firestore collection holding the sandbox bank's state:
// sandboxbank/{bankId}/{kind}/{id}.
const Collection = "sandboxbank"

// Kinds of record the sandbox bank keeps.
const (
	kindConsents = "consents"
	kindPayments = "payments"
	kindMandates = "mandates"     // VRP mandates, each with its ledger of payments
	kindAuthReqs = "authrequests" // an SCA session between the authorize pages
	kindCodes    = "codes"        // authorization codes, by SHA-256 of the code
	kindTokens   = "tokens"       // access and refresh tokens, by SHA-256 of the token
)

// ErrNotFound is returned by Store.Get for a missing record.
var ErrNotFound = errors.New("sandboxbank: not found")

// ErrExists is returned by Store.Create when the record is already there.
var ErrExists = errors.New("sandboxbank: already exists")

// Store keeps the sandbox bank's records, one bank at a time. v is a pointer to a record
// struct. Update runs fn in a transaction: v holds the current record (zero if !exists) and
// is written back when fn returns nil; an error from fn aborts without writing.
type Store interface {
	Create(ctx context.Context, bankID, kind, id string, v any) error
	Get(ctx context.Context, bankID, kind, id string, v any) error
	Update(ctx context.Context, bankID, kind, id string, v any, fn func(exists bool) error) error
}

// FirestoreStore is the Store on Firestore.
type FirestoreStore struct {
	Client *firestore.Client
}

func (s FirestoreStore) doc(bankID, kind, id string) *firestore.DocumentRef {
	return s.Client.Collection(Collection).Doc(bankID).Collection(kind).Doc(id)
}

// Create writes a new record, failing with ErrExists if it is there.
func (s FirestoreStore) Create(ctx context.Context, bankID, kind, id string, v any) error {
	_, err := s.doc(bankID, kind, id).Create(ctx, v)
	if status.Code(err) == codes.AlreadyExists {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", kind, err)
	}
	return nil
}

// Get reads a record into v.
func (s FirestoreStore) Get(ctx context.Context, bankID, kind, id string, v any) error {
	snap, err := s.doc(bankID, kind, id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", kind, err)
	}
	return snap.DataTo(v)
}

// updates queues this process's transactions on one record (see keylock).
var updates keylock.Locks

// Update reads, changes and writes back a record in one transaction.
func (s FirestoreStore) Update(ctx context.Context, bankID, kind, id string, v any, fn func(exists bool) error) error {
	ref := s.doc(bankID, kind, id)
	defer updates.Lock(ref.Path)()
	return s.Client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		reflect.ValueOf(v).Elem().SetZero() // a retried transaction starts afresh
		snap, err := tx.Get(ref)
		exists := true
		switch {
		case status.Code(err) == codes.NotFound:
			exists = false
		case err != nil:
			return fmt.Errorf("get %s: %w", kind, err)
		default:
			if err := snap.DataTo(v); err != nil {
				return err
			}
		}
		if err := fn(exists); err != nil {
			return err
		}
		return tx.Set(ref, v)
	})
}
