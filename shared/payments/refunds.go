package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
)

// RefundRequest is the body of POST /v1/payments/{paymentId}/refunds. Amount defaults to
// what is left to refund, AccountID to the organisation's refund account, CallbackURL to
// the organisation's default callback URL.
type RefundRequest struct {
	Amount         string `json:"amount"`
	AccountID      string `json:"accountId"`
	RemittanceInfo string `json:"remittanceInfo"`
	Reason         string `json:"reason"`
	CallbackURL    string `json:"callbackUrl"`
}

// MaxRefundReason bounds a refund's reason.
const MaxRefundReason = 140

// The tenant's refund settings: settings/refunds under the tenant, so a sandbox key names
// the sandbox refund account without touching the live organisation.
const (
	settingsCollection = "settings"
	refundSettingsDoc  = "refunds"
)

type refundSettings struct {
	AccountID string    `firestore:"accountId"`
	UpdatedAt time.Time `firestore:"updatedAt"`
}

// RefundAccount is the tenant's refund account ("" when none is set).
func (s *Store) RefundAccount(ctx context.Context, scope store.Scope) (string, error) {
	snap, err := scope.Collection(settingsCollection).Doc(refundSettingsDoc).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get refund settings: %w", err)
	}
	var rs refundSettings
	if err := snap.DataTo(&rs); err != nil {
		return "", fmt.Errorf("decode refund settings: %w", err)
	}
	return rs.AccountID, nil
}

// SetRefundAccount names the tenant's refund account ("" clears it). The account must be
// one of the tenant's (a 404 otherwise, as for any other organisation's resource).
func (s *Store) SetRefundAccount(ctx context.Context, scope store.Scope, accounts Accounts, accountID string) error {
	if accountID != "" {
		if _, err := refundAccount(ctx, scope, accounts, "refundAccountId", accountID); err != nil {
			return err
		}
	}
	_, err := scope.Collection(settingsCollection).Doc(refundSettingsDoc).Set(ctx, refundSettings{AccountID: accountID, UpdatedAt: s.now()})
	if err != nil {
		return fmt.Errorf("set refund account: %w", err)
	}
	return nil
}

// refundAccount reads an account of the tenant to pay refunds from.
func refundAccount(ctx context.Context, scope store.Scope, accounts Accounts, field, id string) (connections.Account, error) {
	if !ids.Valid(ids.Account, id) {
		return connections.Account{}, httpapi.InvalidField(field, "is not an account ID (acc_…)")
	}
	a, err := accounts.GetAccount(ctx, scope, id)
	if errors.Is(err, connections.ErrNotFound) {
		return connections.Account{}, httpapi.NotFound("Account " + id)
	}
	if err != nil {
		return connections.Account{}, err
	}
	if a.IBAN == "" {
		return connections.Account{}, httpapi.InvalidField(field, "has no IBAN at its bank, so refunds cannot be paid from it")
	}
	return a, nil
}

// refundExceeds is the 422 of a refund over what is left of the payment.
func refundExceeds(left string, currency string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: httpapi.CodeRefundExceedsPayment,
		Message: "The refunds of a payment cannot add up to more than the payment: " + left + " " + currency + " is left to refund.",
		Details: []httpapi.FieldError{{Field: "amount", Message: "must be at most " + left + " (" + currency + ") left to refund"}}}
}

// checkRefundable answers 409 for a payment that cannot be refunded.
func checkRefundable(p Payment) error {
	if p.IsRefund() {
		return httpapi.NotFound("Payment " + p.ID)
	}
	if p.Status != StatusCompleted {
		return httpapi.Conflict("The payment is " + p.Status + "; only COMPLETED payments can be refunded.")
	}
	if p.DebtorIBAN == "" || p.DebtorName == "" {
		return httpapi.Conflict("The payer's account and name are not known (the bank did not tell them), so Tok cannot pay a refund to them.")
	}
	return nil
}

// CreateRefund records a refund of a completed payment and initiates it at the bank of the
// organisation's refund account, awaiting the organisation's SCA. Its amount is checked
// against what is left of the payment and reserved on the payment in one transaction with
// the refund's creation, so concurrent refunds never add up to more than the payment. A bank
// that fails or refuses the initiation ends the refund (FAILED or REJECTED) and gives its
// reservation back.
func (s *Service) CreateRefund(ctx context.Context, scope store.Scope, paymentID string, req RefundRequest, clientIP string) (Payment, error) {
	p, err := s.Store.Get(ctx, scope, paymentID)
	if errors.Is(err, ErrNotFound) {
		return Payment{}, httpapi.NotFound("Payment " + paymentID)
	}
	if err != nil {
		return Payment{}, err
	}
	if err := checkRefundable(p); err != nil {
		return Payment{}, err
	}
	if err := CheckText("reason", req.Reason, MaxRefundReason); err != nil {
		return Payment{}, err
	}
	cur, _ := money.LookupCurrency(p.Currency)
	defaulted := req.Amount == ""
	amount := req.Amount
	if defaulted {
		left := p.Refundable()
		if !left.IsPositive() {
			return Payment{}, refundExceeds(left.StringFixed(cur.MinorUnits), p.Currency)
		}
		amount = left.StringFixed(cur.MinorUnits)
	}
	accountID, field := req.AccountID, "accountId"
	if accountID == "" {
		if accountID, err = s.Store.RefundAccount(ctx, scope); err != nil {
			return Payment{}, err
		}
		if accountID == "" {
			return Payment{}, httpapi.InvalidField("accountId", "is required: the organisation has no refund account (PATCH /v1/organisation with refundAccountId)")
		}
		field = "refundAccountId"
	}
	if explicit, err := money.ParseAmount(amount); err == nil && explicit.GreaterThan(p.Refundable()) {
		// Already too much as the payment stands; the reservation checks again.
		return Payment{}, refundExceeds(p.Refundable().StringFixed(cur.MinorUnits), p.Currency)
	}
	acct, err := refundAccount(ctx, scope, s.Validator.Accounts, field, accountID)
	if err != nil {
		return Payment{}, err
	}
	if acct.Currency != p.Currency {
		return Payment{}, httpapi.InvalidField(field, "holds "+acct.Currency+"; the payment was in "+p.Currency)
	}
	callbackURL := req.CallbackURL
	if callbackURL == "" && s.Validator.Orgs != nil {
		if o, err := s.Validator.Orgs.GetOrg(ctx, scope.Tenant().OrgID); err == nil {
			callbackURL = o.CallbackURL
		}
	}
	remittance := req.RemittanceInfo
	if remittance == "" {
		remittance = "Refund " + p.EndToEndID
	}
	d, err := s.Validator.Validate(ctx, scope, Request{CreditorIBAN: p.DebtorIBAN, CreditorName: p.DebtorName, Amount: amount,
		Currency: p.Currency, RemittanceInfo: remittance, AccountID: acct.ID, CallbackURL: callbackURL})
	if err != nil {
		return Payment{}, err
	}
	t := scope.Tenant()
	now := s.now()
	id := ids.New(ids.Refund)
	r := Payment{
		ID: id, Env: t.Env, OrgID: t.OrgID, Status: StatusAwaiting, RefundOf: p.ID, Reason: req.Reason,
		BankID: d.Bank.ID, AccountID: acct.ID, Product: d.Product, Amount: money.FormatAmount(d.Amount), Currency: d.Currency,
		CreditorIBAN: p.DebtorIBAN, CreditorName: p.DebtorName, DebtorIBAN: acct.IBAN, DebtorName: acct.OwnerName,
		RemittanceInfo: d.RemittanceInfo, EndToEndID: id, CallbackURL: d.CallbackURL,
		AuthorizeBy: now.Add(authstate.TTL), CreatedAt: now, UpdatedAt: now,
		StatusHistory: []Change{{Status: StatusAwaiting, At: now}},
	}
	if err := s.reserve(ctx, scope, &r, defaulted, cur.MinorUnits); err != nil {
		return Payment{}, err
	}
	s.Store.flushLogged(ctx, scope, r)
	return s.initiateRefund(ctx, scope, r, clientIP)
}

// reserve creates the refund and reserves its amount on the payment in one transaction:
// the payment must still be COMPLETED with enough left. A defaulted amount takes what is
// left at that moment.
func (s *Service) reserve(ctx context.Context, scope store.Scope, r *Payment, defaulted bool, minor int32) error {
	unlock, err := s.lockRefunds(ctx, scope, r.RefundOf)
	if err != nil {
		return err
	}
	defer unlock()
	want := *r
	err = s.Store.FS.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		*r = want
		var p Payment
		if err := getTx(tx, scope, r.RefundOf, &p); err != nil {
			return err
		}
		if err := checkRefundable(p); err != nil {
			return err
		}
		left := p.Refundable()
		if defaulted && left.IsPositive() && left.LessThan(amountOf(r.Amount)) {
			r.Amount = money.FormatAmount(left)
		}
		amount := amountOf(r.Amount)
		if amount.GreaterThan(left) {
			return refundExceeds(left.StringFixed(minor), p.Currency)
		}
		p.RefundReserved = money.FormatAmount(amountOf(p.RefundReserved).Add(amount))
		p.UpdatedAt = r.CreatedAt
		if err := r.Enqueue(EventCreated, r.CreatedAt); err != nil {
			return err
		}
		if err := tx.Set(ref(scope, p.ID), p); err != nil {
			return err
		}
		return tx.Create(ref(scope, r.ID), *r)
	}, firestore.MaxAttempts(refundAttempts))
	if err != nil {
		var he *httpapi.Error
		if errors.As(err, &he) {
			return he
		}
		return fmt.Errorf("reserve refund of %s: %w", r.RefundOf, err)
	}
	return nil
}

// refundAttempts bounds the retries of a contended reservation.
const refundAttempts = 10

// refundLocks holds one short-lived lock document per payment whose refunds are being
// reserved (refundLocks/{paymentId} under the tenant).
const refundLocks = "refundLocks"

// lockTTL bounds how long a dead holder keeps a payment's refund lock.
const lockTTL = 5 * time.Second

// lockRefunds queues the reservations of one payment's refunds, across instances, before
// their transaction: many transactions contending for one document abort each other
// (Firestore retries them with backoff; the emulator waits out a lock timeout for each),
// while waiting for a create to succeed costs milliseconds. The transaction alone decides
// what may be refunded; the lock only spares it the contention. A holder that died leaves
// the lock for lockTTL.
func (s *Service) lockRefunds(ctx context.Context, scope store.Scope, paymentID string) (func(), error) {
	// Requests of this instance queue in memory first, so only one of them at a time waits
	// on the document.
	ref := scope.Collection(refundLocks).Doc(paymentID)
	release, err := localLocks.lock(ctx, ref.Path)
	if err != nil {
		return nil, err
	}
	unlock, err := lockDoc(ctx, ref, paymentID)
	if err != nil {
		release()
		return nil, err
	}
	return func() { unlock(); release() }, nil
}

func lockDoc(ctx context.Context, ref *firestore.DocumentRef, paymentID string) (func(), error) {
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		_, err := ref.Create(ctx, map[string]any{"until": time.Now().Add(lockTTL)})
		if err == nil {
			return func() {
				// Released even when the request has ended, within the lock's own TTL.
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTTL)
				defer cancel()
				if _, err := ref.Delete(dctx); err != nil {
					slog.WarnContext(ctx, "refund lock not released; it lapses", "paymentId", paymentID, "error", err)
				}
			}, nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return nil, fmt.Errorf("lock refunds of %s: %w", paymentID, err)
		}
		if snap, err := ref.Get(ctx); err == nil {
			if until, ok := snap.Data()["until"].(time.Time); ok && time.Now().After(until) {
				_, _ = ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime)) // a dead holder's
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// initiateRefund sends a recorded refund to the bank of its account and records the SCA
// redirect with its single-use state.
func (s *Service) initiateRefund(ctx context.Context, scope store.Scope, r Payment, clientIP string) (Payment, error) {
	conn, err := s.Connectors.For(r.Env, r.BankID)
	if err != nil {
		return Payment{}, err
	}
	state := bank.NewState()
	verifier, challenge := bank.NewPKCE()
	t := r.transfer()
	t.ExecutionDate = "" // a refund executes at once
	started, bankErr := conn.InitiatePayment(ctx, bank.Session{PSUPresent: true, PSUIPAddress: clientIP},
		bank.PaymentRequest{Transfer: t, RedirectURI: s.callbackURI(), State: state, CodeChallenge: challenge})
	if bankErr != nil {
		c := Change{Status: StatusFailed, Reason: ReasonBankUnavailable}
		if k := bank.KindOf(bankErr); k == bank.Rejected || k == bank.Invalid {
			c = Change{Status: StatusRejected, BankStatus: bank.PaymentRejected, Reason: ReasonBankRejected}
		}
		ended, err := s.Store.Advance(ctx, scope, r.ID, c, nil)
		if err != nil {
			return Payment{}, err
		}
		if c.Status == StatusFailed {
			return Payment{}, connectors.APIError(bankErr)
		}
		slog.InfoContext(ctx, "refund refused by the bank", "refundId", r.ID, "error", bankErr)
		return ended, nil
	}
	sealed, err := s.States.SealVerifier(ctx, r.ID, verifier)
	if err != nil {
		return Payment{}, err
	}
	hash := authstate.Hash(state)
	out, _, err := s.Store.UpdateTx(ctx, scope, r.ID, func(tx *firestore.Transaction, r *Payment, now time.Time) (bool, error) {
		if r.Status != StatusAwaiting || r.BankPaymentID != "" {
			return false, nil
		}
		r.BankPaymentID, r.BankStatus, r.RedirectURL, r.StateHash = started.BankPaymentID, started.Status, started.AuthorizeURL, hash
		r.StatusHistory[len(r.StatusHistory)-1].BankStatus = started.Status
		r.UpdatedAt = now
		return true, s.States.Create(tx, hash, authstate.State{Env: r.Env, OrgID: r.OrgID, PaymentID: r.ID, Verifier: sealed,
			ExpiresAt: r.AuthorizeBy, CreatedAt: now})
	})
	if err != nil {
		return Payment{}, err
	}
	slog.InfoContext(ctx, "refund initiated", "refundId", out.ID, "paymentId", out.RefundOf, "bankId", out.BankID)
	return out, nil
}

// keyedLocks are in-process locks by key; an entry lives while someone holds or waits.
type keyedLocks struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	ch      chan struct{} // holds a token while the lock is free
	waiters int
}

var localLocks = &keyedLocks{locks: map[string]*keyedLock{}}

func (k *keyedLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		l.ch <- struct{}{}
		k.locks[key] = l
	}
	l.waiters++
	k.mu.Unlock()
	done := func() {
		k.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case <-l.ch:
		return func() { l.ch <- struct{}{}; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
