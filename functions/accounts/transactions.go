package accounts

import (
	"context"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/transactions"
)

// The transaction and standing-order endpoints (issue 6) live in shared/transactions; they
// check the account with ReadableAccount like every /v1/accounts/{accountId}/... handler.
func init() {
	Register(func(rt *httpapi.Router, d *Deps) error {
		api := &transactions.API{
			Firestore: func(context.Context) (*firestore.Client, error) { return d.Repo.Client, nil },
			Check: func(ctx context.Context, scope store.Scope, accountID string) error {
				_, _, err := d.Repo.ReadableAccount(ctx, scope, accountID, d.Clock())
				return err
			},
		}
		api.Register(rt)
		return nil
	})
}
