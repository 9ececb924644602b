package payments_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/orgs"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/webhookstest"
)

// TestEndToEnd pays the API overview's payment through the whole local stack with a sandbox
// key: SCA as demo in headless Chromium, the callback, the payment-status function over
// Pub/Sub to COMPLETED, and the organisation's webhook endpoint receiving the signed
// payment events; then broke and deny, bad inputs, tenancy and the live-bank boundary.
func TestEndToEnd(t *testing.T) {
	st := localstacktest.Run(t, 5*time.Minute)
	_, keys := st.Org("Payer Ltd", orgs.TierPro, "https://app.example.com")
	call := st.Call
	app := localstacktest.NewApp(t)
	body := func(extra string) string {
		return `{"creditorIban":"RS35105008123123123173","amount":"1500.00","currency":"RSD","remittanceInfo":"Invoice INV-2026-042",` +
			`"bankId":"sandbox-rs","callbackUrl":"` + app.CallbackURL() + `"` + extra + `}`
	}

	hooks := webhookstest.NewReceiver(t, nil)
	code, w := call("POST", "/v1/webhooks", keys.SandboxKey, `{"url":"`+hooks.URL+`/hooks","events":["payment.created","payment.authorized","payment.completed","payment.rejected"]}`)
	if code != 201 {
		t.Fatalf("register webhook: %d %v", code, w)
	}
	verifier, err := standardwebhooks.NewWebhook(w["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}

	code, p := call("POST", "/v1/payments", keys.SandboxKey, body(""))
	if code != 201 || p["status"] != pay.StatusAwaiting {
		t.Fatalf("create: %d %v", code, p)
	}
	id := p["id"].(string)
	b := localstacktest.NewBrowser(t, 90*time.Second, "payments")
	b.Approve(p["redirectUrl"].(string), "demo", b.Shot("back-at-the-shop"))
	authorised := time.Now()
	app.Back(t, "paymentId", id, pay.StatusPending, pay.StatusCompleted)
	for {
		code, g := call("GET", "/v1/payments/"+id, keys.SandboxKey, "")
		if code == 200 && g["status"] == pay.StatusCompleted {
			t.Logf("COMPLETED %s after the SCA (screenshots in %s)", time.Since(authorised).Round(10*time.Millisecond), b.Dir)
			break
		}
		if time.Since(authorised) > 30*time.Second {
			t.Fatalf("not COMPLETED within 30 s of the SCA: %v", g)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The organisation's endpoint gets created, authorized and completed, each signed and
	// each once.
	seen := map[string]int{}
	for deadline := time.Now().Add(30 * time.Second); len(seen) < 3 && time.Now().Before(deadline); {
		seen = map[string]int{}
		for _, r := range hooks.WaitFor(3, time.Second) {
			if err := verifier.Verify(r.Body, r.Header); err != nil {
				t.Fatalf("webhook signature: %v", err)
			}
			var ev struct{ ID, Type string }
			_ = json.Unmarshal(r.Body, &ev)
			if ev.ID != r.Header.Get("webhook-id") {
				t.Errorf("webhook-id %s is not the event ID %s", r.Header.Get("webhook-id"), ev.ID)
			}
			seen[ev.Type]++
		}
	}
	if seen[pay.EventCreated] != 1 || seen[pay.EventAuthorized] != 1 || seen[pay.EventCompleted] != 1 {
		t.Fatalf("webhooks received %v", seen)
	}

	browser := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ persona, reason string }{{"broke", pay.ReasonInsufficientFunds}, {"deny", pay.ReasonDeniedByUser}} {
		code, p := call("POST", "/v1/payments", keys.SandboxKey, body(""))
		if code != 201 {
			t.Fatalf("%s: create %d %v", c.persona, code, p)
		}
		loc := sandboxtest.SCA(t, browser, p["redirectUrl"].(string), c.persona, c.persona, "approve")
		resp := st.Callback(loc)
		to, _ := url.Parse(resp.Header.Get("Location"))
		_, g := call("GET", "/v1/payments/"+p["id"].(string), keys.SandboxKey, "")
		if resp.Status != 303 || to.Query().Get("status") != pay.StatusRejected || g["status"] != pay.StatusRejected || g["statusReason"] != c.reason {
			t.Errorf("%s: callback %d to %s; payment %v %v", c.persona, resp.Status, to, g["status"], g["statusReason"])
		}
	}

	_, before := call("GET", "/v1/payments?limit=500", keys.SandboxKey, "")
	stored := len(before["data"].([]any))
	for name, c := range map[string]struct {
		body string
		code int
	}{
		"bad IBAN":              {strings.Replace(body(""), "123173", "123174", 1), 400},
		"zero amount":           {strings.Replace(body(""), `"1500.00"`, `"0"`, 1), 400},
		"negative amount":       {strings.Replace(body(""), `"1500.00"`, `"-1"`, 1), 400},
		"too many decimals":     {strings.Replace(body(""), `"1500.00"`, `"1.234"`, 1), 400},
		"unknown currency":      {strings.Replace(body(""), `"RSD"`, `"ABC"`, 1), 400},
		"over the maximum":      {strings.Replace(body(""), `"1500.00"`, `"12000000.01"`, 1), 400},
		"past executionDate":    {body(`,"executionDate":"2020-01-01"`), 400},
		"unknown field":         {body(`,"urgent":true`), 400},
		"another org's account": {strings.Replace(body(""), `"bankId":"sandbox-rs"`, `"accountId":"`+ids.New(ids.Account)+`"`, 1), 404},
		"a live bank":           {strings.Replace(body(""), "sandbox-rs", "intesa-rs", 1), 400},
	} {
		if code, e := call("POST", "/v1/payments", keys.SandboxKey, c.body); code != c.code || e["error"] == nil {
			t.Errorf("%s: %d %v", name, code, e)
		}
	}
	if _, after := call("GET", "/v1/payments?limit=500", keys.SandboxKey, ""); len(after["data"].([]any)) != stored {
		t.Errorf("bad inputs created payments: %d → %d", stored, len(after["data"].([]any)))
	}
	// Another organisation, and the live key of the same one, see none of it.
	for _, k := range st.Strangers(keys, orgs.TierPro) {
		for _, m := range []string{"GET", "DELETE"} {
			if code, _ := call(m, "/v1/payments/"+id, k, ""); code != 404 {
				t.Errorf("%s of another tenant's payment: %d", m, code)
			}
		}
		if _, l := call("GET", "/v1/payments", k, ""); len(l["data"].([]any)) != 0 {
			t.Errorf("another tenant lists %d payments", len(l["data"].([]any)))
		}
	}
}
