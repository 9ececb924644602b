package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
)

// recordHosted records p without a bank, awaiting the customer's choice on Tok's hosted
// pages: its redirectUrl is the session's single-use link.
func (s *Service) recordHosted(ctx context.Context, scope store.Scope, p Payment, locale string) (Payment, error) {
	err := RecordHosted(ctx, s.Store.FS, scope, s.PublicURL, HostedRecord{Kind: hosted.KindPayment, What: "payment", ID: p.ID, LogKey: "paymentId",
		Locale: locale, Created: p.CreatedAt, Ref: ref(scope, p.ID),
		Open: func(link string, expires time.Time) any { p.RedirectURL, p.AuthorizeBy = link, expires; return p }})
	if err != nil {
		return Payment{}, err
	}
	s.Store.flushLogged(ctx, scope, p)
	return p, nil
}

// HostedRecord is a record (a payment, a VRP consent) created without a bank, awaiting the
// customer's choice on Tok's hosted pages.
type HostedRecord struct {
	Kind    string // hosted.KindPayment, hosted.KindVRPConsent
	What    string // the record as errors and the log name it, e.g. "vrp consent"
	ID      string
	LogKey  string // the ID's attribute in the log, e.g. "paymentId"
	Locale  string // the pages' language ("" to follow the browser)
	Created time.Time
	Ref     *firestore.DocumentRef
	// Open is the record to create, given its redirectUrl (the session's single-use link)
	// and authorizeBy (the session's expiry).
	Open func(link string, expires time.Time) any
}

// RecordHosted creates h's record and its hosted-pages session in one transaction: both
// or neither.
func RecordHosted(ctx context.Context, fs *firestore.Client, scope store.Scope, publicURL string, h HostedRecord) error {
	sess, secret := hosted.New(scope.Tenant(), h.Kind, h.ID, h.Locale, h.Created)
	rec := h.Open(sess.Link(publicURL, secret), sess.ExpiresAt)
	err := fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(h.Ref, rec); err != nil {
			return err
		}
		return hosted.Store{Client: fs}.Create(tx, sess)
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", h.What, err)
	}
	slog.InfoContext(ctx, h.What+" awaiting the customer's bank on the hosted pages", h.LogKey, h.ID, "hostedSession", sess.ID)
	return nil
}

// draftOf is the validated request a payment awaiting its bank was recorded from.
func draftOf(p Payment) (Draft, money.Currency, error) {
	cur, ok := money.LookupCurrency(p.Currency)
	if !ok {
		return Draft{}, money.Currency{}, fmt.Errorf("payment %s: stored currency %q is unknown", p.ID, p.Currency)
	}
	amount, err := money.ParseAmount(p.Amount)
	if err != nil {
		return Draft{}, money.Currency{}, fmt.Errorf("payment %s: stored amount: %w", p.ID, err)
	}
	t := p.transfer()
	t.Product, t.Amount, t.Currency = "", amount, cur.Code
	return Draft{Transfer: t, Instant: p.Instant, CallbackURL: p.CallbackURL}, cur, nil
}

// Offers reports whether bank b can take payment p: payment initiation, a product for its
// currency (instant when asked) and the amount within the bank's maximum. The hosted pages
// list only such banks.
func Offers(p Payment, b bankcatalog.Bank) bool {
	d, cur, err := draftOf(p)
	if err != nil {
		return false
	}
	d.Bank = b
	return checkBank(&d, cur) == nil
}

// awaitingBank reports whether p still waits for the customer to pick its bank.
func awaitingBank(p Payment) bool { return p.Status == StatusAwaiting && p.BankID == "" }

// ChooseBank initiates a payment recorded without a bank at the customer's choice bankID
// (the customer present at psuIP), and returns where to send the browser: the bank's SCA
// page, or the callbackUrl if the bank refused the payment outright. finish runs in the
// transaction that records the choice (the hosted session ends there). A payment no longer
// awaiting its bank is ErrNotAwaiting.
func (s *Service) ChooseBank(ctx context.Context, scope store.Scope, id, bankID, psuIP string, finish func(*firestore.Transaction) error) (string, error) {
	p, err := s.Store.Get(ctx, scope, id)
	if err != nil {
		return "", err
	}
	if !awaitingBank(p) {
		return "", ErrNotAwaiting
	}
	d, cur, err := draftOf(p)
	if err != nil {
		return "", err
	}
	if d.Bank, err = s.Validator.Banks.Bank(p.Env, bankID); err != nil {
		return "", httpapi.InvalidField("bankId", "is not a bank of this environment")
	}
	if err := checkBank(&d, cur); err != nil {
		return "", err
	}
	now := s.now()
	chosen := p
	verifier, refusal, err := s.atBank(ctx, &chosen, d, psuIP, now)
	if err != nil {
		return "", err
	}
	var st authstate.State
	if refusal == nil {
		if st, err = s.stateOf(ctx, chosen, verifier); err != nil {
			return "", err
		}
	}
	out, _, err := s.Store.UpdateTx(ctx, scope, id, func(tx *firestore.Transaction, cur *Payment, now time.Time) (bool, error) {
		if !awaitingBank(*cur) {
			return false, ErrNotAwaiting
		}
		if err := finish(tx); err != nil {
			return false, err
		}
		if refusal == nil {
			if err := s.States.Create(tx, chosen.StateHash, st); err != nil {
				return false, err
			}
		}
		cur.BankID, cur.Product, cur.Instant, cur.BankStatus = chosen.BankID, chosen.Product, chosen.Instant, chosen.BankStatus
		cur.RedirectURL, cur.BankPaymentID, cur.AuthorizeBy, cur.StateHash = chosen.RedirectURL, chosen.BankPaymentID, chosen.AuthorizeBy, chosen.StateHash
		cur.StatusHistory, cur.UpdatedAt = chosen.StatusHistory, now
		if refusal != nil {
			return true, cur.settle(*refusal, now)
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	slog.InfoContext(ctx, "payment initiated at the customer's bank", "paymentId", id, "bankId", bankID, "product", out.Product, "status", out.Status)
	if refusal != nil {
		return callbackRedirect(out)
	}
	return out.RedirectURL, nil
}

// Deny ends a payment awaiting its bank as the customer asked on the hosted pages
// (REJECTED, DENIED_BY_USER), with finish run in the same transaction, and returns the
// callbackUrl to send the browser to.
func (s *Service) Deny(ctx context.Context, scope store.Scope, id string, finish func(*firestore.Transaction) error) (string, error) {
	out, _, err := s.Store.UpdateTx(ctx, scope, id, func(tx *firestore.Transaction, cur *Payment, now time.Time) (bool, error) {
		if !awaitingBank(*cur) || !now.Before(cur.AuthorizeBy) {
			return false, ErrNotAwaiting
		}
		if err := finish(tx); err != nil {
			return false, err
		}
		return true, cur.settle(Change{Status: StatusRejected, Reason: ReasonDeniedByUser}, now)
	})
	if errors.Is(err, ErrNotAwaiting) {
		return "", ErrNotAwaiting
	}
	if err != nil {
		return "", err
	}
	return callbackRedirect(out)
}
