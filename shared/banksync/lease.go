package banksync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
)

// ErrBusy: another worker holds the connection's lease.
var ErrBusy = errors.New("banksync: another worker is syncing this connection")

// ErrLeaseLost: the lease expired and another worker took it; this worker must stop writing.
var ErrLeaseLost = errors.New("banksync: lease lost")

// ErrBudget: the consent's unattended accesses for today are used up.
var ErrBudget = errors.New("banksync: unattended access budget exhausted for today")

func leaseRef(scope store.Scope, connectionID string) *firestore.DocumentRef {
	return scope.Collection("connections").Doc(connectionID).Collection("sync").Doc("lease")
}

type leaseDoc struct {
	Holder    string    `firestore:"holder"`
	ExpiresAt time.Time `firestore:"expiresAt"`
}

// acquire takes or renews the lease for holder until now+ttl; ErrBusy if another holder's
// lease has not expired, ErrLeaseLost when renewing one that is gone.
func acquire(ctx context.Context, fs *firestore.Client, ref *firestore.DocumentRef, holder string, now time.Time, ttl time.Duration, renew bool) error {
	return fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		if err == nil {
			var l leaseDoc
			if err := snap.DataTo(&l); err != nil {
				return err
			}
			if l.Holder != holder && l.ExpiresAt.After(now) {
				if renew {
					return ErrLeaseLost
				}
				return ErrBusy
			}
			if renew && l.Holder != holder {
				return ErrLeaseLost
			}
		} else if renew {
			return ErrLeaseLost
		}
		return tx.Set(ref, leaseDoc{Holder: holder, ExpiresAt: now.Add(ttl)})
	}, firestore.MaxAttempts(3))
}

// release drops the lease if holder still has it.
func release(ctx context.Context, fs *firestore.Client, ref *firestore.DocumentRef, holder string) error {
	return fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if h, _ := snap.Data()["holder"].(string); h != holder {
			return nil
		}
		return tx.Delete(ref)
	}, firestore.MaxAttempts(3))
}

// Budget counts a consent's unattended bank accesses per UTC day, per resource as banks
// count them (the account list, each account's balances, each account's transactions, and
// a "sync" entry for the whole run), in envs/../connections/{cxn}/syncBudget/{day}_{consent}.
// Reserve is a transaction that refuses once a resource has frequencyPerDay accesses, and
// it runs before the bank is called: a crash after it may waste an access, never exceed.
type Budget struct {
	FS *firestore.Client
}

func budgetRef(scope store.Scope, c connections.Connection, day string) *firestore.DocumentRef {
	return scope.Collection("connections").Doc(c.ID).Collection("syncBudget").Doc(day + "_" + c.ConsentID)
}

// resourceKey makes a field name from a resource (bank IDs may hold dots or slashes).
func resourceKey(resource string) string {
	sum := sha256.Sum256([]byte(resource))
	return "r" + hex.EncodeToString(sum[:8])
}

// Reserve takes one unattended access of resource for the UTC day of now and returns how
// many are left after it, as the transaction that took it saw them.
func (b Budget) Reserve(ctx context.Context, scope store.Scope, c connections.Connection, resource string, now time.Time) (int, error) {
	limit := b.Limit(c)
	ref := budgetRef(scope, c, now.UTC().Format(time.DateOnly))
	key := resourceKey(resource)
	var left int
	err := b.FS.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		var n int64
		if err == nil {
			if v, ok := snap.Data()[key].(int64); ok {
				n = v
			}
		}
		if n >= int64(limit) {
			return ErrBudget
		}
		left = limit - int(n) - 1
		return tx.Set(ref, map[string]any{key: n + 1, "consentId": c.ConsentID, "day": now.UTC().Format(time.DateOnly),
			"expireAt": now.Add(48 * time.Hour)}, firestore.MergeAll)
	}, firestore.MaxAttempts(5))
	return left, err
}

// SyncResource is the budget resource every unattended sync takes one access of: what the
// API shows as the consent's unattended accesses.
const SyncResource = "sync"

// Limit is the connection's unattended accesses a day.
func (Budget) Limit(c connections.Connection) int {
	if c.FrequencyPerDay <= 0 {
		return DefaultFrequencyPerDay
	}
	return c.FrequencyPerDay
}

// Left returns the unattended syncs the connection's consent has left on the UTC day of now.
func (b Budget) Left(ctx context.Context, scope store.Scope, c connections.Connection, now time.Time) (int, error) {
	used, err := b.Used(ctx, scope, c, SyncResource, now.UTC().Format(time.DateOnly))
	if err != nil {
		return 0, err
	}
	return max(b.Limit(c)-int(used), 0), nil
}

// Used returns how many unattended accesses of resource were reserved on day.
func (b Budget) Used(ctx context.Context, scope store.Scope, c connections.Connection, resource, day string) (int64, error) {
	snap, err := budgetRef(scope, c, day).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, _ := snap.Data()[resourceKey(resource)].(int64)
	return v, nil
}

// leaseHold is a worker's hold on a connection's lease during one sync. The lease is
// renewed once a third of its TTL has passed since it was last taken or renewed, so at
// every write the holder has at least two thirds of the TTL left before another worker may
// take it; a renewal that finds the lease gone stops the sync (ErrLeaseLost).
type leaseHold struct {
	fs      *firestore.Client
	ref     *firestore.DocumentRef
	holder  string
	ttl     time.Duration
	now     func() time.Time
	renewed time.Time // when the current expiry (renewed+ttl) was written
}

// ensure renews the lease when a third of its TTL has passed.
func (l *leaseHold) ensure(ctx context.Context) error {
	now := l.now()
	if now.Sub(l.renewed) < l.ttl/3 && !now.Before(l.renewed) {
		return nil
	}
	if err := acquire(ctx, l.fs, l.ref, l.holder, now, l.ttl, true); err != nil {
		return err
	}
	l.renewed = now
	return nil
}
