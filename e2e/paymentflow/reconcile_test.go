package paymentflow_test

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/banksync"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/transactions"
)

// sync runs the sync worker on the connection of account acc (as the sync request after a
// consent, or the scheduler's, would).
func (f *fixture) sync(orgID, key, acc string) {
	f.T.Helper()
	a := f.Expect(f.Call("GET", "/v1/accounts/"+acc, key, ""), 200, "account")
	if _, err := f.worker.Handle(f.Ctx, banksync.Request{Env: tenant.Sandbox, OrgID: orgID, ConnectionID: a["connectionId"].(string), Attended: true}); err != nil {
		f.T.Fatal(err)
	}
}

// complete walks a created payment through the bank's SCA as demo and polls it to COMPLETED.
func (f *fixture) complete(orgID, key string, created map[string]any) map[string]any {
	f.T.Helper()
	id := created["id"].(string)
	f.authorise(created["redirectUrl"].(string), "demo", "approve")
	f.clock.Add(3 * time.Second) // the sandbox bank settles 2 s after SCA
	if err := f.svc.Poll(f.Ctx, tenant.Tenant{Env: tenant.Sandbox, OrgID: orgID}, id); err != nil {
		f.T.Fatal(err)
	}
	p := f.Expect(f.Call("GET", "/v1/payments/"+id, key, ""), 200, "get "+id)
	if p["status"] != pay.StatusCompleted {
		f.T.Fatalf("payment not completed: %v", p)
	}
	return p
}

// TestReconciliation: a payment from a synced demo account (by accountId), and one where the
// customer picked the account at the bank (bankId), appear after the next sync as booked
// transactions with their paymentId; each payment shows its transactionId, reconciledAt and
// the debtor's name; payment.reconciled is published once, however often the account syncs.
// Without the end-to-end ID at the bank, amount, creditor IBAN and date still match.
func TestReconciliation(t *testing.T) {
	f, org, keys := setup(t)
	acc := f.connect(keys.SandboxKey, `["balances","transactions"]`, "demo")
	f.sync(org.ID, keys.SandboxKey, acc)
	account := f.Expect(f.Call("GET", "/v1/accounts/"+acc, keys.SandboxKey, ""), 200, "account")

	byAccount := f.complete(org.ID, keys.SandboxKey, f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey,
		strings.Replace(seed(""), `"bankId":"sandbox-rs"`, `"accountId":"`+acc+`","creditorName":"Bilko d.o.o."`, 1)), 201, "by account"))
	byBank := f.complete(org.ID, keys.SandboxKey, f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey,
		strings.Replace(seed(""), `"1500.00"`, `"733.10"`, 1)), 201, "by bank"))
	// The bank told which account the customer chose, and whose it is.
	if byBank["debtorIban"] != account["iban"] || byBank["debtorName"] != "Marko Petrović" || byAccount["debtorName"] != "Marko Petrović" {
		t.Fatalf("debtor of the bankId payment %v / %v, account %v", byBank["debtorIban"], byBank["debtorName"], account["iban"])
	}
	if byBank["transactionId"] != nil || byBank["reconciledAt"] != nil {
		t.Fatalf("reconciled before any sync: %v", byBank)
	}
	paymentEvents(t, f.events, 6) // created, authorized, completed of both

	f.sync(org.ID, keys.SandboxKey, acc)
	f.sync(org.ID, keys.SandboxKey, acc) // a second sync links nothing again
	for _, p := range []map[string]any{byAccount, byBank} {
		id := p["id"].(string)
		got := f.Expect(f.Call("GET", "/v1/payments/"+id, keys.SandboxKey, ""), 200, "reconciled "+id)
		txnID, _ := got["transactionId"].(string)
		if txnID == "" || got["reconciledAt"] == nil {
			t.Fatalf("payment %s not reconciled: %v", id, got)
		}
		txn := f.Expect(f.Call("GET", "/v1/accounts/"+acc+"/transactions/"+txnID, keys.SandboxKey, ""), 200, "transaction")
		if txn["paymentId"] != id || txn["status"] != "booked" || txn["direction"] != "outbound" || txn["amount"] != p["amount"] ||
			txn["endToEndId"] != p["endToEndId"] || txn["creditorIban"] != p["creditorIban"] {
			t.Errorf("transaction of %s: %v", id, txn)
		}
	}
	reconciled := 0
	for _, e := range paymentEvents(t, f.events, 2) {
		if e.Type == pay.EventReconciled {
			reconciled++
		}
	}
	if reconciled != 2 {
		t.Errorf("%d payment.reconciled events for 2 payments", reconciled)
	}

	// A bank that drops the end-to-end ID: unlink the bankId payment, blank the reference
	// on its transaction, and reconcile again.
	scope := store.For(f.FS, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID})
	id, txnID := byBank["id"].(string), ""
	if _, _, err := f.svc.Store.Update(f.Ctx, scope, id, func(p *pay.Payment, _ time.Time) (bool, error) {
		txnID, p.TransactionID, p.ReconciledAt = p.TransactionID, "", nil
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	txnRef := scope.Collection(transactions.AccountsCollection).Doc(acc).Collection(transactions.TransactionsCollection).Doc(txnID)
	if _, err := txnRef.Update(f.Ctx, []firestore.Update{{Path: "paymentId", Value: ""}, {Path: "endToEndId", Value: "BANK-OWN-REF"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.worker.Reconciler.Reconcile(f.Ctx, scope, acc, account["iban"].(string)); err != nil {
		t.Fatal(err)
	}
	if got := f.Expect(f.Call("GET", "/v1/payments/"+id, keys.SandboxKey, ""), 200, "relinked"); got["transactionId"] != txnID {
		t.Errorf("matched by amount, creditor and date: %v, want %s", got["transactionId"], txnID)
	}
}
