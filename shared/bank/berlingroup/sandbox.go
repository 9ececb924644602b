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
