package paymentflow_test

import (
	"strings"
	"testing"

	"tokapi.io/tok/shared/testing/flowtest"
	"tokapi.io/tok/shared/testing/sandboxtest"
)

// connect authorises a consent with access as persona and returns its RSD account's ID.
func (f *fixture) connect(key, access, persona string) string {
	f.T.Helper()
	c := f.Expect(f.Call("POST", "/v1/consents", key, `{"bankId":"sandbox-rs","callbackUrl":"https://app.example.com/cb","access":`+access+`}`), 201, "consent")
	loc := sandboxtest.SCA(f.T, f.Browser, c["redirectUrl"].(string), persona, persona, "approve")
	if to := f.follow(loc); to.Query().Get("status") != "AUTHORIZED" {
		f.T.Fatalf("consent: %s", to)
	}
	l := f.Expect(f.Call("GET", "/v1/accounts?consentId="+c["id"].(string)+"&currency=RSD", key, ""), 200, "accounts")
	data := l["data"].([]any)
	if len(data) == 0 {
		f.T.Fatalf("no RSD account: %v", l)
	}
	return data[0].(map[string]any)["id"].(string)
}

// TestFundsConfirmation: the bank's confirmation of funds for an account whose consent has
// access funds, and confirmFunds on a payment; without access funds 403, another
// organisation's account 404.
func TestFundsConfirmation(t *testing.T) {
	f, _, keys := setup(t)
	_, otherKeys := f.Org()
	acc := f.connect(keys.SandboxKey, `["balances","transactions","funds"]`, "demo")
	noFunds := f.connect(keys.SandboxKey, `["balances"]`, "business")
	ask := func(key, account, amount string) flowtest.Response {
		return f.Call("POST", "/v1/funds-confirmations", key, `{"accountId":"`+account+`","amount":"`+amount+`","currency":"RSD"}`)
	}
	if r := f.Expect(ask(keys.SandboxKey, acc, "1.00"), 200, "small amount"); r["fundsAvailable"] != true {
		t.Errorf("1.00 RSD: %v", r)
	}
	if r := f.Expect(ask(keys.SandboxKey, acc, "999999999.00"), 200, "huge amount"); r["fundsAvailable"] != false {
		t.Errorf("999999999.00 RSD: %v", r)
	}
	if r := ask(keys.SandboxKey, noFunds, "1.00"); r.Code != 403 {
		t.Errorf("consent without funds: %d %s", r.Code, r.Body)
	}
	if r := ask(otherKeys.SandboxKey, acc, "1.00"); r.Code != 404 {
		t.Errorf("another organisation's account: %d %s", r.Code, r.Body)
	}
	for _, b := range []string{`{"accountId":"` + acc + `","amount":"0","currency":"RSD"}`, `{"accountId":"` + acc + `","amount":"1.00","currency":"EUR"}`, `{"amount":"1.00","currency":"RSD"}`} {
		if r := f.Call("POST", "/v1/funds-confirmations", keys.SandboxKey, b); r.Code != 400 {
			t.Errorf("%s: %d", b, r.Code)
		}
	}

	pay := func(amount string) flowtest.Response {
		return f.Call("POST", "/v1/payments", keys.SandboxKey, strings.NewReplacer(`"bankId":"sandbox-rs"`, `"accountId":"`+acc+`","confirmFunds":true`,
			`"1500.00"`, `"`+amount+`"`).Replace(seed("")))
	}
	if r := pay("11999999.00"); r.Code != 422 || !strings.Contains(string(r.Body), "INSUFFICIENT_FUNDS") {
		t.Errorf("confirmFunds over the balance: %d %s", r.Code, r.Body)
	}
	p := f.Expect(pay("10.00"), 201, "confirmFunds covered")
	if p["accountId"] != acc || p["debtorIban"] == nil {
		t.Errorf("payment from the account: %v", p)
	}
	if r := f.Call("POST", "/v1/payments", keys.SandboxKey, seed(`,"confirmFunds":true`)); r.Code != 400 {
		t.Errorf("confirmFunds without accountId: %d", r.Code)
	}
}
