package paymentflow_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/orgs"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/flowtest"
)

var refundKeys atomic.Int64

// refund posts a refund of payment id with a fresh Idempotency-Key.
func (f *fixture) refund(key, id, body string) flowtest.Response {
	f.T.Helper()
	return f.Call("POST", "/v1/payments/"+id+"/refunds", key, body, "Idempotency-Key", fmt.Sprintf("rf-%d", refundKeys.Add(1)))
}

// authoriseRefund walks the organisation's SCA of a refund as demo and polls it to its end.
func (f *fixture) authoriseRefund(orgID, key string, refund map[string]any) map[string]any {
	f.T.Helper()
	id := refund["id"].(string)
	to := f.authorise(refund["redirectUrl"].(string), "demo", "approve")
	if to.Query().Get("refundId") != id || to.Query().Get("status") != pay.StatusPending {
		f.T.Fatalf("back at the app after the refund's SCA: %s", to)
	}
	f.clock.Add(3 * time.Second)
	if err := f.svc.Poll(f.Ctx, tenant.Tenant{Env: tenant.Sandbox, OrgID: orgID}, id); err != nil {
		f.T.Fatal(err)
	}
	return f.Expect(f.Call("GET", "/v1/refunds/"+id, key, ""), 200, "refund "+id)
}

func (f *fixture) countRefunds(orgID string) int {
	f.T.Helper()
	docs, err := f.FS.Collection("envs").Doc(tenant.Sandbox).Collection("orgs").Doc(orgID).Collection(pay.RefundsCollection).Documents(f.Ctx).GetAll()
	if err != nil {
		f.T.Fatal(err)
	}
	return len(docs)
}

// refundSetup starts a refund test: an organisation with a payment completed that it may
// refund (the payment names its creditor), and another organisation.
func refundSetup(t *testing.T) (f *fixture, org orgs.Org, keys, other orgs.NewKeyPair, paid map[string]any) {
	t.Helper()
	f, org, keys = setup(t)
	_, other = f.Org()
	key := keys.SandboxKey
	paid = f.complete(org.ID, key, f.Expect(f.Call("POST", "/v1/payments", key, seed(`,"creditorName":"Bilko d.o.o."`)), 201, "payment"))
	return f, org, keys, other, paid
}

// TestRefunds: a completed payment by bankId; the organisation's refund account connected
// as demo and named with PATCH /v1/organisation; two partial refunds authorised and
// COMPLETED (the payment's refundedAmount and refundStatus follow); a third over what is
// left answers 422 with what is left; 20 concurrent refunds of the remainder create exactly
// one; 50 concurrent refunds of another payment never add up to more than it; three
// refunds in a batch go through one SCA; a payment not completed answers 409; bad input
// 400 with nothing created; another organisation's payment or refund 404; the refunds are
// reconciled on the refund account, debit and credit.
func TestRefunds(t *testing.T) {
	f, org, keys, otherKeys, paid := refundSetup(t)
	key, id := keys.SandboxKey, paid["id"].(string)
	paymentEvents(t, f.events, 3)

	// No refund account yet, and a payment not completed.
	if r := f.refund(key, id, `{"amount":"1.00"}`); r.Code != 400 || !strings.Contains(string(r.Body), "accountId") {
		t.Fatalf("without a refund account: %d %s", r.Code, r.Body)
	}
	acc := f.connect(key, `["balances","transactions"]`, "demo")
	awaiting := f.Expect(f.Call("POST", "/v1/payments", key, seed("")), 201, "awaiting")
	if r := f.refund(key, awaiting["id"].(string), `{"accountId":"`+acc+`"}`); r.Code != 409 {
		t.Fatalf("refund of a payment awaiting authorisation: %d %s", r.Code, r.Body)
	}
	otherAcc := f.connect(otherKeys.SandboxKey, `["balances"]`, "demo")
	if r := f.Call("PATCH", "/v1/organisation", key, `{"refundAccountId":"`+otherAcc+`"}`); r.Code != 404 {
		t.Fatalf("another organisation's account as refund account: %d %s", r.Code, r.Body)
	}
	o := f.Expect(f.Call("PATCH", "/v1/organisation", key, `{"refundAccountId":"`+acc+`"}`), 200, "refund account")
	if o["refundAccountId"] != acc || o["environment"] != tenant.Sandbox {
		t.Fatalf("organisation %v", o)
	}
	// The organisation's default callback URL (a live setting) is where refunds return.
	if o := f.Expect(f.Call("PATCH", "/v1/organisation", keys.LiveKey, `{"callbackUrl":"https://app.example.com/refunds/cb"}`), 200, "live view"); o["refundAccountId"] != nil {
		t.Fatalf("the sandbox refund account shows in live: %v", o)
	}

	// Bad input: 400 and nothing created.
	before := f.countRefunds(org.ID)
	for _, b := range []string{`{"amount":"0"}`, `{"amount":"-5.00"}`, `{"amount":"1.234"}`, `{"amount":"abc"}`, `{"amount":"1.00","extra":1}`,
		`{"amount":"1.00","reason":"` + strings.Repeat("x", 141) + `"}`, `{"amount":"1.00","accountId":"acc_nope"}`, `{"amount":"1.00","callbackUrl":"https://evil.example.org/cb"}`} {
		if r := f.refund(key, id, b); r.Code != 400 {
			t.Errorf("%s: %d %s", b, r.Code, r.Body)
		}
	}
	if r := f.Call("POST", "/v1/payments/"+id+"/refunds", key, `{"amount":"1.00"}`); r.Code != 400 || !strings.Contains(string(r.Body), "Idempotency-Key") {
		t.Errorf("without Idempotency-Key: %d %s", r.Code, r.Body)
	}
	if n := f.countRefunds(org.ID); n != before {
		t.Fatalf("bad input created %d refunds", n-before)
	}

	// Two partial refunds, each authorised by the organisation at its bank.
	first := f.Expect(f.refund(key, id, `{"amount":"500.00","reason":"Damaged goods"}`), 201, "first refund")
	if first["status"] != pay.StatusAwaiting || first["amount"] != "500.0000" || first["creditorIban"] != paid["debtorIban"] ||
		first["creditorName"] != "Marko Petrović" || first["accountId"] != acc || first["paymentId"] != id || first["redirectUrl"] == nil {
		t.Fatalf("first refund %v", first)
	}
	if got := f.authoriseRefund(org.ID, key, first); got["status"] != pay.StatusCompleted {
		t.Fatalf("first refund %v", got)
	}
	p := f.Expect(f.Call("GET", "/v1/payments/"+id, key, ""), 200, "after one refund")
	if p["refundedAmount"] != "500.0000" || p["refundStatus"] != pay.RefundPartial {
		t.Fatalf("after the first refund: %v %v", p["refundedAmount"], p["refundStatus"])
	}
	second := f.Expect(f.refund(key, id, `{"amount":"700.00"}`), 201, "second refund")
	if got := f.authoriseRefund(org.ID, key, second); got["status"] != pay.StatusCompleted {
		t.Fatalf("second refund %v", got)
	}
	r := f.refund(key, id, `{"amount":"400.00"}`)
	if r.Code != 422 || !strings.Contains(string(r.Body), "REFUND_EXCEEDS_PAYMENT") || !strings.Contains(string(r.Body), "300.00") {
		t.Fatalf("over what is left: %d %s", r.Code, r.Body)
	}

	// 20 concurrent refunds of the remainder: exactly one.
	codes := f.parallel(20, func(int) flowtest.Response { return f.refund(key, id, `{}`) })
	if codes[201] != 1 || codes[422] != 19 {
		t.Fatalf("20 refunds of the remainder: %v", codes)
	}
	rest := f.Expect(f.Call("GET", "/v1/refunds?paymentId="+id+"&status=AWAITING_AUTHORIZATION", key, ""), 200, "the remainder")["data"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["amount"] != "300.0000" {
		t.Fatalf("the remainder's refund: %v", rest)
	}
	if all := f.Expect(f.Call("GET", "/v1/payments/"+id+"/refunds", key, ""), 200, "refunds of the payment")["data"].([]any); len(all) != 3 {
		t.Fatalf("%d refunds of the payment", len(all))
	}
	types := map[string]int{}
	for _, e := range eventsOf(t, f.events, "refund.", 20) {
		types[e.Type]++
	}
	if types["refund.created"] != 3 || types["refund.authorized"] != 2 || types["refund.completed"] != 2 {
		t.Errorf("refund events %v", types)
	}

	// 50 concurrent refunds of 100.00 of a 1500.00 payment: never more than 1500.00.
	paid2 := f.complete(org.ID, key, f.Expect(f.Call("POST", "/v1/payments", key, seed(`,"creditorName":"Bilko d.o.o."`)), 201, "second payment"))
	id2 := paid2["id"].(string)
	codes = f.parallel(50, func(int) flowtest.Response { return f.refund(key, id2, `{"amount":"100.00"}`) })
	if codes[201] != 15 || codes[422] != 35 {
		t.Fatalf("50 refunds of 100.00: %v", codes)
	}
	list := f.Expect(f.Call("GET", "/v1/refunds?paymentId="+id2+"&limit=100", key, ""), 200, "refunds of the second")["data"].([]any)
	sum := decimal.Zero
	for _, x := range list {
		sum = sum.Add(decimal.RequireFromString(x.(map[string]any)["amount"].(string)))
	}
	if len(list) != 15 || !sum.Equal(decimal.RequireFromString("1500")) {
		t.Fatalf("%d refunds adding up to %s", len(list), sum)
	}

	// Three of them in one batch: one SCA, each refund COMPLETED.
	var three []string
	for _, x := range list[:3] {
		three = append(three, `"`+x.(map[string]any)["id"].(string)+`"`)
	}
	batch := f.Expect(f.Call("POST", "/v1/refund-batches", key, `{"refundIds":[`+strings.Join(three, ",")+`]}`, "Idempotency-Key", "batch-1"), 201, "batch")
	if batch["status"] != pay.BatchAwaiting || batch["amount"] != "300.0000" || batch["redirectUrl"] == nil {
		t.Fatalf("batch %v", batch)
	}
	if r := f.Call("POST", "/v1/refund-batches", key, `{"refundIds":[`+three[0]+`]}`, "Idempotency-Key", "batch-2"); r.Code != 409 {
		t.Fatalf("a refund batched twice: %d %s", r.Code, r.Body)
	}
	to := f.authorise(batch["redirectUrl"].(string), "demo", "approve")
	if to.Query().Get("batchId") != batch["id"] || to.Query().Get("status") != pay.BatchAuthorized {
		t.Fatalf("back at the app after the batch's SCA: %s", to)
	}
	f.clock.Add(3 * time.Second)
	for _, q := range three {
		rid := strings.Trim(q, `"`)
		if err := f.svc.Poll(f.Ctx, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}, rid); err != nil {
			t.Fatal(err)
		}
		if got := f.Expect(f.Call("GET", "/v1/refunds/"+rid, key, ""), 200, "batched refund"); got["status"] != pay.StatusCompleted || got["batchId"] != batch["id"] {
			t.Errorf("batched refund %v", got)
		}
	}
	if p := f.Expect(f.Call("GET", "/v1/payments/"+id2, key, ""), 200, "batched payment"); p["refundedAmount"] != "300.0000" {
		t.Errorf("after the batch: refunded %v", p["refundedAmount"])
	}

	// Tenancy: another organisation, or the live key, sees none of it.
	for _, k := range []string{otherKeys.SandboxKey, keys.LiveKey} {
		for _, path := range []string{"/v1/refunds/" + first["id"].(string), "/v1/payments/" + id + "/refunds", "/v1/refund-batches/" + batch["id"].(string)} {
			if r := f.Call("GET", path, k, ""); r.Code != 404 {
				t.Errorf("GET %s with another key: %d", path, r.Code)
			}
		}
		if r := f.refund(k, id, `{"amount":"1.00"}`); r.Code != 404 {
			t.Errorf("refund with another key: %d", r.Code)
		}
	}
	if r := f.Call("GET", "/v1/payments/"+first["id"].(string), key, ""); r.Code != 404 {
		t.Errorf("a refund read as a payment: %d", r.Code)
	}

	// Reconciliation on the refund account: the debit, and the credit (the payer is the same
	// demo account here).
	f.sync(org.ID, key, acc)
	got := f.Expect(f.Call("GET", "/v1/refunds/"+first["id"].(string), key, ""), 200, "reconciled refund")
	if got["transactionId"] == nil || got["creditTransactionId"] == nil || got["reconciledAt"] == nil {
		t.Fatalf("refund not reconciled: %v", got)
	}
	txn := f.Expect(f.Call("GET", "/v1/accounts/"+acc+"/transactions/"+got["transactionId"].(string), key, ""), 200, "refund debit")
	if txn["refundId"] != first["id"] || txn["direction"] != "outbound" || txn["amount"] != "500.0000" {
		t.Errorf("refund debit %v", txn)
	}
}

// parallel runs n requests at once and counts the answers by status code.
func (f *fixture) parallel(n int, do func(i int) flowtest.Response) map[int]int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	codes := map[int]int{}
	for i := range n {
		wg.Go(func() {
			r := do(i)
			mu.Lock()
			codes[r.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}

// TestRefundCancel: a refund awaiting authorisation is cancelled at the bank and at Tok
// (refund.cancelled once), and its amount is refundable again at once; a cancelled refund,
// one sent in a batch, and another organisation's answer 409, 409 and 404.
func TestRefundCancel(t *testing.T) {
	f, _, keys, otherKeys, paid := refundSetup(t)
	key, id := keys.SandboxKey, paid["id"].(string)
	acc := f.connect(key, `["balances","transactions"]`, "demo")
	f.Expect(f.Call("PATCH", "/v1/organisation", key, `{"refundAccountId":"`+acc+`"}`), 200, "refund account")
	whole := f.Expect(f.refund(key, id, `{"callbackUrl":"https://app.example.com/refunds/cb"}`), 201, "refund of the whole payment")
	if r := f.refund(key, id, `{"amount":"1.00"}`); r.Code != 422 {
		t.Fatalf("a refund beyond the whole: %d %s", r.Code, r.Body)
	}
	cancel := func(k, rid string) flowtest.Response {
		return f.Call("POST", "/v1/refunds/"+rid+"/cancel", k, "")
	}
	if r := cancel(otherKeys.SandboxKey, whole["id"].(string)); r.Code != 404 {
		t.Fatalf("another organisation cancels: %d %s", r.Code, r.Body)
	}
	if r := cancel(key, id); r.Code != 404 {
		t.Fatalf("a payment cancelled as a refund: %d %s", r.Code, r.Body)
	}
	got := f.Expect(cancel(key, whole["id"].(string)), 200, "cancel")
	if got["status"] != pay.StatusCancelled || got["statusReason"] != pay.ReasonCancelledByRequest {
		t.Fatalf("cancelled refund %v", got)
	}
	if r := cancel(key, whole["id"].(string)); r.Code != 409 {
		t.Fatalf("cancelled twice: %d %s", r.Code, r.Body)
	}
	// Its amount is refundable again, and a refund sent in a batch cannot be cancelled alone.
	again := f.Expect(f.refund(key, id, `{"amount":"1500.00","callbackUrl":"https://app.example.com/refunds/cb"}`), 201, "refund after the cancellation")
	f.Expect(f.Call("POST", "/v1/refund-batches", key, `{"refundIds":["`+again["id"].(string)+`"],"callbackUrl":"https://app.example.com/refunds/cb"}`, "Idempotency-Key", "batch-cancel"), 201, "batch")
	if r := cancel(key, again["id"].(string)); r.Code != 409 || !strings.Contains(string(r.Body), "batch") {
		t.Fatalf("a batched refund cancelled: %d %s", r.Code, r.Body)
	}
	types := map[string]int{}
	for _, e := range eventsOf(t, f.events, "refund.", 20) {
		if strings.Contains(string(e.Data), whole["id"].(string)) {
			types[e.Type]++
		}
	}
	if types["refund.created"] != 1 || types["refund.cancelled"] != 1 || len(types) != 2 {
		t.Errorf("the cancelled refund's events %v", types)
	}
}
