package orgs

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
)

func (r *Repo) pairRef(orgID, id string) *firestore.DocumentRef {
	return r.orgRef(orgID).Collection(keyPairsColl).Doc(id)
}

// CreateKeyPair creates a key pair with role (admin, developer or read_only) in an
// organisation. createdBy is a member ID, a key pair ID or CreatedByCLI.
func (r *Repo) CreateKeyPair(ctx context.Context, orgID, role, createdBy string) (NewKeyPair, error) {
	kr, err := ValidateKeyRole(role)
	if err != nil {
		return NewKeyPair{}, err
	}
	var pair NewKeyPair
	err = r.change(ctx, func(tx *firestore.Transaction) error {
		if err := r.requireOrg(tx, orgID); err != nil {
			return err
		}
		p, recs, err := r.newPair(orgID, kr, createdBy, r.clock())
		if err != nil {
			return err
		}
		pair = p
		return r.createPair(tx, orgID, p, recs)
	})
	if err != nil {
		return NewKeyPair{}, fmt.Errorf("create key pair: %w", err)
	}
	return pair, nil
}

// ListKeyPairs returns an organisation's key pairs, revoked and expired ones included,
// newest first.
func (r *Repo) ListKeyPairs(ctx context.Context, orgID string) ([]KeyPair, error) {
	if !ids.Valid(ids.Organisation, orgID) {
		return nil, fmt.Errorf("organisation %q: %w", orgID, ErrNotFound)
	}
	docs, err := r.orgRef(orgID).Collection(keyPairsColl).OrderBy("createdAt", firestore.Desc).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list key pairs: %w", err)
	}
	return decodeAll[KeyPair](docs)
}

// GetKeyPair returns one key pair of an organisation.
func (r *Repo) GetKeyPair(ctx context.Context, orgID, id string) (KeyPair, error) {
	if !ids.Valid(ids.Organisation, orgID) || !ids.Valid(ids.APIKey, id) {
		return KeyPair{}, fmt.Errorf("key pair %q: %w", id, ErrNotFound)
	}
	return store.Get[KeyPair](ctx, r.pairRef(orgID, id), "key pair "+id, ErrNotFound)
}

func (r *Repo) getPairTx(tx *firestore.Transaction, orgID, id string) (KeyPair, error) {
	if !ids.Valid(ids.Organisation, orgID) || !ids.Valid(ids.APIKey, id) {
		return KeyPair{}, fmt.Errorf("key pair %q: %w", id, ErrNotFound)
	}
	return store.GetTx[KeyPair](tx, r.pairRef(orgID, id), "key pair "+id, ErrNotFound)
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
	var pair NewKeyPair
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		old, err := r.getPairTx(tx, orgID, id)
		if err != nil {
			return err
		}
		now := r.clock()
		switch old.Status(now) {
		case StatusRevoked:
			return conflict("Key pair %s is revoked and cannot be rotated.", id)
		case StatusExpired, StatusExpiring:
			return conflict("Key pair %s was already rotated or has expired; rotate its replacement instead.", id)
		}
		p, recs, err := r.newPair(orgID, old.Role, old.CreatedBy, now)
		if err != nil {
			return err
		}
		p.Replaces = old.ID
		expires := now.Add(grace)
		p.ReplacedExpiresAt = &expires
		if err := r.createPair(tx, orgID, p, recs); err != nil {
			return err
		}
		if err := tx.Update(r.pairRef(orgID, id), []firestore.Update{
			{Path: "expiresAt", Value: expires}, {Path: "replacedBy", Value: p.ID},
		}); err != nil {
			return err
		}
		for _, h := range []string{old.LiveHash, old.SandboxHash} {
			if err := tx.Update(r.client.Collection(store.APIKeys).Doc(h), []firestore.Update{{Path: "expiresAt", Value: expires}}); err != nil {
				return err
			}
		}
		pair = p
		return nil
	})
	if err != nil {
		return NewKeyPair{}, fmt.Errorf("rotate key pair: %w", err)
	}
	return pair, nil
}

// RevokeKeyPair ends a key pair at once: both key records are marked revoked (instances
// that cached the key notice within auth.CacheTTL) and the pair gets RevokedAt. Revoking
// a revoked pair changes nothing.
func (r *Repo) RevokeKeyPair(ctx context.Context, orgID, id string) error {
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		p, err := r.getPairTx(tx, orgID, id)
		if err != nil {
			return err
		}
		if p.RevokedAt != nil {
			return nil
		}
		now := r.clock()
		if err := tx.Update(r.pairRef(orgID, id), []firestore.Update{{Path: "revokedAt", Value: now}}); err != nil {
			return err
		}
		for _, h := range []string{p.LiveHash, p.SandboxHash} {
			if err := tx.Update(r.client.Collection(store.APIKeys).Doc(h), []firestore.Update{{Path: "revoked", Value: true}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke key pair: %w", err)
	}
	return nil
}
