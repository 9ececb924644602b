package vrp

import (
	"context"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
)

// A VRP consent created without bankId and accountId waits for the customer on Tok's hosted
// pages (functions/hostedpages): they pick a country and a bank offering VRP, see the
// mandate's limits, and go on to the bank's SCA (ChooseBank) or cancel (Deny).

// recordHosted records c without a bank, awaiting the customer's choice on the hosted pages:
// its redirectUrl is the session's single-use link.
func (s *Service) recordHosted(ctx context.Context, scope store.Scope, c Consent, locale string) (Consent, error) {
	err := payments.RecordHosted(ctx, s.fs(), scope, s.Payments.PublicURL, payments.HostedRecord{Kind: hosted.KindVRPConsent, What: "vrp consent", ID: c.ID,
		LogKey: "vrpConsentId", Locale: locale, Created: c.CreatedAt, Ref: consentRef(scope, c.ID),
		Open: func(link string, expires time.Time) any { c.RedirectURL, c.AuthorizeBy = link, expires; return c }})
	if err != nil {
		return Consent{}, err
	}
	return c, nil
}

// AwaitingBank reports whether c still waits, at now, for the customer to pick its bank.
func AwaitingBank(c Consent, now time.Time) bool {
	return c.Status == StatusAwaiting && c.BankID == "" && now.Before(c.AuthorizeBy)
}

// awaitingTx runs fn in a transaction on a consent still awaiting its bank, then writes the
// consent fn changed; ErrNotAwaiting when it no longer awaits.
func (s *Service) awaitingTx(ctx context.Context, scope store.Scope, id string, fn func(tx *firestore.Transaction, c *Consent, now time.Time) error) (Consent, error) {
	return s.updateTx(ctx, scope, id, func(tx *firestore.Transaction, c *Consent, now time.Time) (bool, error) {
		if !AwaitingBank(*c, now) {
			return false, ErrNotAwaiting
		}
		c.UpdatedAt = now
		return true, fn(tx, c, now)
	})
}

// ChooseBank registers the mandate of a consent awaiting its bank at the customer's choice
// bankID (the customer present at psuIP) and returns the bank's SCA page. finish runs in the
// transaction that records the choice (the hosted session ends there). A consent no longer
// awaiting its bank is ErrNotAwaiting.
func (s *Service) ChooseBank(ctx context.Context, scope store.Scope, id, bankID, psuIP string, finish func(*firestore.Transaction) error) (string, error) {
	c, err := s.Get(ctx, scope, id)
	if err != nil {
		return "", err
	}
	if !AwaitingBank(c, s.now()) {
		return "", ErrNotAwaiting
	}
	b, err := s.Payments.Validator.Banks.Bank(c.Env, bankID)
	if err != nil || !b.Services.VRP {
		return "", httpapi.InvalidField("bankId", "is not a bank offering variable recurring payments in this environment")
	}
	chosen := c
	chosen.BankID = b.ID
	st, err := s.atBank(ctx, &chosen, psuIP, s.now())
	if err != nil {
		return "", err
	}
	_, err = s.awaitingTx(ctx, scope, id, func(tx *firestore.Transaction, cur *Consent, _ time.Time) error {
		if err := finish(tx); err != nil {
			return err
		}
		if err := s.Payments.States.Create(tx, chosen.StateHash, st); err != nil {
			return err
		}
		cur.BankID, cur.BankMandateID, cur.RedirectURL = chosen.BankID, chosen.BankMandateID, chosen.RedirectURL
		cur.AuthorizeBy, cur.StateHash = chosen.AuthorizeBy, chosen.StateHash
		return nil
	})
	if err != nil {
		return "", err
	}
	slog.InfoContext(ctx, "vrp mandate requested at the customer's bank", "vrpConsentId", id, "bankId", b.ID)
	return chosen.RedirectURL, nil
}

// Deny ends a consent awaiting its bank as the customer asked on the hosted pages (REJECTED,
// DENIED_BY_USER), with finish run in the same transaction, and returns the callbackUrl to
// send the browser to.
func (s *Service) Deny(ctx context.Context, scope store.Scope, id string, finish func(*firestore.Transaction) error) (string, error) {
	c, err := s.awaitingTx(ctx, scope, id, func(tx *firestore.Transaction, c *Consent, now time.Time) error {
		if err := finish(tx); err != nil {
			return err
		}
		c.Status, c.StatusReason, c.RedirectURL, c.EndedAt = StatusRejected, payments.ReasonDeniedByUser, "", &now
		return nil
	})
	if err != nil {
		return "", err
	}
	return callbackRedirect(c)
}
