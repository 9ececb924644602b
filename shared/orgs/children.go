package orgs

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
)

// children is a kind of document kept under each organisation: its collection, the prefix
// of its IDs, its name in errors and the order of its lists.
type children[T any] struct {
	coll   string
	prefix string
	name   string
	order  firestore.Direction
}

var (
	keyPairs = children[KeyPair]{coll: keyPairsColl, prefix: ids.APIKey, name: "key pair", order: firestore.Desc}
	members  = children[Member]{coll: membersColl, prefix: ids.Member, name: "member", order: firestore.Asc}
)

func (c children[T]) ref(r *Repo, orgID, id string) *firestore.DocumentRef {
	return r.orgRef(orgID).Collection(c.coll).Doc(id)
}

// checkIDs refuses IDs that cannot name a document as not found, before any read.
func (c children[T]) checkIDs(orgID, id string) error {
	if !ids.Valid(ids.Organisation, orgID) || !ids.Valid(c.prefix, id) {
		return fmt.Errorf("%s %q: %w", c.name, id, ErrNotFound)
	}
	return nil
}

// get reads one document of an organisation.
func (c children[T]) get(ctx context.Context, r *Repo, orgID, id string) (T, error) {
	if err := c.checkIDs(orgID, id); err != nil {
		var zero T
		return zero, err
	}
	return store.Get[T](ctx, c.ref(r, orgID, id), c.name+" "+id, ErrNotFound)
}

// getTx is get in a transaction.
func (c children[T]) getTx(tx *firestore.Transaction, r *Repo, orgID, id string) (T, error) {
	if err := c.checkIDs(orgID, id); err != nil {
		var zero T
		return zero, err
	}
	return store.GetTx[T](tx, c.ref(r, orgID, id), c.name+" "+id, ErrNotFound)
}

// changeOne reads one document in a transaction and hands it to fn, which changes it; the
// error names the change (what).
func changeOne[T, R any](ctx context.Context, r *Repo, c children[T], what, orgID, id string, fn func(tx *firestore.Transaction, cur T) (R, error)) (R, error) {
	return changed(ctx, r, what, func(tx *firestore.Transaction) (R, error) {
		cur, err := c.getTx(tx, r, orgID, id)
		if err != nil {
			var zero R
			return zero, err
		}
		return fn(tx, cur)
	})
}

// list reads all of an organisation's documents in the kind's order of creation.
func (c children[T]) list(ctx context.Context, r *Repo, orgID string) ([]T, error) {
	if !ids.Valid(ids.Organisation, orgID) {
		return nil, fmt.Errorf("organisation %q: %w", orgID, ErrNotFound)
	}
	list, err := store.All[T](ctx, r.orgRef(orgID).Collection(c.coll).OrderBy("createdAt", c.order))
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", c.name, err)
	}
	return list, nil
}
