package orgs

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/store"
)

// CreateKeyPair creates a key pair with role (admin, developer or read_only) in an
// organisation. createdBy is a member ID, a key pair ID or CreatedByCLI.
func (r *Repo) CreateKeyPair(ctx context.Context, orgID, role, createdBy string) (NewKeyPair, error) {
	kr, err := ValidateKeyRole(role)
	if err != nil {
		return NewKeyPair{}, err
	}
	return changed(ctx, r, "create key pair", func(tx *firestore.Transaction) (NewKeyPair, error) {
		org, err := r.getOrgTx(tx, orgID)
		if err != nil {
			return NewKeyPair{}, err
		}
		p, recs, err := r.newPair(org, kr, createdBy, r.clock())
		if err != nil {
			return NewKeyPair{}, err
		}
		return p, r.createPair(tx, orgID, p, recs)
	})
}

// ListKeyPairs returns an organisation's key pairs, revoked and expired ones included,
// newest first.
func (r *Repo) ListKeyPairs(ctx context.Context, orgID string) ([]KeyPair, error) {
	return keyPairs.list(ctx, r, orgID)
}

// GetKeyPair returns one key pair of an organisation.
func (r *Repo) GetKeyPair(ctx context.Context, orgID, id string) (KeyPair, error) {
	return keyPairs.get(ctx, r, orgID, id)
}

// ValidateGrace checks a rotation grace period: from 0 (the old pair stops at once) to
// MaxGrace.
func ValidateGrace(grace time.Duration) error {
	if grace < 0 || grace > MaxGrace {
		return invalid("gracePeriod", "must be between 0 and %s", MaxGrace)
	}
	return nil
}

// RotateKeyPair replaces a key pair with a new one of the same role. The old pair's two
// keys keep working until now+grace (grace 0 ends them at once); the old pair records the
// new one in ReplacedBy and the new one the old in Replaces. A revoked, expired or already
// rotated pair cannot be rotated (ErrConflict): rotate its replacement instead.
func (r *Repo) RotateKeyPair(ctx context.Context, orgID, id string, grace time.Duration) (NewKeyPair, error) {
	if err := ValidateGrace(grace); err != nil {
		return NewKeyPair{}, err
	}
	return changeOne(ctx, r, keyPairs, "rotate key pair", orgID, id, func(tx *firestore.Transaction, old KeyPair) (NewKeyPair, error) {
		org, err := r.getOrgTx(tx, orgID)
		if err != nil {
			return NewKeyPair{}, err
		}
		now := r.clock()
		switch old.Status(now) {
		case StatusRevoked:
			return NewKeyPair{}, conflict("Key pair %s is revoked and cannot be rotated.", id)
		case StatusExpired, StatusExpiring:
			return NewKeyPair{}, conflict("Key pair %s was already rotated or has expired; rotate its replacement instead.", id)
		}
		p, recs, err := r.newPair(org, old.Role, old.CreatedBy, now)
		if err != nil {
			return NewKeyPair{}, err
		}
		p.Replaces = old.ID
		expires := now.Add(grace)
		p.ReplacedExpiresAt = &expires
		if err := r.createPair(tx, orgID, p, recs); err != nil {
			return NewKeyPair{}, err
		}
		if err := tx.Update(keyPairs.ref(r, orgID, id), []firestore.Update{
			{Path: "expiresAt", Value: expires}, {Path: "replacedBy", Value: p.ID},
		}); err != nil {
			return NewKeyPair{}, err
		}
		for _, h := range []string{old.LiveHash, old.SandboxHash} {
			if err := tx.Update(r.client.Collection(store.APIKeys).Doc(h), []firestore.Update{{Path: "expiresAt", Value: expires}}); err != nil {
				return NewKeyPair{}, err
			}
		}
		return p, nil
	})
}

// RevokeKeyPair ends a key pair at once: both key records are marked revoked (instances
// that cached the key notice within auth.CacheTTL) and the pair gets RevokedAt. Revoking
// a revoked pair changes nothing.
func (r *Repo) RevokeKeyPair(ctx context.Context, orgID, id string) error {
	_, err := changeOne(ctx, r, keyPairs, "revoke key pair", orgID, id, func(tx *firestore.Transaction, p KeyPair) (struct{}, error) {
		if p.RevokedAt != nil {
			return struct{}{}, nil
		}
		now := r.clock()
		if err := tx.Update(keyPairs.ref(r, orgID, id), []firestore.Update{{Path: "revokedAt", Value: now}}); err != nil {
			return struct{}{}, err
		}
		for _, h := range []string{p.LiveHash, p.SandboxHash} {
			if err := tx.Update(r.client.Collection(store.APIKeys).Doc(h), []firestore.Update{{Path: "revoked", Value: true}}); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}
