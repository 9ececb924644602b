package consentflow_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// TestSandboxControls: with a sandbox key, a transaction booked at the sandbox bank reaches
// the API with the next sync, with account.balance_updated for the changed balance; an event
// of any type can be fired; a consent can be revoked or expired as if at the bank. A live
// key finds none of these routes.
func TestSandboxControls(t *testing.T) {
	f, _, keys := setup(t)
	consentID, _ := f.connect(keys.SandboxKey, "sandbox-rs", "demo")
	f.syncNext()

	for _, p := range []string{"/v1/sandbox/webhooks/fire", "/v1/sandbox/consents/" + consentID + "/revoke"} {
		if r := f.Call("POST", p, keys.LiveKey, `{"type":"sync.failed"}`); r.Code != 404 || r.ErrCode(t) != "NOT_FOUND" {
			t.Errorf("live key %s: %d %s", p, r.Code, r.Body)
		}
	}

	t.Run("fire", func(t *testing.T) {
		ev := f.Expect(f.Call("POST", "/v1/sandbox/webhooks/fire", keys.SandboxKey, `{"type":"payment.completed"}`), 202, "fire")
		if ev["type"] != "payment.completed" || ev["data"].(map[string]any)["status"] != "COMPLETED" {
			t.Errorf("fired %v", ev)
		}
		if got := f.event("payment.completed", 10*time.Second); got["paymentId"] != ev["data"].(map[string]any)["paymentId"] {
			t.Errorf("published %v, fired %v", got, ev)
		}
		for _, body := range []string{`{"type":"webhook.ping"}`, `{"type":"payment.teleported"}`, `{}`} {
			if r := f.Call("POST", "/v1/sandbox/webhooks/fire", keys.SandboxKey, body); r.Code != 400 {
				t.Errorf("fire %s: %d %s", body, r.Code, r.Body)
			}
		}
	})

	var accountID string
	for _, a := range f.Expect(f.Call("GET", "/v1/accounts", keys.SandboxKey, ""), 200, "accounts")["data"].([]any) {
		if a.(map[string]any)["currency"] == "RSD" {
			accountID = a.(map[string]any)["id"].(string)
		}
	}
	t.Run("a transaction added at the bank arrives with the next sync", func(t *testing.T) {
		available := func() decimal.Decimal {
			for _, b := range f.Expect(f.Call("GET", "/v1/accounts/"+accountID+"/balances", keys.SandboxKey, ""), 200, "balances")["balances"].([]any) {
				if b.(map[string]any)["type"] == "interimAvailable" {
					return decimal.RequireFromString(b.(map[string]any)["amount"].(string))
				}
			}
			t.Fatal("no interimAvailable balance")
			return decimal.Zero
		}
		before := available()
		added := f.Expect(f.Call("POST", "/v1/sandbox/accounts/"+accountID+"/transactions", keys.SandboxKey,
			`{"amount":"1250.00","direction":"inbound","counterpartyName":"Bilko d.o.o.","remittanceInfo":"Invoice 42"}`), 201, "add")
		if added["amount"] != "1250.0000" || added["currency"] != "RSD" || !strings.HasPrefix(added["externalId"].(string), "ADD") {
			t.Errorf("added %v", added)
		}
		for _, body := range []string{`{"amount":"12.345"}`, `{"amount":"-5"}`, `{"amount":"5","direction":"sideways"}`, `{}`} {
			if r := f.Call("POST", "/v1/sandbox/accounts/"+accountID+"/transactions", keys.SandboxKey, body); r.Code != 400 {
				t.Errorf("add %s: %d %s", body, r.Code, r.Body)
			}
		}
		f.Expect(f.Call("POST", "/v1/consents/"+consentID+"/refresh", keys.SandboxKey, `{"psuIpAddress":"203.0.113.7"}`), 202, "refresh")
		f.syncNext()
		ev := f.event("account.balance_updated", 10*time.Second)
		want := before.Add(decimal.NewFromInt(1250)).StringFixed(4)
		if ev["accountId"] != accountID || !strings.Contains(fmtJSON(ev["balances"]), want) {
			t.Errorf("account.balance_updated %v, want %s available", ev, want)
		}
		if got := available(); !got.Equal(before.Add(decimal.NewFromInt(1250))) {
			t.Errorf("available %s, was %s", got, before)
		}
		l := f.Expect(f.Call("GET", "/v1/accounts/"+accountID+"/transactions?limit=500&dateFrom="+time.Now().UTC().Format(time.DateOnly), keys.SandboxKey, ""), 200, "transactions")
		found := false
		for _, x := range l["data"].([]any) {
			m := x.(map[string]any)
			found = found || (m["externalId"] == added["externalId"] && m["amount"] == "1250.0000" && m["direction"] == "inbound")
		}
		if !found {
			t.Errorf("the added transaction %s is not served: %s", added["externalId"], fmtJSON(l["data"]))
		}
	})

	t.Run("revoke and expire as at the bank", func(t *testing.T) {
		r := f.Expect(f.Call("POST", "/v1/sandbox/consents/"+consentID+"/revoke", keys.SandboxKey, ""), 200, "revoke")
		if r["status"] != "REVOKED" || r["revokedBy"] != "bank" {
			t.Errorf("revoked %v", r)
		}
		if ev := f.event("consent.revoked", 10*time.Second); ev["consentId"] != consentID {
			t.Errorf("consent.revoked %v", ev)
		}
		if r := f.Call("GET", "/v1/accounts/"+accountID+"/transactions", keys.SandboxKey, ""); r.Code != 403 || r.ErrCode(t) != "CONSENT_REVOKED" {
			t.Errorf("transactions after the revocation: %d %s", r.Code, r.Body)
		}
		if r := f.Call("POST", "/v1/sandbox/consents/"+consentID+"/revoke", keys.SandboxKey, ""); r.Code != 409 {
			t.Errorf("second revoke: %d %s", r.Code, r.Body)
		}
		other, _ := f.connect(keys.SandboxKey, "sandbox-hr", "demo")
		if r := f.Expect(f.Call("POST", "/v1/sandbox/consents/"+other+"/expire", keys.SandboxKey, ""), 200, "expire"); r["status"] != "EXPIRED" {
			t.Errorf("expired %v", r)
		}
		if c := f.Expect(f.Call("GET", "/v1/consents/"+other, keys.SandboxKey, ""), 200, "consent"); c["status"] != "EXPIRED" {
			t.Errorf("consent after expire %v", c)
		}
	})
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
