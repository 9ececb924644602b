package orgs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// Sub-collections of an organisation.
const (
	keyPairsColl     = "keyPairs"
	membersColl      = "members"
	memberEmailsColl = "memberEmails"
)

// Repo reads and writes organisations, key pairs and members. Every write goes through
// change, the one gate that refuses a sandbox caller (auth.MayAffectLive): what this
// repository holds is organisation-wide and decides live access.
type Repo struct {
	client *firestore.Client
	pepper []byte
	now    func() time.Time
}

// Option configures a Repo.
type Option func(*Repo)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(r *Repo) { r.now = now } }

// New returns a repository on client. pepper is the secret of apikey.Hash (Secret Manager
// secret api-key-pepper); it is needed to create keys, not to look them up.
func New(client *firestore.Client, pepper []byte, opts ...Option) *Repo {
	r := &Repo{client: client, pepper: pepper, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Client is the Firestore client the repository works on.
func (r *Repo) Client() *firestore.Client { return r.client }

// clock returns now as Firestore stores it (UTC, microseconds), so what a method returns
// equals what a later read gives.
func (r *Repo) clock() time.Time { return r.now().UTC().Truncate(time.Microsecond) }

func (r *Repo) orgRef(orgID string) *firestore.DocumentRef {
	return r.client.Collection(store.Orgs).Doc(orgID)
}

// change runs fn in a transaction on behalf of the caller in ctx, unless that caller holds a
// sandbox key.
func (r *Repo) change(ctx context.Context, fn func(tx *firestore.Transaction) error) error {
	if err := auth.MayAffectLive(ctx); err != nil {
		return err
	}
	return r.client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error { return fn(tx) })
}

// changed runs fn as a change and returns what it made; the error names the change (what).
// fn may run more than once, as transactions retry: only its last result is returned.
func changed[T any](ctx context.Context, r *Repo, what string, fn func(tx *firestore.Transaction) (T, error)) (T, error) {
	var out T
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		v, err := fn(tx)
		out = v
		return err
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// CreateOrg creates an organisation and its first key pair, with the admin role.
func (r *Repo) CreateOrg(ctx context.Context, name, tier string, origins []string) (Org, NewKeyPair, error) {
	name, err := ValidateName(name)
	if err != nil {
		return Org{}, NewKeyPair{}, err
	}
	if err := ValidateTier(tier); err != nil {
		return Org{}, NewKeyPair{}, err
	}
	origins, err = NormalizeOrigins(origins)
	if err != nil {
		return Org{}, NewKeyPair{}, err
	}
	now := r.clock()
	org := Org{ID: ids.New(ids.Organisation), Name: name, Tier: tier, AllowedOrigins: origins, CreatedAt: now}
	pair, recs, err := r.newPair(org, auth.RoleAdmin, CreatedByCLI, now)
	if err != nil {
		return Org{}, NewKeyPair{}, err
	}
	err = r.change(ctx, func(tx *firestore.Transaction) error {
		if err := tx.Create(r.orgRef(org.ID), org); err != nil {
			return err
		}
		return r.createPair(tx, org.ID, pair, recs)
	})
	if err != nil {
		return Org{}, NewKeyPair{}, fmt.Errorf("create organisation: %w", err)
	}
	return org, pair, nil
}

// GetOrg returns an organisation.
func (r *Repo) GetOrg(ctx context.Context, orgID string) (Org, error) {
	return store.GetID[Org](ctx, r.client.Collection(store.Orgs), ids.Organisation, orgID, "organisation", ErrNotFound)
}

// ListOrgs returns every organisation, oldest first (for the admin CLI).
func (r *Repo) ListOrgs(ctx context.Context) ([]Org, error) {
	orgs, err := store.All[Org](ctx, r.client.Collection(store.Orgs).OrderBy("createdAt", firestore.Asc))
	if err != nil {
		return nil, fmt.Errorf("list organisations: %w", err)
	}
	return orgs, nil
}

// SetTier changes an organisation's tier, on the organisation and on the key records of
// every pair not revoked, in one transaction. The rate limiter sees it once
// authentication's cache of the key expires (auth.CacheTTL).
func (r *Repo) SetTier(ctx context.Context, orgID, tier string) error {
	if err := ValidateTier(tier); err != nil {
		return err
	}
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		if _, err := r.getOrgTx(tx, orgID); err != nil {
			return err
		}
		pairs, err := tx.Documents(r.orgRef(orgID).Collection(keyPairsColl).Where("revokedAt", "==", nil)).GetAll()
		if err != nil {
			return err
		}
		kps, err := store.DecodeAll[KeyPair](pairs)
		if err != nil {
			return err
		}
		if err := tx.Update(r.orgRef(orgID), []firestore.Update{{Path: "tier", Value: tier}}); err != nil {
			return err
		}
		for _, p := range kps {
			for _, h := range []string{p.LiveHash, p.SandboxHash} {
				if err := tx.Update(r.client.Collection(store.APIKeys).Doc(h), []firestore.Update{{Path: "tier", Value: tier}}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set tier of %s: %w", orgID, err)
	}
	return nil
}

// getOrgTx reads the organisation in tx, so a write under it fails for an unknown one.
func (r *Repo) getOrgTx(tx *firestore.Transaction, orgID string) (Org, error) {
	if !ids.Valid(ids.Organisation, orgID) {
		return Org{}, fmt.Errorf("organisation %q: %w", orgID, ErrNotFound)
	}
	return store.GetTx[Org](tx, r.orgRef(orgID), "organisation "+orgID, ErrNotFound)
}

// LookupKey returns the record of the key whose keyed hash is hash; an error wrapping
// ErrNotFound when there is none. It does not judge expiry or revocation.
func (r *Repo) LookupKey(ctx context.Context, hash string) (KeyRecord, error) {
	if !validHash(hash) {
		return KeyRecord{}, fmt.Errorf("API key: %w", ErrNotFound)
	}
	return store.Get[KeyRecord](ctx, r.client.Collection(store.APIKeys).Doc(hash), "API key", ErrNotFound)
}

// Authenticate implements auth.Keys: the key record, which carries its organisation's tier.
// A record written before key records carried it costs a read of the organisation. An
// unknown key (or one whose organisation is gone) is an error wrapping both
// auth.ErrUnknownKey and ErrNotFound.
func (r *Repo) Authenticate(ctx context.Context, hash string) (auth.Key, error) {
	k, err := r.LookupKey(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return auth.Key{}, fmt.Errorf("%w: %w", auth.ErrUnknownKey, err)
	}
	if err != nil {
		return auth.Key{}, err
	}
	if k.Tier == "" {
		org, err := r.GetOrg(ctx, k.OrgID)
		if errors.Is(err, ErrNotFound) {
			return auth.Key{}, fmt.Errorf("%w: %w", auth.ErrUnknownKey, err)
		}
		if err != nil {
			return auth.Key{}, err
		}
		k.Tier = org.Tier
	}
	return auth.Key{Hash: k.Hash, OrgID: k.OrgID, Env: k.Env, KeyPairID: k.KeyPairID, Role: k.Role,
		Tier: k.Tier, ExpiresAt: k.ExpiresAt, Revoked: k.Revoked}, nil
}

// validHash accepts what apikey.Hash returns: 64 lower-case hex digits.
func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newPair makes a key pair of org and its two key records; nothing is written.
func (r *Repo) newPair(org Org, role auth.Role, createdBy string, now time.Time) (NewKeyPair, [2]KeyRecord, error) {
	if len(r.pepper) == 0 {
		return NewKeyPair{}, [2]KeyRecord{}, errors.New("no API key pepper configured")
	}
	live, err := apikey.New(tenant.Live)
	if err != nil {
		return NewKeyPair{}, [2]KeyRecord{}, err
	}
	sandbox, err := apikey.New(tenant.Sandbox)
	if err != nil {
		return NewKeyPair{}, [2]KeyRecord{}, err
	}
	p := NewKeyPair{
		KeyPair: KeyPair{
			ID: ids.New(ids.APIKey), Role: role,
			LiveKeyMasked: apikey.Mask(live), SandboxKeyMasked: apikey.Mask(sandbox),
			CreatedAt: now, CreatedBy: createdBy,
			LiveHash: apikey.Hash(r.pepper, live), SandboxHash: apikey.Hash(r.pepper, sandbox),
		},
		LiveKey: live, SandboxKey: sandbox,
	}
	rec := func(env, hash string) KeyRecord {
		return KeyRecord{Hash: hash, OrgID: org.ID, Env: env, KeyPairID: p.ID, Role: role, CreatedAt: now, Tier: org.Tier}
	}
	return p, [2]KeyRecord{rec(tenant.Live, p.LiveHash), rec(tenant.Sandbox, p.SandboxHash)}, nil
}

// createPair writes a pair and its key records in tx. Only the KeyPair is written, never
// NewKeyPair: the keys themselves must not reach Firestore.
func (r *Repo) createPair(tx *firestore.Transaction, orgID string, p NewKeyPair, recs [2]KeyRecord) error {
	if err := tx.Create(r.orgRef(orgID).Collection(keyPairsColl).Doc(p.ID), p.KeyPair); err != nil {
		return err
	}
	for _, rec := range recs {
		if err := tx.Create(r.client.Collection(store.APIKeys).Doc(rec.Hash), rec); err != nil {
			return err
		}
	}
	return nil
}
