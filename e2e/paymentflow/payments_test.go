package paymentflow_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/ids"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/flowtest"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/vrp"
)

// seed is the API overview's payment body plus what a bank needs from Tok's customer.
func seed(extra string) string {
	return `{"creditorIban":"RS35105008123123123173","amount":"1500.00","currency":"RSD","remittanceInfo":"Invoice INV-2026-042",` +
		`"bankId":"sandbox-rs","callbackUrl":"https://app.example.com/pay/cb?order=42"` + extra + `}`
}

// TestPaymentFlow: the seed's payment through the bank's SCA as demo, the callback, the
// poller to COMPLETED; events once each; reads, filters, tenancy and cancellation rules.
func TestPaymentFlow(t *testing.T) {
	f, org, keys := setup(t)
	other, otherKeys := f.Org()
	_ = other

	created := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create")
	id := created["id"].(string)
	if created["status"] != pay.StatusAwaiting || created["paymentProduct"] != "domestic-credit-transfers" || created["amount"] != "1500.0000" ||
		created["endToEndId"] != id || !strings.Contains(created["redirectUrl"].(string), "/oauth2/authorize?") {
		t.Fatalf("created %v", created)
	}

	to := f.authorise(created["redirectUrl"].(string), "demo", "approve")
	if to.Host != "app.example.com" || to.Query().Get("paymentId") != id || to.Query().Get("status") != pay.StatusPending || to.Query().Get("order") != "42" {
		t.Fatalf("back at the app with %s", to)
	}
	if reqs := flowtest.Received(t, f.polls, 1, 5*time.Second); len(reqs) != 1 || !strings.Contains(string(reqs[0].Data), id) {
		t.Fatalf("the callback requested %d polls", len(reqs))
	}
	got := f.Expect(f.Call("GET", "/v1/payments/"+id, keys.SandboxKey, ""), 200, "get pending")
	if got["status"] != pay.StatusPending || got["bankStatus"] != "ACSP" || got["redirectUrl"] != nil {
		t.Fatalf("after SCA %v", got)
	}
	f.clock.Add(3 * time.Second) // the sandbox bank settles 2 s after SCA
	if err := f.svc.Poll(f.Ctx, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}, id); err != nil {
		t.Fatal(err)
	}
	done := f.Expect(f.Call("GET", "/v1/payments/"+id, keys.SandboxKey, ""), 200, "get completed")
	hist := done["statusHistory"].([]any)
	var seq []string
	for _, h := range hist {
		seq = append(seq, h.(map[string]any)["status"].(string))
	}
	if done["status"] != pay.StatusCompleted || done["bankStatus"] != "ACSC" || !slices.Equal(seq, []string{"AWAITING_AUTHORIZATION", "PENDING", "COMPLETED"}) {
		t.Fatalf("completed %v (history %v)", done, seq)
	}
	// Polling a completed payment again changes nothing.
	if err := f.svc.Poll(f.Ctx, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}, id); err != nil {
		t.Fatal(err)
	}
	evs := paymentEvents(t, f.events, 3)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.ID != pay.EventID(tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}, id, e.Type) {
			t.Errorf("%s has ID %s, not the derived one", e.Type, e.ID)
		}
	}
	sort.Strings(types)
	if !slices.Equal(types, []string{"payment.authorized", "payment.completed", "payment.created"}) {
		t.Fatalf("events %v", types)
	}

	t.Run("tenancy", func(t *testing.T) {
		for _, k := range []string{otherKeys.SandboxKey, keys.LiveKey} {
			for _, m := range []string{"GET", "DELETE"} {
				r := f.Call(m, "/v1/payments/"+id, k, "")
				if r.Code != 404 || !strings.Contains(string(r.Body), `"NOT_FOUND"`) {
					t.Errorf("%s with another tenant's key: %d %s", m, r.Code, r.Body)
				}
			}
			l := f.Expect(f.Call("GET", "/v1/payments", k, ""), 200, "other list")
			if len(l["data"].([]any)) != 0 {
				t.Errorf("another tenant lists %v", l["data"])
			}
		}
	})

	t.Run("cancel rules", func(t *testing.T) {
		if r := f.Call("DELETE", "/v1/payments/"+id, keys.SandboxKey, ""); r.Code != 409 {
			t.Errorf("cancel completed: %d %s", r.Code, r.Body)
		}
		a := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create to cancel")
		c := f.Expect(f.Call("DELETE", "/v1/payments/"+a["id"].(string), keys.SandboxKey, ""), 200, "cancel awaiting")
		if c["status"] != pay.StatusCancelled || c["statusReason"] != pay.ReasonCancelledByRequest {
			t.Fatalf("cancelled %v", c)
		}
		// The bank's page no longer takes the cancelled payment, and Tok's state is gone.
		resp, err := f.Browser.Get(a["redirectUrl"].(string))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Errorf("bank SCA page for a cancelled payment: %d", resp.StatusCode)
		}
	})

	t.Run("list", func(t *testing.T) {
		all := f.Expect(f.Call("GET", "/v1/payments", keys.SandboxKey, ""), 200, "list")
		data := all["data"].([]any)
		if len(data) != 2 {
			t.Fatalf("list %d", len(data))
		}
		if a, b := data[0].(map[string]any)["createdAt"].(string), data[1].(map[string]any)["createdAt"].(string); a < b {
			t.Errorf("not newest first: %s before %s", a, b)
		}
		st := f.Expect(f.Call("GET", "/v1/payments?status=COMPLETED", keys.SandboxKey, ""), 200, "by status")
		if d := st["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != id {
			t.Errorf("status=COMPLETED %v", d)
		}
		page := f.Expect(f.Call("GET", "/v1/payments?limit=1", keys.SandboxKey, ""), 200, "page 1")
		next := f.Expect(f.Call("GET", "/v1/payments?limit=1&cursor="+page["nextCursor"].(string), keys.SandboxKey, ""), 200, "page 2")
		if page["hasMore"] != true || next["hasMore"] != false || next["data"].([]any)[0].(map[string]any)["id"] == page["data"].([]any)[0].(map[string]any)["id"] {
			t.Errorf("pages %v / %v", page, next)
		}
		tomorrow := f.clock.Now().AddDate(0, 0, 1).Format(time.DateOnly)
		if d := f.Expect(f.Call("GET", "/v1/payments?createdFrom="+tomorrow, keys.SandboxKey, ""), 200, "from tomorrow")["data"].([]any); len(d) != 0 {
			t.Errorf("createdFrom tomorrow: %d", len(d))
		}
		for _, q := range []string{"status=DONE", "createdFrom=yesterday", "cursor=bm9wZQ", "accountId=txn_1", "limit=0"} {
			if r := f.Call("GET", "/v1/payments?"+q, keys.SandboxKey, ""); r.Code != 400 {
				t.Errorf("%s: %d", q, r.Code)
			}
		}
	})
}

// TestPersonaOutcomes: broke is rejected for insufficient funds, deny at SCA, down fails.
func TestPersonaOutcomes(t *testing.T) {
	f, _, keys := setup(t)
	for _, c := range []struct{ persona, decision, status, reason string }{
		{"broke", "approve", pay.StatusRejected, pay.ReasonInsufficientFunds},
		{"deny", "approve", pay.StatusRejected, pay.ReasonDeniedByUser},
		{"demo", "deny", pay.StatusRejected, pay.ReasonDeniedByUser},
		{"down", "approve", pay.StatusFailed, pay.ReasonBankUnavailable},
	} {
		p := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create")
		to := f.authorise(p["redirectUrl"].(string), c.persona, c.decision)
		if to.Query().Get("status") != c.status || to.Query().Get("statusReason") != c.reason {
			t.Errorf("%s/%s: back at the app with %s", c.persona, c.decision, to.RawQuery)
		}
		got := f.Expect(f.Call("GET", "/v1/payments/"+p["id"].(string), keys.SandboxKey, ""), 200, "get")
		if got["status"] != c.status || got["statusReason"] != c.reason {
			t.Errorf("%s/%s: %v %v", c.persona, c.decision, got["status"], got["statusReason"])
		}
	}
}

// TestScheduledPayment: a future-dated payment is SCHEDULED after SCA and completes on its
// date (the bank's clock); another is cancelled while scheduled.
func TestScheduledPayment(t *testing.T) {
	f, org, keys := setup(t)
	tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	date := f.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	ids := []string{}
	for range 2 {
		p := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed(`,"executionDate":"`+date+`"`)), 201, "create")
		if p["executionDate"] != date {
			t.Fatalf("created %v", p)
		}
		if to := f.authorise(p["redirectUrl"].(string), "demo", "approve"); to.Query().Get("status") != pay.StatusScheduled {
			t.Fatalf("after SCA: %s", to.RawQuery)
		}
		ids = append(ids, p["id"].(string))
	}
	c := f.Expect(f.Call("DELETE", "/v1/payments/"+ids[1], keys.SandboxKey, ""), 200, "cancel scheduled")
	if c["status"] != pay.StatusCancelled {
		t.Fatalf("cancel scheduled: %v", c)
	}
	if err := f.svc.Poll(f.Ctx, tn, ids[0]); err != nil {
		t.Fatal(err)
	}
	if g := f.Expect(f.Call("GET", "/v1/payments/"+ids[0], keys.SandboxKey, ""), 200, "before the date"); g["status"] != pay.StatusScheduled {
		t.Fatalf("before the date: %v", g["status"])
	}
	f.clock.Add(3 * 24 * time.Hour)
	if err := f.svc.Poll(f.Ctx, tn, ids[0]); err != nil {
		t.Fatal(err)
	}
	if g := f.Expect(f.Call("GET", "/v1/payments/"+ids[0], keys.SandboxKey, ""), 200, "on the date"); g["status"] != pay.StatusCompleted {
		t.Fatalf("on the date: %v", g["status"])
	}
	if r := f.Call("DELETE", "/v1/payments/"+ids[0], keys.SandboxKey, ""); r.Code != 409 {
		t.Errorf("cancel executed: %d", r.Code)
	}
}

// TestIdempotencyAndValidation: 50 concurrent POSTs with one key make one payment; the same
// key with another body is 422; every bad input is a 400 (404 for another organisation's
// account) in the envelope and creates nothing.
func TestIdempotencyAndValidation(t *testing.T) {
	f, org, keys := setup(t)
	other, _ := f.Org()
	_ = other
	// One request first: a key this instance has not verified yet costs the client address a
	// token of the unauthenticated limit (burst 10), which 50 first requests would exceed.
	f.Expect(f.Call("GET", "/v1/payments", keys.SandboxKey, ""), 200, "warm the key")
	var wg sync.WaitGroup
	results := make([]flowtest.Response, 50)
	for i := range results {
		wg.Go(func() {
			results[i] = f.Call("POST", "/v1/payments", keys.SandboxKey, seed(""), "Idempotency-Key", "order-42")
		})
	}
	wg.Wait()
	seen := map[string]int{}
	replayed := 0
	for _, r := range results {
		if r.Code != 201 {
			t.Fatalf("concurrent POST: %d %s", r.Code, r.Body)
		}
		seen[r.JSON(t)["id"].(string)]++
		if r.Header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if len(seen) != 1 || replayed != 49 || f.count(org.ID) != 1 {
		t.Fatalf("50 concurrent POSTs: ids %v, %d replayed, %d stored", seen, replayed, f.count(org.ID))
	}
	if r := f.Call("POST", "/v1/payments", keys.SandboxKey, seed(`,"endToEndId":"OTHER"`), "Idempotency-Key", "order-42"); r.Code != 422 || !strings.Contains(string(r.Body), "IDEMPOTENCY_KEY_REUSED") {
		t.Errorf("same key, other body: %d %s", r.Code, r.Body)
	}

	otherAccount := ids.New(ids.Account)
	tomorrow := f.clock.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := f.clock.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	for name, c := range map[string]struct {
		body string
		code int
	}{
		"bad IBAN":               {strings.Replace(seed(""), "123173", "123174", 1), 400},
		"zero amount":            {strings.Replace(seed(""), `"1500.00"`, `"0.00"`, 1), 400},
		"negative amount":        {strings.Replace(seed(""), `"1500.00"`, `"-1500.00"`, 1), 400},
		"amount as a number":     {strings.Replace(seed(""), `"1500.00"`, `1500.00`, 1), 400},
		"too many decimals":      {strings.Replace(seed(""), `"1500.00"`, `"1500.001"`, 1), 400},
		"unknown currency":       {strings.Replace(seed(""), `"RSD"`, `"XYZ"`, 1), 400},
		"over the bank's max":    {strings.Replace(seed(""), `"1500.00"`, `"12000000.01"`, 1), 400},
		"past executionDate":     {seed(`,"executionDate":"` + yesterday + `"`), 400},
		"unknown field":          {seed(`,"priority":"high"`), 400},
		"another org's account":  {strings.Replace(seed(""), `"bankId":"sandbox-rs"`, `"accountId":"`+otherAccount+`"`, 1), 404},
		"currency account lacks": {seed(`,"executionDate":"` + tomorrow + `","instant":true`), 400},
		"remittance too long":    {strings.Replace(seed(""), "Invoice INV-2026-042", strings.Repeat("x", 141), 1), 400},
		"not JSON":               {`{"creditorIban":`, 400},
	} {
		r := f.Call("POST", "/v1/payments", keys.SandboxKey, c.body)
		if r.Code != c.code {
			t.Errorf("%s: %d %s", name, r.Code, r.Body)
		}
	}
	if n := f.count(org.ID); n != 1 {
		t.Errorf("bad requests stored payments: %d", n)
	}
	if r := f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")+" "); r.Code != 201 {
		t.Errorf("a good request after the bad ones: %d", r.Code)
	}
}

// TestPaymentCallbackNeedsTheBanksAnswer: a payment's state with another payment's code, a
// made-up or missing code is a 400 that changes nothing; the real redirect then authorises.
func TestPaymentCallbackNeedsTheBanksAnswer(t *testing.T) {
	f, _, keys := setup(t)
	a := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create a")
	b := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create b")
	locA := sandboxtest.SCA(t, f.Browser, a["redirectUrl"].(string), "demo", "demo", "approve")
	locB := sandboxtest.SCA(t, f.Browser, b["redirectUrl"].(string), "demo", "demo", "approve")
	s := url.QueryEscape(locA.Query().Get("state"))
	for _, raw := range []string{
		"state=" + s + "&code=" + url.QueryEscape(locB.Query().Get("code")),
		"state=" + s + "&code=made-up",
		"state=" + s,
		"state=" + s + "&code=" + strings.Repeat("c", 100_000),
		"state=" + s + "&error=nonsense",
	} {
		rec := apitest.Do(t, f.Callback, httptest.NewRequest(http.MethodGet, "/v1/callback?"+raw, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%.80s: %d %.200s", raw, rec.Code, rec.Body)
		}
	}
	if got := f.Expect(f.Call("GET", "/v1/payments/"+a["id"].(string), keys.SandboxKey, ""), 200, "get"); got["status"] != pay.StatusAwaiting {
		t.Fatalf("a forged callback moved the payment to %v", got["status"])
	}
	for _, loc := range []*url.URL{locA, locB} {
		if to := f.follow(loc); to.Query().Get("status") == pay.StatusFailed || to.Query().Get("status") == pay.StatusRejected {
			t.Errorf("real redirect: back at the app with %s", to.RawQuery)
		}
	}
}

// TestCallbackCodeAttemptsAreBounded: under one payment's or VRP consent's state, codes the
// bank refuses change nothing, but only authstate.MaxCodeAttempts of them reach the bank;
// the next attempt, the real code included, consumes the state, answers 400 and leaves the
// resource awaiting, to end as an abandoned authorisation does.
func TestCallbackCodeAttemptsAreBounded(t *testing.T) {
	f, _, keys := setup(t)
	p := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create payment")
	v := f.Expect(f.Call("POST", "/v1/vrp-consents", keys.SandboxKey, vrpConsentBody("")), 201, "create vrp consent")
	for _, c := range []struct {
		what, get, awaiting string
		res                 map[string]any
	}{
		{"payment", "/v1/payments/", pay.StatusAwaiting, p},
		{"VRP consent", "/v1/vrp-consents/", vrp.StatusAwaiting, v},
	} {
		loc := sandboxtest.SCA(t, f.Browser, c.res["redirectUrl"].(string), "demo", "demo", "approve")
		state := loc.Query().Get("state")
		try := func(code string) *httptest.ResponseRecorder {
			return apitest.Do(t, f.Callback, httptest.NewRequest(http.MethodGet,
				"/v1/callback?state="+url.QueryEscape(state)+"&code="+url.QueryEscape(code), nil))
		}
		for i := range authstate.MaxCodeAttempts {
			if r := try(fmt.Sprintf("made-up-%d", i)); r.Code != http.StatusBadRequest || !strings.Contains(r.Body.String(), "could not be read") {
				t.Fatalf("%s: made-up code %d: %d %.300s", c.what, i, r.Code, r.Body)
			}
		}
		r := try(loc.Query().Get("code"))
		if r.Code != http.StatusBadRequest || !strings.Contains(r.Body.String(), "Too many attempts") {
			t.Errorf("%s: the real code after the attempts were spent: %d %.300s", c.what, r.Code, r.Body)
		}
		if _, err := f.FS.Collection(authstate.Collection).Doc(authstate.Hash(state)).Get(f.Ctx); status.Code(err) != codes.NotFound {
			t.Errorf("%s: the state is still pending (%v)", c.what, err)
		}
		if got := f.Expect(f.Call("GET", c.get+c.res["id"].(string), keys.SandboxKey, ""), 200, "get"); got["status"] != c.awaiting {
			t.Errorf("%s: refused codes moved it to %v", c.what, got["status"])
		}
		if r := try(loc.Query().Get("code")); r.Code != http.StatusBadRequest || !strings.Contains(r.Body.String(), "no longer valid") {
			t.Errorf("%s: the real code once the state is consumed: %d %.300s", c.what, r.Code, r.Body)
		}
	}
}
