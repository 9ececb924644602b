package consentflow_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"tokapi.io/tok/shared/testing/flowtest"
)

// TestStandingOrdersThroughTheStack: the demo persona's two standing orders at the sandbox
// bank (a Berlin Group bookingStatus=information read) reach the API after the first sync.
func TestStandingOrdersThroughTheStack(t *testing.T) {
	f, _, keys := setup(t)
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

// TestRefreshOnDemand: a refresh queues a sync at once (202) and sync.completed follows it;
// without the customer it takes one of the consent's 4 unattended accesses of the day,
// counted atomically however many arrive together; once they are spent it is 429
// ACCESS_EXCEEDED until the next UTC day, while a refresh with psuIpAddress still goes.
func TestRefreshOnDemand(t *testing.T) {
	f, org, keys := setup(t)
	consentID, _ := f.connect(keys.SandboxKey, "sandbox-rs", "demo")
	f.syncNext() // the first, attended sync
	c := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent")
	if c["lastSyncAt"] == nil || c["nextSyncAt"] == nil || c["unattendedAccessesLeft"] != 4.0 {
		t.Fatalf("consent after the first sync: %v", c)
	}
	first := c["lastSyncAt"].(string)

	r := f.Expect(f.Call("POST", "/v1/consents/"+consentID+"/refresh", keys.SandboxKey, ""), 202, "refresh")
	if r["status"] != "queued" || r["attended"] != false || r["unattendedAccessesLeft"] != 3.0 || r["lastSyncAt"] != first {
		t.Errorf("refresh answered %v", r)
	}
	f.syncNext()
	done := f.event("sync.completed", 10*time.Second)
	if done["consentId"] != consentID || done["reason"] != "refresh" || done["attended"] != false || done["accounts"] != 2.0 {
		t.Errorf("sync.completed data %v", done)
	}
	c = f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent")
	if c["unattendedAccessesLeft"] != 3.0 || c["lastSyncAt"] == first {
		t.Errorf("after the refreshed sync (the worker must not count it again): %v", c)
	}

	// Five at once for the three accesses left: exactly three are queued.
	before := time.Now()
	var wg sync.WaitGroup
	codes := make(chan flowtest.Response, 5)
	for range 5 {
		wg.Go(func() {
			codes <- f.Call("POST", "/v1/consents/"+consentID+"/refresh", keys.SandboxKey, "")
		})
	}
	wg.Wait()
	close(codes)
	accepted, refused, unavailable := 0, 0, 0
	lefts := map[float64]bool{} // each 202 says what its own reservation left
	for r := range codes {
		// A 503 (a dependency missed the request's deadline on a loaded machine) is retried
		// as a client would, after its Retry-After. Its access may be spent without a sync
		// (never one granted twice), so the tally allows one fewer 202 for each.
		for r.Code == 503 {
			unavailable++
			wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || wait < 1 || wait > 60 || unavailable > 5 {
				t.Fatalf("concurrent refresh: %d %v %s", r.Code, r.Header, r.Body)
			}
			time.Sleep(time.Duration(wait) * time.Second)
			r = f.Call("POST", "/v1/consents/"+consentID+"/refresh", keys.SandboxKey, "")
		}
		switch r.Code {
		case 202:
			accepted++
			lefts[r.JSON(t)["unattendedAccessesLeft"].(float64)] = true
		case 429:
			refused++
			if r.ErrCode(t) != "ACCESS_EXCEEDED" {
				t.Errorf("429 code %s", r.Body)
			}
			// The next UTC day, seen from when the server answered (between before and now).
			wait, _ := strconv.Atoi(r.Header.Get("Retry-After"))
			midnight := before.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
			if at := time.Duration(wait) * time.Second; at < time.Until(midnight) || at > midnight.Sub(before)+time.Second {
				t.Errorf("Retry-After %q; the next UTC day was %s to %s away", r.Header.Get("Retry-After"), time.Until(midnight), midnight.Sub(before))
			}
		default:
			t.Errorf("concurrent refresh: %d %s", r.Code, r.Body)
		}
	}
	if accepted > 3 || accepted < 3-unavailable || accepted+refused != 5 {
		t.Errorf("5 concurrent refreshes with 3 accesses left: %d accepted, %d refused, %d answers 503", accepted, refused, unavailable)
	}
	if len(lefts) != accepted || (unavailable == 0 && !(lefts[0] && lefts[1] && lefts[2])) {
		t.Errorf("accesses left as the accepted refreshes answered them: %v", lefts)
	}
	c = f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent")
	if c["unattendedAccessesLeft"] != 0.0 {
		t.Errorf("accesses left %v, want 0", c["unattendedAccessesLeft"])
	}
	// The customer is present: it does not count.
	r = f.Expect(f.Call("POST", "/v1/consents/"+consentID+"/refresh", keys.SandboxKey, `{"psuIpAddress":"203.0.113.7"}`), 202, "attended refresh")
	if r["attended"] != true || r["unattendedAccessesLeft"] != 0.0 {
		t.Errorf("attended refresh answered %v", r)
	}
	for _, body := range []string{`{"psuIpAddress":"not-an-ip"}`, `{"psuIpAddress":""}`, `{"ip":"203.0.113.7"}`} {
		if r := f.Call("POST", "/v1/consents/"+consentID+"/refresh", keys.SandboxKey, body); r.Code != 400 {
			t.Errorf("refresh %s: %d %s", body, r.Code, r.Body)
		}
	}
	if r := f.Call("POST", "/v1/consents/"+consentID+"/refresh", f.repoKey(org.ID, "read_only"), ""); r.Code != 403 {
		t.Errorf("read_only refresh: %d %s", r.Code, r.Body)
	}
}
