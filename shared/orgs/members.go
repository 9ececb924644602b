package orgs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
)

func (r *Repo) memberRef(orgID, id string) *firestore.DocumentRef {
	return r.orgRef(orgID).Collection(membersColl).Doc(id)
}

// emailRef is the document that makes an email unique in its organisation, ignoring case:
// its ID is a hash of the lower-cased email, so any address is a valid document ID.
func (r *Repo) emailRef(orgID, email string) *firestore.DocumentRef {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return r.orgRef(orgID).Collection(memberEmailsColl).Doc(hex.EncodeToString(sum[:]))
}

type emailClaim struct {
	MemberID string `firestore:"memberId"`
}

// AddMember adds a member with role owner, admin, developer or viewer. The email must be
// unique in the organisation, ignoring case (ErrConflict otherwise).
func (r *Repo) AddMember(ctx context.Context, orgID, email, role string) (Member, error) {
	if err := CheckEmail(email); err != nil {
		return Member{}, err
	}
	if err := ValidateMemberRole(role); err != nil {
		return Member{}, err
	}
	var m Member
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		if err := r.requireOrg(tx, orgID); err != nil {
			return err
		}
		if _, err := tx.Get(r.emailRef(orgID, email)); err == nil {
			return conflict("A member with the email %s already exists.", email)
		} else if !isNotFound(err) {
			return err
		}
		now := r.clock()
		m = Member{ID: ids.New(ids.Member), Email: email, Role: role, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(r.emailRef(orgID, email), emailClaim{MemberID: m.ID}); err != nil {
			return err
		}
		return tx.Create(r.memberRef(orgID, m.ID), m)
	})
	if err != nil {
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	return m, nil
}

// ListMembers returns an organisation's members, oldest first.
func (r *Repo) ListMembers(ctx context.Context, orgID string) ([]Member, error) {
	if !ids.Valid(ids.Organisation, orgID) {
		return nil, fmt.Errorf("organisation %q: %w", orgID, ErrNotFound)
	}
	docs, err := r.orgRef(orgID).Collection(membersColl).OrderBy("createdAt", firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return decodeAll[Member](docs)
}

// GetMember returns one member of an organisation.
func (r *Repo) GetMember(ctx context.Context, orgID, id string) (Member, error) {
	if !ids.Valid(ids.Organisation, orgID) || !ids.Valid(ids.Member, id) {
		return Member{}, fmt.Errorf("member %q: %w", id, ErrNotFound)
	}
	return store.Get[Member](ctx, r.memberRef(orgID, id), "member "+id, ErrNotFound)
}

func (r *Repo) getMemberTx(tx *firestore.Transaction, orgID, id string) (Member, error) {
	if !ids.Valid(ids.Organisation, orgID) || !ids.Valid(ids.Member, id) {
		return Member{}, fmt.Errorf("member %q: %w", id, ErrNotFound)
	}
	return store.GetTx[Member](tx, r.memberRef(orgID, id), "member "+id, ErrNotFound)
}

// ownerCount reads, in tx, how many owners the organisation has. Reading them in the
// transaction makes two concurrent removals of different owners conflict.
func (r *Repo) ownerCount(tx *firestore.Transaction, orgID string) (int, error) {
	docs, err := all(tx.Documents(r.orgRef(orgID).Collection(membersColl).Where("role", "==", MemberOwner)))
	if err != nil {
		return 0, err
	}
	return len(docs), nil
}

// UpdateMember changes a member's role. The last owner cannot be demoted (ErrConflict).
func (r *Repo) UpdateMember(ctx context.Context, orgID, id, role string) (Member, error) {
	if err := ValidateMemberRole(role); err != nil {
		return Member{}, err
	}
	var m Member
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		cur, err := r.getMemberTx(tx, orgID, id)
		if err != nil {
			return err
		}
		if cur.Role == MemberOwner && role != MemberOwner {
			n, err := r.ownerCount(tx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return conflict("Member %s is the organisation's last owner and cannot be demoted; make another member owner first.", id)
			}
		}
		cur.Role, cur.UpdatedAt = role, r.clock()
		m = cur
		return tx.Update(r.memberRef(orgID, id), []firestore.Update{{Path: "role", Value: role}, {Path: "updatedAt", Value: cur.UpdatedAt}})
	})
	if err != nil {
		return Member{}, fmt.Errorf("update member: %w", err)
	}
	return m, nil
}

// RemoveMember removes a member. The last owner cannot be removed (ErrConflict). Key pairs
// the member created stay; revoke them separately.
func (r *Repo) RemoveMember(ctx context.Context, orgID, id string) error {
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		cur, err := r.getMemberTx(tx, orgID, id)
		if err != nil {
			return err
		}
		if cur.Role == MemberOwner {
			n, err := r.ownerCount(tx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return conflict("Member %s is the organisation's last owner and cannot be removed; make another member owner first.", id)
			}
		}
		if err := tx.Delete(r.emailRef(orgID, cur.Email)); err != nil {
			return err
		}
		return tx.Delete(r.memberRef(orgID, id))
	})
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	return nil
}
