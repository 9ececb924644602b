package tok_test

import (
	"context"
	"errors"
	"sort"
	"testing"

	"tokapi.io/tok/sdks/go/tok"
	"tokapi.io/tok/sdks/sdktest"
)

// methods calls, for each operation of the spec that takes an API key, the SDK method
// that is its client.
var methods = map[string]func(context.Context, *tok.Client) error{
	"listBanks":       func(ctx context.Context, c *tok.Client) error { _, err := c.Banks.List(ctx, nil); return err },
	"getBank":         func(ctx context.Context, c *tok.Client) error { _, err := c.Banks.Get(ctx, "x"); return err },
	"getOrganisation": func(ctx context.Context, c *tok.Client) error { _, err := c.Organisation.Get(ctx); return err },
	"updateOrganisation": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Organisation.Update(ctx, tok.UpdateOrganisationRequest{})
		return err
	},
	"listApiKeys": func(ctx context.Context, c *tok.Client) error { _, err := c.APIKeys.List(ctx, nil); return err },
	"createApiKey": func(ctx context.Context, c *tok.Client) error {
		_, err := c.APIKeys.Create(ctx, tok.CreateKeyPairRequest{Role: "developer"})
		return err
	},
	"rotateApiKey": func(ctx context.Context, c *tok.Client) error { _, err := c.APIKeys.Rotate(ctx, "x", nil); return err },
	"revokeApiKey": func(ctx context.Context, c *tok.Client) error { return c.APIKeys.Revoke(ctx, "x") },
	"listMembers":  func(ctx context.Context, c *tok.Client) error { _, err := c.Members.List(ctx, nil); return err },
	"addMember": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Members.Add(ctx, tok.AddMemberRequest{Email: "a@example.com", Role: "viewer"})
		return err
	},
	"getMember": func(ctx context.Context, c *tok.Client) error { _, err := c.Members.Get(ctx, "x"); return err },
	"updateMember": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Members.Update(ctx, "x", tok.UpdateMemberRequest{Role: "viewer"})
		return err
	},
	"removeMember": func(ctx context.Context, c *tok.Client) error { return c.Members.Remove(ctx, "x") },
	"listWebhooks": func(ctx context.Context, c *tok.Client) error { _, err := c.Webhooks.List(ctx, nil); return err },
	"createWebhook": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Webhooks.Create(ctx, tok.CreateWebhookRequest{})
		return err
	},
	"getWebhook": func(ctx context.Context, c *tok.Client) error { _, err := c.Webhooks.Get(ctx, "x"); return err },
	"updateWebhook": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Webhooks.Update(ctx, "x", tok.UpdateWebhookRequest{})
		return err
	},
	"deleteWebhook": func(ctx context.Context, c *tok.Client) error { return c.Webhooks.Delete(ctx, "x") },
	"rotateWebhookSecret": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Webhooks.RotateSecret(ctx, "x")
		return err
	},
	"testWebhook": func(ctx context.Context, c *tok.Client) error { _, err := c.Webhooks.Test(ctx, "x"); return err },
	"listWebhookDeliveries": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Webhooks.Deliveries(ctx, "x", nil)
		return err
	},
	"getWebhookDelivery": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Webhooks.Delivery(ctx, "x", "y")
		return err
	},
	"redeliverWebhookDelivery": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Webhooks.Redeliver(ctx, "x", "y")
		return err
	},
	"listEvents": func(ctx context.Context, c *tok.Client) error { _, err := c.Events.List(ctx, nil); return err },
	"getEvent":   func(ctx context.Context, c *tok.Client) error { _, err := c.Events.Get(ctx, "x"); return err },
	"createConsent": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Consents.Create(ctx, tok.CreateConsentRequest{})
		return err
	},
	"listConsents":  func(ctx context.Context, c *tok.Client) error { _, err := c.Consents.List(ctx, nil); return err },
	"getConsent":    func(ctx context.Context, c *tok.Client) error { _, err := c.Consents.Get(ctx, "x"); return err },
	"revokeConsent": func(ctx context.Context, c *tok.Client) error { _, err := c.Consents.Revoke(ctx, "x"); return err },
	"refreshConsent": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Consents.Refresh(ctx, "x", nil)
		return err
	},
	"renewConsent": func(ctx context.Context, c *tok.Client) error { _, err := c.Consents.Renew(ctx, "x", nil); return err },
	"sandboxExpireConsent": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Sandbox.ExpireConsent(ctx, "x")
		return err
	},
	"sandboxRevokeConsent": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Sandbox.RevokeConsent(ctx, "x")
		return err
	},
	"sandboxRevokeVrpConsent": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Sandbox.RevokeVRPConsent(ctx, "x")
		return err
	},
	"sandboxFireWebhook": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Sandbox.FireWebhook(ctx, tok.SandboxFireRequest{})
		return err
	},
	"sandboxAddTransaction": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Sandbox.AddTransaction(ctx, "x", tok.SandboxAddTransactionRequest{})
		return err
	},
	"listAccounts":       func(ctx context.Context, c *tok.Client) error { _, err := c.Accounts.List(ctx, nil); return err },
	"getAccount":         func(ctx context.Context, c *tok.Client) error { _, err := c.Accounts.Get(ctx, "x"); return err },
	"getAccountBalances": func(ctx context.Context, c *tok.Client) error { _, err := c.Accounts.Balances(ctx, "x"); return err },
	"listTransactions": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Transactions.List(ctx, "x", nil)
		return err
	},
	"listTransactionChanges": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Transactions.Changes(ctx, "x", nil)
		return err
	},
	"getTransaction": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Transactions.Get(ctx, "x", "y")
		return err
	},
	"listStandingOrders": func(ctx context.Context, c *tok.Client) error {
		_, err := c.StandingOrders.List(ctx, "x", nil)
		return err
	},
	"getStandingOrder": func(ctx context.Context, c *tok.Client) error {
		_, err := c.StandingOrders.Get(ctx, "x", "y")
		return err
	},
	"confirmFunds": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Payments.ConfirmFunds(ctx, tok.FundsConfirmationRequest{})
		return err
	},
	"createPayment": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Payments.Create(ctx, tok.CreatePaymentRequest{})
		return err
	},
	"listPayments":  func(ctx context.Context, c *tok.Client) error { _, err := c.Payments.List(ctx, nil); return err },
	"getPayment":    func(ctx context.Context, c *tok.Client) error { _, err := c.Payments.Get(ctx, "x"); return err },
	"cancelPayment": func(ctx context.Context, c *tok.Client) error { _, err := c.Payments.Cancel(ctx, "x"); return err },
	"createRefund": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Refunds.Create(ctx, "x", tok.CreateRefundRequest{})
		return err
	},
	"listPaymentRefunds": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Refunds.ListForPayment(ctx, "x", nil)
		return err
	},
	"listRefunds":  func(ctx context.Context, c *tok.Client) error { _, err := c.Refunds.List(ctx, nil); return err },
	"getRefund":    func(ctx context.Context, c *tok.Client) error { _, err := c.Refunds.Get(ctx, "x"); return err },
	"cancelRefund": func(ctx context.Context, c *tok.Client) error { _, err := c.Refunds.Cancel(ctx, "x"); return err },
	"createRefundBatch": func(ctx context.Context, c *tok.Client) error {
		_, err := c.Refunds.CreateBatch(ctx, tok.CreateRefundBatchRequest{})
		return err
	},
	"getRefundBatch": func(ctx context.Context, c *tok.Client) error { _, err := c.Refunds.GetBatch(ctx, "x"); return err },
	"createVrpConsent": func(ctx context.Context, c *tok.Client) error {
		_, err := c.VRP.CreateConsent(ctx, tok.CreateVrpConsentRequest{})
		return err
	},
	"listVrpConsents":  func(ctx context.Context, c *tok.Client) error { _, err := c.VRP.ListConsents(ctx, nil); return err },
	"getVrpConsent":    func(ctx context.Context, c *tok.Client) error { _, err := c.VRP.GetConsent(ctx, "x"); return err },
	"revokeVrpConsent": func(ctx context.Context, c *tok.Client) error { _, err := c.VRP.RevokeConsent(ctx, "x"); return err },
	"listVrpConsentPayments": func(ctx context.Context, c *tok.Client) error {
		_, err := c.VRP.ConsentPayments(ctx, "x", nil)
		return err
	},
	"confirmVrpFunds": func(ctx context.Context, c *tok.Client) error {
		_, err := c.VRP.ConfirmFunds(ctx, "x", tok.VrpFundsRequest{})
		return err
	},
	"createVrp": func(ctx context.Context, c *tok.Client) error {
		_, err := c.VRP.Pay(ctx, tok.CreateVrpRequest{})
		return err
	},
	"listVrps": func(ctx context.Context, c *tok.Client) error { _, err := c.VRP.ListPayments(ctx, nil); return err },
	"getVrp":   func(ctx context.Context, c *tok.Client) error { _, err := c.VRP.GetPayment(ctx, "x"); return err },
}

// testCoverage: every operation of the spec that takes an API key has an SDK method, and
// that method sends the operation's request. The fault proxy answers every request with a
// 404 itself, so nothing reaches Tok, and logs which operation each request was.
func testCoverage(ctx context.Context, t *testing.T, env *sdktest.Env) {
	env.Faults.Reset()
	defer env.Faults.Reset()
	env.Faults.Arm(sdktest.Fault{Path: "/v1/", Times: 1 << 20, Status: 404, Body: envelope("NOT_FOUND", "answered by the coverage test")})
	c := newClient(t, env.FaultURL, env.APIKey, tok.WithMaxRetries(0))
	inSpec := map[string]bool{}
	for _, op := range sdktest.Operations(t) {
		inSpec[op.ID] = true
		if !op.APIKey {
			continue
		}
		call, ok := methods[op.ID]
		if !ok {
			t.Errorf("%s %s (%s) has no method in the Go SDK", op.Method, op.Path, op.ID)
			continue
		}
		before := len(env.Faults.Log())
		if err := call(ctx, c); !errors.Is(err, tok.ErrNotFound) {
			t.Errorf("%s: %v", op.ID, err)
		}
		log := env.Faults.Log()[before:]
		if len(log) != 1 || log[0].Operation != op.ID {
			t.Errorf("%s's method sent %+v", op.ID, log)
		}
	}
	var stale []string
	for id := range methods {
		if !inSpec[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("operations no longer in the spec: %v", stale)
	}
}
