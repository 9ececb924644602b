// Package store is Tok's only door to Firestore. Customer data lives under
// envs/{env}/orgs/{orgId}/..., and the only way to reach it is a Scope built from an
// authenticated tenant: a handler cannot write a path into another organisation.
package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/tenant"
)

// Global collections, keyed by something other than a tenant.
const (
	// Orgs holds organisations (both environments share one organisation record).
	Orgs = "orgs"
	// APIKeys holds API keys by the keyed hash of the key, never the key itself.
	APIKeys = "apiKeys"
	// SyncDue is the sync scheduler's index of when connections are due (shared/syncdue),
	// across tenants: it names connections and holds no customer data.
	SyncDue = "syncDue"
)

// Scope is the part of the database one tenant may touch.
type Scope struct {
	tenant tenant.Tenant
	root   *firestore.DocumentRef
}

// For returns the scope of tenant t.
func For(client *firestore.Client, t tenant.Tenant) Scope {
	return Scope{tenant: t, root: client.Collection("envs").Doc(t.Env).Collection("orgs").Doc(t.OrgID)}
}

// Tenant is the scope's owner.
func (s Scope) Tenant() tenant.Tenant { return s.tenant }

// Collection returns a collection under the tenant, e.g. "accounts" or "events".
func (s Scope) Collection(name string) *firestore.CollectionRef {
	return s.root.Collection(name)
}

// ForCaller returns the scope of the tenant the request's API key decided (tenant.From):
// the start of every handler that reads or writes customer data.
func ForCaller(ctx context.Context, client *firestore.Client) (Scope, error) {
	t, err := tenant.From(ctx)
	if err != nil {
		return Scope{}, err
	}
	return For(client, t), nil
}

// ForRole is ForCaller for a caller whose key holds at least need (auth.Require): the start
// of every route that changes something.
func ForRole(ctx context.Context, client *firestore.Client, need auth.Role) (Scope, error) {
	if err := auth.Require(ctx, need); err != nil {
		return Scope{}, err
	}
	return ForCaller(ctx, client)
}

// Get reads one document into a T. A missing document is notFound (each package keeps its own
// not-found error), wrapped with what names the document, as are the read and decode errors.
func Get[T any](ctx context.Context, ref *firestore.DocumentRef, what string, notFound error) (T, error) {
	snap, err := ref.Get(ctx)
	return decode[T](snap, err, what, notFound)
}

// GetID is Get of the document id of col, whose IDs are of kind (an ids prefix): any other
// id is notFound without a read. what names the kind in errors ("batch").
func GetID[T any](ctx context.Context, col *firestore.CollectionRef, kind, id, what string, notFound error) (T, error) {
	if !ids.Valid(kind, id) {
		var zero T
		return zero, fmt.Errorf("%s %q: %w", what, id, notFound)
	}
	return Get[T](ctx, col.Doc(id), what+" "+id, notFound)
}

// GetTx is Get inside a transaction.
func GetTx[T any](tx *firestore.Transaction, ref *firestore.DocumentRef, what string, notFound error) (T, error) {
	snap, err := tx.Get(ref)
	return decode[T](snap, err, what, notFound)
}

// All runs q and decodes every document it finds into a T.
func All[T any](ctx context.Context, q firestore.Query) ([]T, error) {
	docs, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	return DecodeAll[T](docs)
}

// DecodeAll decodes documents already read (in a transaction, say) into Ts.
func DecodeAll[T any](docs []*firestore.DocumentSnapshot) ([]T, error) {
	out := make([]T, 0, len(docs))
	for _, d := range docs {
		var v T
		if err := d.DataTo(&v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", d.Ref.Path, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func decode[T any](snap *firestore.DocumentSnapshot, err error, what string, notFound error) (T, error) {
	var v T
	if status.Code(err) == codes.NotFound {
		return v, fmt.Errorf("%s: %w", what, notFound)
	}
	if err != nil {
		return v, fmt.Errorf("get %s: %w", what, err)
	}
	if err := snap.DataTo(&v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}
