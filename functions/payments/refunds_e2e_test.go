package payments_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/orgs"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/webhookstest"
)

// TestRefundsThroughStack runs refunds through the whole local stack with a sandbox key:
// a payment completed after SCA as demo in headless Chromium; the organisation's refund
// account connected as demo and named with PATCH /v1/organisation; two partial refunds
// authorised in Chromium and COMPLETED by the payment-status function over Pub/Sub; a third
// over what is left 422 with what is left; 20 concurrent refunds of the remainder create
// exactly one; three refunds of another payment in one batch through one SCA; a payment not
// completed 409; the remainder's refund cancelled and refunded again; bad inputs 400 creating nothing; another organisation 404; and each
// refund's events delivered once each, signed, to the organisation's endpoint.
func TestRefundsThroughStack(t *testing.T) {
	st := localstacktest.Run(t, 8*time.Minute)
	// Enterprise: the concurrent requests stay inside the burst.
	_, keys := st.Org("Refunder Ltd", orgs.TierEnterprise, "https://app.example.com")
	key := keys.SandboxKey
	var idem atomic.Int64
	call := func(method, path, k, body string) (int, map[string]any) {
		t.Helper()
		if method == "POST" {
			return st.Call(method, path, k, body, "Idempotency-Key", fmt.Sprintf("refund-e2e-%d", idem.Add(1)))
		}
		return st.Call(method, path, k, body)
	}
	expect := func(want int, what, method, path, k, body string) map[string]any {
		t.Helper()
		code, m := call(method, path, k, body)
		if code != want {
			t.Fatalf("%s: %d %v", what, code, m)
		}
		return m
	}
	app := localstacktest.NewApp(t)
	callback := `"callbackUrl":"` + app.CallbackURL() + `"`
	payment := `{"creditorIban":"RS35105008123123123173","amount":"1500.00","currency":"RSD","remittanceInfo":"Invoice INV-2026-042",` +
		`"creditorName":"Bilko d.o.o.","bankId":"sandbox-rs",` + callback + `}`
	hooks := webhookstest.NewReceiver(t, nil)
	w := expect(201, "webhook", "POST", "/v1/webhooks", key, `{"url":"`+hooks.URL+`/hooks","events":["payment.completed",`+
		`"refund.created","refund.authorized","refund.completed","refund.rejected","refund.failed","refund.cancelled"]}`)
	secret := w["secret"].(string)
	browser := localstacktest.NewBrowser(t, 5*time.Minute, "refunds")
	shot := browser.Shot
	until := func(path, status string) map[string]any {
		t.Helper()
		for began := time.Now(); ; time.Sleep(250 * time.Millisecond) {
			code, m := call("GET", path, key, "")
			if code == 200 && m["status"] == status {
				return m
			}
			if time.Since(began) > time.Minute {
				t.Fatalf("%s not %s within a minute: %d %v", path, status, code, m)
			}
		}
	}
	// The organisation authorises its refund as demo at its bank, in Chromium.
	authorise := func(refund map[string]any, name string) map[string]any {
		t.Helper()
		id := refund["id"].(string)
		browser.Approve(refund["redirectUrl"].(string), "demo", shot(name))
		app.Back(t, "refundId", id, pay.StatusPending, pay.StatusCompleted)
		return until("/v1/refunds/"+id, pay.StatusCompleted)
	}

	// A payment completed after the payer's SCA in Chromium.
	p := expect(201, "payment", "POST", "/v1/payments", key, payment)
	id := p["id"].(string)
	browser.Approve(p["redirectUrl"].(string), "demo", shot("1-payment-paid"))
	app.Back(t, "paymentId", id, pay.StatusPending, pay.StatusCompleted)
	paid := until("/v1/payments/"+id, pay.StatusCompleted)
	if paid["debtorIban"] == nil || paid["refundStatus"] != pay.RefundNone {
		t.Fatalf("completed payment %v", paid)
	}

	// No refund account yet; then the organisation connects its own as demo and names it.
	if code, e := call("POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"1.00"}`); code != 400 || !strings.Contains(fmt.Sprint(e), "accountId") {
		t.Fatalf("without a refund account: %d %v", code, e)
	}
	c := expect(201, "consent", "POST", "/v1/consents", key, `{"bankId":"sandbox-rs",`+callback+`,"access":["balances","transactions"]}`)
	loc := sandboxtest.SCA(t, st.API.HTTP, c["redirectUrl"].(string), "demo", "demo", "approve")
	if resp := st.Callback(loc); resp.Status != 303 {
		t.Fatalf("consent callback: %d %s", resp.Status, resp.Body)
	}
	accounts := expect(200, "accounts", "GET", "/v1/accounts?consentId="+c["id"].(string)+"&currency=RSD", key, "")["data"].([]any)
	if len(accounts) == 0 {
		t.Fatal("no RSD account")
	}
	acc := accounts[0].(map[string]any)["id"].(string)
	if o := expect(200, "refund account", "PATCH", "/v1/organisation", key, `{"refundAccountId":"`+acc+`"}`); o["refundAccountId"] != acc {
		t.Fatalf("organisation %v", o)
	}

	// Bad input: 400 in the envelope, and nothing created.
	count := func() int {
		t.Helper()
		return len(expect(200, "refunds", "GET", "/v1/refunds?limit=500", key, "")["data"].([]any))
	}
	before := count()
	for _, b := range []string{`{"amount":"0"}`, `{"amount":"-5.00"}`, `{"amount":"1.234"}`, `{"amount":"abc"}`, `{"amount":1}`,
		`{"amount":"1.00","extra":1}`, `{"amount":"1.00","reason":"` + strings.Repeat("x", 141) + `"}`, `{"amount":"1.00","accountId":"acc_nope"}`,
		`{"amount":"1.00","callbackUrl":"https://evil.example.org/cb"}`, `{"amount":"1.00"`, `[]`} {
		code, e := call("POST", "/v1/payments/"+id+"/refunds", key, b)
		if errBody, _ := e["error"].(map[string]any); code != 400 || errBody["code"] != "VALIDATION_ERROR" || errBody["requestId"] == nil {
			t.Errorf("%s: %d %v", b, code, e)
		}
	}
	if code, e, _ := st.API.Call(st.Ctx, "POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"1.00"}`); code != 400 || !strings.Contains(fmt.Sprint(e), "Idempotency-Key") {
		t.Errorf("without Idempotency-Key: %d %v", code, e)
	}
	if n := count(); n != before {
		t.Fatalf("bad input created %d refunds", n-before)
	}

	// Two partial refunds, each authorised by the organisation and COMPLETED.
	first := expect(201, "first refund", "POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"500.00","reason":"Damaged goods",`+callback+`}`)
	if first["status"] != pay.StatusAwaiting || first["amount"] != "500.0000" || first["creditorIban"] != paid["debtorIban"] || first["accountId"] != acc {
		t.Fatalf("first refund %v", first)
	}
	authorise(first, "2-first-refund")
	if p := expect(200, "after one", "GET", "/v1/payments/"+id, key, ""); p["refundedAmount"] != "500.0000" || p["refundStatus"] != pay.RefundPartial {
		t.Fatalf("after the first refund: %v %v", p["refundedAmount"], p["refundStatus"])
	}
	second := expect(201, "second refund", "POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"700.00",`+callback+`}`)
	authorise(second, "3-second-refund")

	// A third over what is left: 422 with what is left.
	code, e := call("POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"400.00"}`)
	if errBody, _ := e["error"].(map[string]any); code != 422 || errBody["code"] != "REFUND_EXCEEDS_PAYMENT" || !strings.Contains(fmt.Sprint(errBody), "300.00") {
		t.Fatalf("over what is left: %d %v", code, e)
	}

	// 20 concurrent refunds of the remainder: exactly one.
	var mu sync.Mutex
	var wg sync.WaitGroup
	codes := map[int]int{}
	for range 20 {
		wg.Go(func() {
			code, _ := call("POST", "/v1/payments/"+id+"/refunds", key, `{`+callback+`}`)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[201] != 1 || codes[422] != 19 {
		t.Fatalf("20 refunds of the remainder: %v", codes)
	}
	rest := expect(200, "remainder", "GET", "/v1/refunds?paymentId="+id+"&status=AWAITING_AUTHORIZATION", key, "")["data"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["amount"] != "300.0000" {
		t.Fatalf("the remainder's refund: %v", rest)
	}
	remainder := rest[0].(map[string]any)["id"].(string)

	// Cancelled before its authorisation, the remainder's refund gives its amount back.
	if got := expect(200, "cancel", "POST", "/v1/refunds/"+remainder+"/cancel", key, ""); got["status"] != pay.StatusCancelled {
		t.Fatalf("cancelled refund %v", got)
	}
	if code, e := call("POST", "/v1/refunds/"+first["id"].(string)+"/cancel", key, ""); code != 409 {
		t.Fatalf("cancel of a completed refund: %d %v", code, e)
	}
	again := expect(201, "refund after the cancellation", "POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"300.00",`+callback+`}`)

	// A refund of a payment that is not completed: 409.
	awaiting := expect(201, "awaiting payment", "POST", "/v1/payments", key, payment)
	if code, e := call("POST", "/v1/payments/"+awaiting["id"].(string)+"/refunds", key, `{"amount":"1.00"}`); code != 409 {
		t.Fatalf("refund of a payment awaiting authorisation: %d %v", code, e)
	}

	// Three refunds of another payment in one batch: one SCA, each refund COMPLETED.
	p2 := expect(201, "second payment", "POST", "/v1/payments", key, payment)
	id2 := p2["id"].(string)
	browser.Approve(p2["redirectUrl"].(string), "demo")
	app.Back(t, "paymentId", id2, pay.StatusPending, pay.StatusCompleted)
	until("/v1/payments/"+id2, pay.StatusCompleted)
	var batched []string
	for range 3 {
		r := expect(201, "refund to batch", "POST", "/v1/payments/"+id2+"/refunds", key, `{"amount":"100.00",`+callback+`}`)
		batched = append(batched, r["id"].(string))
	}
	ids, _ := json.Marshal(batched)
	batch := expect(201, "batch", "POST", "/v1/refund-batches", key, `{"refundIds":`+string(ids)+`,`+callback+`}`)
	if batch["status"] != pay.BatchAwaiting || batch["amount"] != "300.0000" || batch["redirectUrl"] == nil {
		t.Fatalf("batch %v", batch)
	}
	if code, e := call("POST", "/v1/refund-batches", key, `{"refundIds":["`+batched[0]+`"]}`); code != 409 {
		t.Fatalf("a refund batched twice: %d %v", code, e)
	}
	browser.Approve(batch["redirectUrl"].(string), "demo", shot("4-batch"))
	app.Back(t, "batchId", batch["id"].(string), pay.BatchAuthorized)
	for _, rid := range batched {
		if got := until("/v1/refunds/"+rid, pay.StatusCompleted); got["batchId"] != batch["id"] {
			t.Errorf("batched refund %v", got)
		}
	}
	if p := expect(200, "batched payment", "GET", "/v1/payments/"+id2, key, ""); p["refundedAmount"] != "300.0000" || p["refundStatus"] != pay.RefundPartial {
		t.Errorf("after the batch: %v %v", p["refundedAmount"], p["refundStatus"])
	}

	// Another organisation, and the live key of this one, see none of it.
	for _, k := range st.Strangers(keys, orgs.TierEnterprise) {
		for _, path := range []string{"/v1/refunds/" + first["id"].(string), "/v1/payments/" + id + "/refunds", "/v1/refund-batches/" + batch["id"].(string)} {
			if code, _ := call("GET", path, k, ""); code != 404 {
				t.Errorf("GET %s with another key: %d", path, code)
			}
		}
		if code, _ := call("POST", "/v1/payments/"+id+"/refunds", k, `{"amount":"1.00"}`); code != 404 {
			t.Errorf("refund with another key: %d", code)
		}
	}

	// Every refund's events, each once and signed: created for all; authorized and
	// completed for the five authorised; cancelled for the remainder's; nothing else.
	completed := append([]string{first["id"].(string), second["id"].(string)}, batched...)
	want := len(completed)*3 + 2 + 1 + 2 // the remainder's created and cancelled, again's created, the payments' completed
	hooks.WaitFor(want, time.Minute)
	time.Sleep(2 * time.Second) // a repeated delivery would show now
	if types := webhookstest.Verified(t, secret, hooks.Requests()); types["refund.created"] != 7 || types["refund.authorized"] != 5 ||
		types["refund.completed"] != 5 || types["refund.cancelled"] != 1 || types["payment.completed"] != 2 || len(types) != 5 {
		t.Fatalf("webhook endpoint received %v", types)
	}
	perRefund := map[string]map[string]int{}
	for _, r := range hooks.Requests() {
		var ev struct {
			Type string
			Data struct{ RefundID string }
		}
		_ = json.Unmarshal(r.Body, &ev)
		if ev.Data.RefundID == "" {
			continue
		}
		if perRefund[ev.Data.RefundID] == nil {
			perRefund[ev.Data.RefundID] = map[string]int{}
		}
		perRefund[ev.Data.RefundID][ev.Type]++
	}
	for _, rid := range completed {
		if got := perRefund[rid]; got["refund.created"] != 1 || got["refund.authorized"] != 1 || got["refund.completed"] != 1 {
			t.Errorf("refund %s events %v", rid, got)
		}
	}
	if got := perRefund[remainder]; got["refund.created"] != 1 || got["refund.cancelled"] != 1 || len(got) != 2 {
		t.Errorf("the remainder's refund events %v", got)
	}
	if got := perRefund[again["id"].(string)]; got["refund.created"] != 1 || len(got) != 1 {
		t.Errorf("the refund after the cancellation: events %v", got)
	}
	t.Logf("screenshots in %s", browser.Dir)
}
