package connections

import (
	"context"
	"errors"
	"time"

	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
)

// ReadableAccount returns an account whose data the caller may read: 404 NOT_FOUND when it
// does not exist in the tenant, 403 CONSENT_REVOKED or CONSENT_EXPIRED when its connection
// ended. Handlers under /v1/accounts/{accountId}/... (transactions too) start with it.
func (r *Repo) ReadableAccount(ctx context.Context, scope store.Scope, accountID string, now time.Time) (Account, Connection, error) {
	a, err := r.GetAccount(ctx, scope, accountID)
	if errors.Is(err, ErrNotFound) {
		return Account{}, Connection{}, httpapi.NotFound("Account " + accountID)
	}
	if err != nil {
		return Account{}, Connection{}, err
	}
	c, err := r.Get(ctx, scope, a.ConnectionID)
	if errors.Is(err, ErrNotFound) {
		return Account{}, Connection{}, connectors.ConsentRevokedError()
	}
	if err != nil {
		return Account{}, Connection{}, err
	}
	if err := StatusError(c.EffectiveStatus(now)); err != nil {
		return Account{}, Connection{}, err
	}
	return a, c, nil
}
