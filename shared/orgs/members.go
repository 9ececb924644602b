package orgs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
)

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
	return changed(ctx, r, "add member", func(tx *firestore.Transaction) (Member, error) {
		if _, err := r.getOrgTx(tx, orgID); err != nil {
			return Member{}, err
		}
		if _, err := tx.Get(r.emailRef(orgID, email)); err == nil {
			return Member{}, conflict("A member with the email %s already exists.", email)
		} else if !isNotFound(err) {
			return Member{}, err
		}
		now := r.clock()
		m := Member{ID: ids.New(ids.Member), Email: email, Role: role, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(r.emailRef(orgID, email), emailClaim{MemberID: m.ID}); err != nil {
			return Member{}, err
		}
		return m, tx.Create(members.ref(r, orgID, m.ID), m)
	})
}

// ListMembers returns an organisation's members, oldest first.
func (r *Repo) ListMembers(ctx context.Context, orgID string) ([]Member, error) {
	return members.list(ctx, r, orgID)
}

// GetMember returns one member of an organisation.
func (r *Repo) GetMember(ctx context.Context, orgID, id string) (Member, error) {
	return members.get(ctx, r, orgID, id)
}

// keepAnOwner refuses (ErrConflict) to let owner id be demoted or removed (change) when it
// is the organisation's last. It reads the owners in tx, which makes two concurrent changes
// of different owners conflict.
func (r *Repo) keepAnOwner(tx *firestore.Transaction, orgID, id, change string) error {
	docs, err := tx.Documents(r.orgRef(orgID).Collection(membersColl).Where("role", "==", MemberOwner)).GetAll()
	if err != nil {
		return err
	}
	if len(docs) <= 1 {
		return conflict("Member %s is the organisation's last owner and cannot be %s; make another member owner first.", id, change)
	}
	return nil
}

// UpdateMember changes a member's role. The last owner cannot be demoted (ErrConflict).
func (r *Repo) UpdateMember(ctx context.Context, orgID, id, role string) (Member, error) {
	if err := ValidateMemberRole(role); err != nil {
		return Member{}, err
	}
	return changeOne(ctx, r, members, "update member", orgID, id, func(tx *firestore.Transaction, cur Member) (Member, error) {
		if cur.Role == MemberOwner && role != MemberOwner {
			if err := r.keepAnOwner(tx, orgID, id, "demoted"); err != nil {
				return Member{}, err
			}
		}
		cur.Role, cur.UpdatedAt = role, r.clock()
		return cur, tx.Update(members.ref(r, orgID, id), []firestore.Update{{Path: "role", Value: role}, {Path: "updatedAt", Value: cur.UpdatedAt}})
	})
}

// RemoveMember removes a member. The last owner cannot be removed (ErrConflict). Key pairs
// the member created stay; revoke them separately.
func (r *Repo) RemoveMember(ctx context.Context, orgID, id string) error {
	_, err := changeOne(ctx, r, members, "remove member", orgID, id, func(tx *firestore.Transaction, cur Member) (struct{}, error) {
		if cur.Role == MemberOwner {
			if err := r.keepAnOwner(tx, orgID, id, "removed"); err != nil {
				return struct{}{}, err
			}
		}
		if err := tx.Delete(r.emailRef(orgID, cur.Email)); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.Delete(members.ref(r, orgID, id))
	})
	return err
}
