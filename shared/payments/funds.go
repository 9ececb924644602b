package payments

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
)

// FundsRequest is the body of POST /v1/funds-confirmations.
type FundsRequest struct {
	AccountID string `json:"accountId"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
}

// FundsAnswer is the answer of a confirmation of funds (of an account, or under a VRP
// consent).
type FundsAnswer struct {
	CheckedAt      time.Time `json:"checkedAt"`
	FundsAvailable bool      `json:"fundsAvailable"`
}

// AnswerFunds is the answer of a confirmation of funds that found ok (or failed with err),
// checked now.
func (s *Service) AnswerFunds(ok bool, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return FundsAnswer{CheckedAt: s.now(), FundsAvailable: ok}, nil
}

// ConfirmFunds asks the account's bank whether the account covers the amount (Berlin Group
// confirmation of funds), under the account's consent, which must include access funds.
func (s *Service) ConfirmFunds(ctx context.Context, scope store.Scope, req FundsRequest) (bool, error) {
	cur, ok := money.LookupCurrency(req.Currency)
	if !ok {
		return false, httpapi.InvalidField("currency", "must be an ISO 4217 currency code in upper case, like \"RSD\"")
	}
	amount, err := CheckAmount(req.Amount, cur)
	if err != nil {
		return false, err
	}
	if req.AccountID == "" {
		return false, httpapi.InvalidField("accountId", "is required")
	}
	a, err := s.Conns.Repo.GetAccount(ctx, scope, req.AccountID)
	if errors.Is(err, connections.ErrNotFound) {
		return false, httpapi.NotFound("Account " + req.AccountID)
	}
	if err != nil {
		return false, err
	}
	if a.Currency != cur.Code {
		return false, httpapi.InvalidField("currency", "must be the account's currency ("+a.Currency+")")
	}
	return s.confirmFunds(ctx, scope, a, amount)
}

func (s *Service) confirmFunds(ctx context.Context, scope store.Scope, a connections.Account, amount decimal.Decimal) (bool, error) {
	cx, err := s.Conns.Repo.Get(ctx, scope, a.ConnectionID)
	if err != nil {
		return false, err
	}
	if !slices.Contains(cx.Access, bank.AccessFunds) {
		return false, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden,
			Message: "The account's consent does not include access funds; connect it (or renew the consent) with access funds."}
	}
	sess, conn, err := s.Conns.Session(ctx, scope, cx.ID, nil)
	if err != nil {
		return false, connectors.APIError(s.Conns.HandleBankError(ctx, scope, cx.ID, err))
	}
	ok, err := conn.ConfirmFunds(ctx, sess, bank.FundsQuery{IBAN: a.IBAN, Amount: amount, Currency: a.Currency})
	if err != nil {
		return false, connectors.APIError(s.Conns.HandleBankError(ctx, scope, cx.ID, err))
	}
	return ok, nil
}

// insufficientFunds answers a payment with confirmFunds that the account cannot cover.
func insufficientFunds() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: httpapi.CodeInsufficientFunds,
		Message: "The bank says the account does not cover the amount; nothing was sent."}
}
