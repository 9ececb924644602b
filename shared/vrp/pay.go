package vrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/vrplimits"
)

// CodeLimitExceeded answers a VRP payment over one of its consent's limits (422).
const CodeLimitExceeded = "LIMIT_EXCEEDED"

// PayRequest is the body of POST /v1/vrps.
type PayRequest struct {
	ConsentID      string `json:"consentId"`
	Amount         string `json:"amount"`
	Currency       string `json:"currency"`
	RemittanceInfo string `json:"remittanceInfo"`
	EndToEndID     string `json:"endToEndId"`
	// ConfirmFunds asks the bank's confirmation of funds for the mandate first.
	ConfirmFunds bool `json:"confirmFunds"`
}

// usable answers why no payment can be made under c now, or nil.
func usable(c Consent, now time.Time) error {
	switch st, _ := c.EffectiveStatus(now); st {
	case StatusAuthorized:
		return nil
	case StatusRevoked:
		return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeConsentRevoked, Message: "The VRP consent was revoked; nothing was sent."}
	case StatusExpired:
		return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeConsentExpired, Message: "The VRP consent has expired; nothing was sent."}
	default:
		return httpapi.Conflict("The VRP consent is " + st + "; payments need an AUTHORIZED consent.")
	}
}

// limitExceeded is the 422 of a payment over limit v, saying what is left.
func limitExceeded(l vrplimits.Limits, c Consent, v *vrplimits.Violation) *httpapi.Error {
	amount := func(n int64) string { return l.Major(n).StringFixed(l.Currency.MinorUnits) + " " + l.Currency.Code }
	field, msg := v.Limit, ""
	switch v.Limit {
	case vrplimits.LimitMaxIndividual:
		msg = "a payment may be at most " + amount(v.Remaining)
	case vrplimits.LimitMinIndividual:
		msg = "a payment must be at least " + amount(l.Minor(l.MinIndividual))
	case vrplimits.LimitOccurrences:
		msg = fmt.Sprintf("all %d payments the consent allows are made", l.MaxOccurrences)
	case vrplimits.LimitValidity:
		field, msg = "startDateTime", "payments can be made from "+l.From.Format(time.RFC3339)
		if !l.To.IsZero() {
			msg += " until " + l.To.Format(time.RFC3339)
		}
	case vrplimits.LimitPeriodic:
		p := c.PeriodicLimits[v.Index]
		field = fmt.Sprintf("periodicLimits[%d]", v.Index)
		msg = amount(v.Remaining) + " is left of the " + p.PeriodType + " (" + p.PeriodAlignment + ") limit of " +
			amount(l.Minor(l.Periodic[v.Index].Max)) + " until it resets at " + v.ResetsAt.In(l.Location).Format(time.RFC3339)
	default:
		msg = "the payment's currency must be " + l.Currency.Code
	}
	return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: CodeLimitExceeded,
		Message: "The payment is over the VRP consent's " + field + ": " + msg + ". Nothing was sent.",
		Details: []httpapi.FieldError{{Field: field, Message: msg}}}
}

// Pay makes a payment under a consent with no customer present: the request is validated,
// checked against every limit and reserved in one transaction with the payment record
// (PENDING, payment.created), then sent to the bank. A bank that refuses gives a REJECTED
// payment (the reservation released); a bank that does not answer leaves it PENDING and
// reserved for the status worker, which sends it again under the same idempotency key.
//
// The payment's ID is derived from the tenant, the consent, idempotencyKey and the request,
// so a retry after an answer that never arrived (a 5xx, a commit whose outcome was lost)
// finds the payment instead of making another. Once the reservation is committed the answer
// is 201 whatever the bank did: the payment exists and the status worker finishes it.
func (s *Service) Pay(ctx context.Context, scope store.Scope, req PayRequest, idempotencyKey string) (payments.Payment, error) {
	if req.ConsentID == "" {
		return payments.Payment{}, httpapi.InvalidField("consentId", "is required")
	}
	if !ids.Valid(ids.VRPConsent, req.ConsentID) {
		return payments.Payment{}, httpapi.InvalidField("consentId", "is not a VRP consent ID (vrc_…)")
	}
	cur, ok := money.LookupCurrency(req.Currency)
	if !ok {
		return payments.Payment{}, httpapi.InvalidField("currency", "must be an ISO 4217 currency code in upper case, like \"EUR\"")
	}
	amount, err := payments.CheckAmount(req.Amount, cur)
	if err != nil {
		return payments.Payment{}, err
	}
	if err := payments.CheckText("remittanceInfo", req.RemittanceInfo, payments.MaxRemittanceInfo); err != nil {
		return payments.Payment{}, err
	}
	e2e, err := payments.CheckEndToEndID(req.EndToEndID)
	if err != nil {
		return payments.Payment{}, err
	}
	c, err := s.Get(ctx, scope, req.ConsentID)
	if errors.Is(err, ErrNotFound) {
		return payments.Payment{}, httpapi.NotFound("VRP consent " + req.ConsentID)
	}
	if err != nil {
		return payments.Payment{}, err
	}
	if err := usable(c, s.now()); err != nil {
		return payments.Payment{}, err
	}
	if cur.Code != c.Currency {
		return payments.Payment{}, httpapi.InvalidField("currency", "must be the VRP consent's currency ("+c.Currency+")")
	}
	if req.ConfirmFunds {
		ok, err := s.funds(ctx, scope, c, amount)
		if err != nil {
			return payments.Payment{}, err
		}
		if !ok {
			return payments.Payment{}, &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: httpapi.CodeInsufficientFunds,
				Message: "The bank says the account does not cover the amount; nothing was sent."}
		}
	}
	remittance := strings.TrimSpace(req.RemittanceInfo)
	if remittance == "" {
		remittance = c.RemittanceInfo
	}
	t := scope.Tenant()
	id := ids.Derive(ids.Payment, t.Env, t.OrgID, c.ID, idempotencyKey, money.FormatAmount(amount), cur.Code, remittance, e2e)
	p, fresh, err := s.reserve(scope, c.ID, request{id: id, amount: amount, remittance: remittance, e2e: e2e})
	if err != nil {
		return payments.Payment{}, err
	}
	if !fresh {
		return p, nil // made by an earlier attempt of this request
	}
	// The payment exists from here on: what follows runs on its own deadline and never
	// turns into an error answer, which would invite a retry.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	slog.InfoContext(ctx, "vrp payment reserved", "paymentId", p.ID, "vrpConsentId", c.ID)
	if err := s.Payments.Store.Flush(ctx, scope, p); err != nil {
		slog.WarnContext(ctx, "payment events left in the outbox for the sweep", "paymentId", p.ID, "error", err)
	}
	if sent, err := s.Follow(ctx, scope, p); err != nil {
		slog.WarnContext(ctx, "vrp payment not sent yet; the status worker sends it", "paymentId", p.ID, "error", err)
	} else {
		p = sent
	}
	if !payments.Final(p.Status) && s.Payments.Polls != nil {
		if err := s.Payments.Polls.Publish(ctx, payments.PollRequest{Env: p.Env, OrgID: p.OrgID, PaymentID: p.ID}); err != nil {
			slog.ErrorContext(ctx, "payment poll not requested; the sweep picks the payment up", "paymentId", p.ID, "error", err)
		}
	}
	return p, nil
}

// sendTimeout bounds the first send of a reserved payment within its request.
const sendTimeout = 5 * time.Second

// Follow takes a VRP payment one step: it sends a payment the bank has not acknowledged
// (under its ID as the idempotency key, so a repeat after a crash or a timeout pays once)
// or asks the bank for the status of one it has, and applies the answer. A bank that does
// not answer changes nothing: the payment stays PENDING and reserved, and is asked again.
func (s *Service) Follow(ctx context.Context, scope store.Scope, p payments.Payment) (payments.Payment, error) {
	c, err := s.Get(ctx, scope, p.VRPConsentID)
	if err != nil {
		return p, err
	}
	conn, err := s.Payments.Connectors.For(p.Env, c.BankID)
	if err != nil {
		return p, err
	}
	sess, err := s.session(ctx, scope, c, conn)
	if err != nil {
		slog.WarnContext(ctx, "vrp payment: no bank session; asking again later", "paymentId", p.ID, "error", err)
		return p, nil
	}
	if p.BankPaymentID != "" {
		ps, err := conn.VRPStatus(ctx, sess, p.BankPaymentID)
		if err != nil {
			slog.WarnContext(ctx, "vrp payment status call failed; asking again later", "paymentId", p.ID, "error", err)
			return p, nil
		}
		return s.Payments.Store.Advance(ctx, scope, p.ID, payments.FromBank(ps, false), nil)
	}
	amount, err := decimal.NewFromString(p.Amount)
	if err != nil {
		return p, fmt.Errorf("vrp payment %s amount: %w", p.ID, err)
	}
	started, err := conn.InitiateVRP(ctx, sess, bank.VRPRequest{IdempotencyKey: p.ID, Amount: amount, Currency: p.Currency,
		RemittanceInfo: p.RemittanceInfo, EndToEndID: p.EndToEndID})
	switch k := bank.KindOf(err); {
	case err == nil:
		return s.accepted(ctx, scope, p.ID, started)
	case k == bank.Rejected || k == bank.Invalid || k == bank.ConsentRevoked || k == bank.ConsentExpired:
		// The bank refused the request itself (its idempotency key finds no earlier payment).
		reason := payments.ReasonBankRejected
		var be *bank.Error
		if errors.As(err, &be) && be.BankCode == "FUNDS_NOT_AVAILABLE" {
			reason = payments.ReasonInsufficientFunds
		}
		slog.InfoContext(ctx, "vrp payment refused by the bank", "paymentId", p.ID, "error", err)
		if _, _, err := s.EndAtBank(ctx, scope, c.ID, err, ""); err != nil {
			return p, err
		}
		return s.Payments.Store.Advance(ctx, scope, p.ID, payments.Change{Status: payments.StatusRejected, Reason: reason}, nil)
	default:
		slog.WarnContext(ctx, "vrp payment not acknowledged by the bank; it stays reserved and is sent again", "paymentId", p.ID, "error", err)
		return p, nil
	}
}

// accepted records the bank's payment ID and status; the first acknowledgement publishes
// payment.authorized (the consent authorised it) unless the bank rejected it.
func (s *Service) accepted(ctx context.Context, scope store.Scope, id string, started bank.VRPStart) (payments.Payment, error) {
	p, _, err := s.Payments.Store.Update(ctx, scope, id, func(p *payments.Payment, now time.Time) (bool, error) {
		first := p.BankPaymentID == ""
		p.BankPaymentID = started.BankPaymentID
		types, changed := p.Advance(payments.FromBank(started.State, false), now)
		if first && p.Status != payments.StatusRejected {
			types = append([]string{payments.EventAuthorized}, types...)
		}
		for _, typ := range types {
			if err := p.Enqueue(typ, now); err != nil {
				return false, err
			}
		}
		return first || changed, nil
	})
	return p, err
}

// funds asks the bank whether the mandate's account covers amount.
func (s *Service) funds(ctx context.Context, scope store.Scope, c Consent, amount decimal.Decimal) (bool, error) {
	conn, sess, err := s.connect(ctx, scope, c)
	if err != nil {
		return false, err
	}
	ok, err := conn.ConfirmVRPFunds(ctx, sess, amount, c.Currency)
	if err != nil {
		if c, ended, endErr := s.EndAtBank(ctx, scope, c.ID, err, ""); endErr == nil && (ended || c.Status != StatusAuthorized) {
			return false, usable(c, s.now())
		}
		return false, connectors.APIError(err)
	}
	return ok, nil
}

// ConfirmFunds answers POST /v1/vrp-consents/{id}/confirm-funds: whether the mandate's
// account covers amount now (nothing is reserved).
func (s *Service) ConfirmFunds(ctx context.Context, scope store.Scope, id, rawAmount string) (bool, error) {
	c, err := s.Get(ctx, scope, id)
	if errors.Is(err, ErrNotFound) {
		return false, httpapi.NotFound("VRP consent " + id)
	}
	if err != nil {
		return false, err
	}
	if err := usable(c, s.now()); err != nil {
		return false, err
	}
	cur, _ := money.LookupCurrency(c.Currency)
	amount, err := payments.CheckAmount(rawAmount, cur)
	if err != nil {
		return false, err
	}
	return s.funds(ctx, scope, c, amount)
}
