package consentflow_test

import (
	"testing"
)

// TestStandingOrdersThroughTheStack: the demo persona's two standing orders at the sandbox
// bank (a Berlin Group bookingStatus=information read) reach the API after the first sync.
func TestStandingOrdersThroughTheStack(t *testing.T) {
	f := setup(t)
	_, keys := f.Org()
	_, other := f.Org()
	f.connect(keys.SandboxKey, "sandbox-rs", "demo")
	if res := f.syncNext(); res.StandingOrders != 2 {
		t.Errorf("sync wrote %d standing orders, want 2", res.StandingOrders)
	}
	accts := f.Expect(f.Call("GET", "/v1/accounts", keys.SandboxKey, ""), 200, "accounts")["data"].([]any)
	total := 0
	for _, a := range accts {
		accountID := a.(map[string]any)["id"].(string)
		l := f.Expect(f.Call("GET", "/v1/accounts/"+accountID+"/standing-orders", keys.SandboxKey, ""), 200, "standing orders")
		orders := l["data"].([]any)
		total += len(orders)
		for _, o := range orders {
			so := o.(map[string]any)
			if so["accountId"] != accountID || so["frequency"] != "Monthly" || so["amount"] == "" || so["creditorIban"] == nil || so["startDate"] != "2024-03-01" {
				t.Errorf("standing order %v", so)
			}
			one := f.Expect(f.Call("GET", "/v1/accounts/"+accountID+"/standing-orders/"+so["id"].(string), keys.SandboxKey, ""), 200, "standing order")
			if one["id"] != so["id"] || one["externalId"] != so["externalId"] {
				t.Errorf("GET one = %v, listed %v", one, so)
			}
			if r := f.Call("GET", "/v1/accounts/"+accountID+"/standing-orders/"+so["id"].(string), other.SandboxKey, ""); r.Code != 404 {
				t.Errorf("another organisation reads a standing order: %d %s", r.Code, r.Body)
			}
		}
	}
	if total != 2 {
		t.Errorf("%d standing orders served over %d accounts, want 2", total, len(accts))
	}
}
