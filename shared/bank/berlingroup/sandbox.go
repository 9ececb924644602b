package berlingroup

import (
	"context"
	"net/http"
	"net/url"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
)

// SandboxTransaction is a transaction to book on a sandbox bank's account.
type SandboxTransaction struct {
	Amount       decimal.Decimal // signed: negative is outbound
	Counterparty string
	Remittance   string
}

// AddSandboxTransaction books a transaction on an account of Tok's sandbox bank, under the
// session's consent only (its sandbox-transactions extension); the next sync reads it. It
// returns the bank's transaction ID. Only sandbox banks have it: others are NotSupported.
func (c *Client) AddSandboxTransaction(ctx context.Context, s bank.Session, accountID string, t SandboxTransaction) (string, error) {
	if !c.cfg.StandingOrders { // the sandbox bank's connectors alone are configured with its extensions
		return "", bank.ErrNotSupported
	}
	var out struct {
		TransactionID string `json:"transactionId"`
	}
	body := map[string]any{"amount": t.Amount.StringFixed(2), "counterpartyName": t.Counterparty, "remittanceInformationUnstructured": t.Remittance}
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/accounts/" + url.PathEscape(accountID) + "/sandbox-transactions",
		route: "/v1/accounts/{accountId}/sandbox-transactions", body: body, session: &s}, &out)
	return out.TransactionID, err
}

// RevokeSandboxMandate revokes a VRP mandate at Tok's sandbox bank as the PSU would in their
// online banking (its sandbox-revoke extension); the bank then refuses payments under it.
// Only sandbox banks have it: others are NotSupported.
func (c *Client) RevokeSandboxMandate(ctx context.Context, s bank.Session) error {
	if err := c.vrpSupported(); err != nil {
		return err
	}
	if !c.cfg.StandingOrders { // the sandbox bank's connectors alone are configured with its extensions
		return bank.ErrNotSupported
	}
	return c.do(ctx, call{method: http.MethodPost, path: mandatePath(s.BankConsentID) + "/sandbox-revoke", route: "/v1/vrp-mandates/{mandateId}/sandbox-revoke",
		session: &bank.Session{AccessToken: s.AccessToken}}, nil)
}
