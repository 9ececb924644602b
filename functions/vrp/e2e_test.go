package vrp_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/shopspring/decimal"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/orgs"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/webhookstest"
	"tokapi.io/tok/shared/vrp"
)

// TestEndToEnd is the VRP promise through the whole local stack (gateway, function
// processes, Pub/Sub pushes) with a sandbox key: a consent with a 100.00 EUR daily limit and
// 60.00 per payment, authorised as demo in headless Chromium; 50 concurrent payments of
// 10.00 complete exactly 10 and refuse 40 with LIMIT_EXCEEDED, and the sandbox bank's own
// ledger holds 10 payments for 100.00; 60.01 is refused; another organisation (and the live
// key) finds none of it; after DELETE every payment is CONSENT_REVOKED; the organisation's
// endpoint receives vrp_consent.authorized, vrp_consent.revoked and each payment's events,
// signed, each once.
func TestEndToEnd(t *testing.T) {
	st := localstacktest.Run(t, 6*time.Minute)
	org, keys := st.Org("Zajam d.o.o.", orgs.TierEnterprise, "https://app.example.com")
	ctx, call := st.Ctx, st.Call
	errorCode := func(m map[string]any) string {
		e, _ := m["error"].(map[string]any)
		s, _ := e["code"].(string)
		return s
	}

	app := localstacktest.NewApp(t)

	hooks := webhookstest.NewReceiver(t, nil)
	code, w := call("POST", "/v1/webhooks", keys.SandboxKey, `{"url":"`+hooks.URL+`/hooks","events":["vrp_consent.authorized","vrp_consent.revoked",`+
		`"payment.created","payment.authorized","payment.completed","payment.rejected"]}`)
	if code != 201 {
		t.Fatalf("register webhook: %d %v", code, w)
	}
	verifier, err := standardwebhooks.NewWebhook(w["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}

	code, c := call("POST", "/v1/vrp-consents", keys.SandboxKey, `{"bankId":"sandbox-hr","creditorIban":"HR1723600001101234565",`+
		`"creditorName":"Zajam d.o.o.","currency":"EUR","maximumIndividualAmount":"60.00",`+
		`"periodicLimits":[{"maximumAmount":"100.00","periodType":"DAY","periodAlignment":"CALENDAR"}],`+
		`"remittanceInfo":"Loan 42","callbackUrl":"`+app.CallbackURL()+`","vrpType":"OTHER"}`, "Idempotency-Key", "consent-1")
	if code != 201 || c["status"] != vrp.StatusAwaiting {
		t.Fatalf("create vrp consent: %d %v", code, c)
	}
	id := c["id"].(string)
	b := localstacktest.NewBrowser(t, 90*time.Second, "vrp")
	b.Approve(c["redirectUrl"].(string), "demo", b.Shot("back-at-the-lender"))
	app.Back(t, "vrpConsentId", id, vrp.StatusAuthorized)
	if code, g := call("GET", "/v1/vrp-consents/"+id, keys.SandboxKey, ""); code != 200 || g["status"] != vrp.StatusAuthorized {
		t.Fatalf("authorised consent: %d %v", code, g)
	}

	payVRP := func(key, amount, idem string) (int, map[string]any) {
		return call("POST", "/v1/vrps", key, `{"consentId":"`+id+`","amount":"`+amount+`","currency":"EUR","remittanceInfo":"Instalment"}`,
			"Idempotency-Key", idem)
	}
	const parallel = 50
	codes, bodies := make([]int, parallel), make([]map[string]any, parallel)
	var wg sync.WaitGroup
	started := time.Now()
	for i := range parallel {
		wg.Go(func() {
			codes[i], bodies[i] = payVRP(keys.SandboxKey, "10.00", fmt.Sprintf("instalment-%d", i))
		})
	}
	wg.Wait()
	took := time.Since(started)
	var created []string
	refused := 0
	for i, code := range codes {
		switch {
		case code == 201:
			created = append(created, bodies[i]["id"].(string))
		case code == 422 && errorCode(bodies[i]) == vrp.CodeLimitExceeded:
			refused++
		default:
			t.Errorf("payment %d: %d %v", i, code, bodies[i])
		}
	}
	t.Logf("%d concurrent POST /v1/vrps of 10.00 through the gateway in %s: %d created, %d LIMIT_EXCEEDED", parallel, took.Round(time.Millisecond), len(created), refused)
	if len(created) != 10 || refused != 40 {
		t.Fatalf("created %d, refused %d; want 10 and 40", len(created), refused)
	}

	// The bank's own ledger of the mandate agrees, and never holds more.
	fs, err := firestore.NewClient(ctx, st.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	snap, err := fs.Collection("envs").Doc(tenant.Sandbox).Collection("orgs").Doc(org.ID).Collection(vrp.Collection).Doc(id).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mandate, _ := snap.Data()["bankMandateId"].(string)
	bankFS, err := firestore.NewClientWithDatabase(ctx, st.Project, "sandbox-bank")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bankFS.Close() })
	ledger := func() (int, decimal.Decimal) {
		t.Helper()
		return sandboxtest.MandateLedger(ctx, t, bankFS, "sandbox-hr", mandate)
	}
	// Every created payment reaches the bank (within its request, or from the status worker)
	// and completes there.
	deadline := time.Now().Add(90 * time.Second)
	for {
		n, sum := ledger()
		if n > 10 || sum.GreaterThan(decimal.NewFromInt(100)) {
			t.Fatalf("the bank took %d payments for %s", n, sum)
		}
		_, l := call("GET", "/v1/vrp-consents/"+id+"/payments?limit=100", keys.SandboxKey, "")
		completed := 0
		for _, p := range l["data"].([]any) {
			if p.(map[string]any)["status"] == pay.StatusCompleted {
				completed++
			}
		}
		if n == 10 && completed == 10 {
			t.Logf("the bank's ledger: %d payments for %s EUR; Tok: %d COMPLETED (screenshots in %s)", n, sum.StringFixed(2), completed, b.Dir)
			if !sum.Equal(decimal.NewFromInt(100)) {
				t.Fatalf("ledger sum %s", sum)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s the bank has %d payments for %s and Tok %d COMPLETED: %v", n, sum, completed, l)
		}
		time.Sleep(time.Second)
	}
	if code, g := call("GET", "/v1/vrp-consents/"+id, keys.SandboxKey, ""); code != 200 ||
		g["remaining"].(map[string]any)["periodicLimits"].([]any)[0].(map[string]any)["remaining"] != "0.0000" {
		t.Fatalf("spent consent: %d %v", code, g)
	}
	if code, e := payVRP(keys.SandboxKey, "60.01", "too-much"); code != 422 || errorCode(e) != vrp.CodeLimitExceeded ||
		e["error"].(map[string]any)["details"].([]any)[0].(map[string]any)["field"] != "maximumIndividualAmount" {
		t.Fatalf("60.01: %d %v", code, e)
	}

	// Another organisation, and the live key of this one, find none of it.
	for _, k := range st.Strangers(keys, orgs.TierEnterprise) {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/v1/vrp-consents/" + id, ""},
			{"GET", "/v1/vrp-consents/" + id + "/payments", ""},
			{"POST", "/v1/vrp-consents/" + id + "/confirm-funds", `{"amount":"1.00"}`},
			{"DELETE", "/v1/vrp-consents/" + id, ""},
			{"GET", "/v1/vrps/" + created[0], ""},
			{"POST", "/v1/vrps", `{"consentId":"` + id + `","amount":"1.00","currency":"EUR"}`},
		} {
			if code, e := call(r.method, r.path, k, r.body, "Idempotency-Key", ids.New(ids.Payment)); code != 404 || errorCode(e) != "NOT_FOUND" {
				t.Errorf("%s %s with another tenant's key: %d %v", r.method, r.path, code, e)
			}
		}
		for _, p := range []string{"/v1/vrp-consents", "/v1/vrps"} {
			if _, l := call("GET", p, k, ""); len(l["data"].([]any)) != 0 {
				t.Errorf("another tenant lists %d at %s", len(l["data"].([]any)), p)
			}
		}
	}
	if n, _ := ledger(); n != 10 {
		t.Fatalf("the bank has %d payments after the refusals", n)
	}

	if code, r := call("DELETE", "/v1/vrp-consents/"+id, keys.SandboxKey, ""); code != 200 || r["status"] != vrp.StatusRevoked || r["revokedBy"] != vrp.RevokedByOrganisation {
		t.Fatalf("revoke: %d %v", code, r)
	}
	for i, amount := range []string{"10.00", "0.01", "60.00"} {
		if code, e := payVRP(keys.SandboxKey, amount, fmt.Sprintf("after-revoke-%d", i)); code != 403 || errorCode(e) != "CONSENT_REVOKED" {
			t.Errorf("%s after the revocation: %d %v", amount, code, e)
		}
	}
	if n, sum := ledger(); n != 10 || !sum.Equal(decimal.NewFromInt(100)) {
		t.Fatalf("the bank has %d payments for %s after the revocation", n, sum)
	}

	// The endpoint: the consent's two events and each payment's created, authorized and
	// completed, each signed and each once.
	want := map[string]int{vrp.EventAuthorized: 1, vrp.EventRevoked: 1, pay.EventCreated: 10, pay.EventAuthorized: 10, pay.EventCompleted: 10}
	total := 0
	for _, n := range want {
		total += n
	}
	seen, deliveries := map[string]int{}, map[string]int{}
	for _, r := range hooks.WaitFor(total, 60*time.Second) {
		if err := verifier.Verify(r.Body, r.Header); err != nil {
			t.Fatalf("webhook signature: %v", err)
		}
		var ev struct{ ID, Type string }
		if err := json.Unmarshal(r.Body, &ev); err != nil || ev.ID != r.Header.Get("webhook-id") {
			t.Fatalf("webhook %s (webhook-id %s): %v", r.Body, r.Header.Get("webhook-id"), err)
		}
		if deliveries[ev.ID]++; deliveries[ev.ID] == 1 {
			seen[ev.Type]++
		}
	}
	for typ, n := range want {
		if seen[typ] != n {
			t.Errorf("%s arrived for %d events, want %d (all: %v)", typ, seen[typ], n, seen)
		}
	}
	for evID, n := range deliveries {
		if n != 1 {
			t.Errorf("event %s delivered %d times", evID, n)
		}
	}
}
