package paymentflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/events"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/flowtest"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/vrp"
)

// vrpConsentBody is a VRP consent at the Croatian sandbox bank: at most 60.00 EUR a payment
// and 100.00 EUR a calendar day.
func vrpConsentBody(extra string) string {
	return `{"bankId":"sandbox-hr","creditorIban":"HR1723600001101234565","creditorName":"Zajam d.o.o.","currency":"EUR",` +
		`"maximumIndividualAmount":"60.00","periodicLimits":[{"maximumAmount":"100.00","periodType":"DAY","periodAlignment":"CALENDAR"}],` +
		`"remittanceInfo":"Loan 42","callbackUrl":"https://app.example.com/vrp/cb","vrpType":"OTHER"` + extra + `}`
}

// authorisedVRP creates a VRP consent and authorises it as user at the bank; it returns the
// consent's ID.
func (f *fixture) authorisedVRP(key, user, extra string) string {
	f.T.Helper()
	c := f.Expect(f.Call("POST", "/v1/vrp-consents", key, vrpConsentBody(extra)), 201, "create vrp consent")
	if c["status"] != vrp.StatusAwaiting || !strings.Contains(c["redirectUrl"].(string), "scope=VRP%3A") {
		f.T.Fatalf("created %v", c)
	}
	to := f.authorise(c["redirectUrl"].(string), user, "approve")
	if to.Query().Get("vrpConsentId") != c["id"] || to.Query().Get("status") != vrp.StatusAuthorized {
		f.T.Fatalf("back at the app with %s", to)
	}
	return c["id"].(string)
}

func (f *fixture) payVRP(key, consentID, amount, idemKey string) flowtest.Response {
	f.T.Helper()
	return f.Call("POST", "/v1/vrps", key, `{"consentId":"`+consentID+`","amount":"`+amount+`","currency":"EUR","remittanceInfo":"Instalment"}`,
		"Idempotency-Key", idemKey)
}

// stored reads a VRP consent as Tok stores it.
func (f *fixture) stored(orgID, id string) vrp.Consent {
	f.T.Helper()
	snap, err := f.FS.Collection("envs").Doc(tenant.Sandbox).Collection("orgs").Doc(orgID).Collection(vrp.Collection).Doc(id).Get(f.Ctx)
	if err != nil {
		f.T.Fatal(err)
	}
	var c vrp.Consent
	if err := snap.DataTo(&c); err != nil {
		f.T.Fatal(err)
	}
	return c
}

// ledger is the bank's own record of a mandate's payments: how many it took (not
// rejected) and their sum.
func (f *fixture) ledger(bankID, mandateID string) (int, decimal.Decimal) {
	f.T.Helper()
	return sandboxtest.MandateLedger(f.Ctx, f.T, f.FS, bankID, mandateID)
}

// TestVRPLimitsUnderConcurrency: a consent with a 100.00 EUR daily limit and 60.00 per
// payment, authorised as demo; 50 concurrent payments of 10.00 complete exactly 10 and
// refuse 40 with LIMIT_EXCEEDED, and the bank's ledger agrees; 60.01 is refused; after
// revocation every payment is CONSENT_REVOKED. Reads, events and tenancy on the way.
func TestVRPLimitsUnderConcurrency(t *testing.T) {
	f, org, keys := setup(t)
	_, otherKeys := f.Org()
	tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	id := f.authorisedVRP(keys.SandboxKey, "demo", "")
	c := f.Expect(f.Call("GET", "/v1/vrp-consents/"+id, keys.SandboxKey, ""), 200, "get consent")
	rem := c["remaining"].(map[string]any)["periodicLimits"].([]any)[0].(map[string]any)
	if c["status"] != vrp.StatusAuthorized || rem["remaining"] != "100.0000" || c["timeZone"] != "Europe/Belgrade" {
		t.Fatalf("authorised consent %v", c)
	}

	const parallel = 50
	codes := make([]int, parallel)
	bodies := make([]map[string]any, parallel)
	var wg sync.WaitGroup
	for i := range parallel {
		wg.Go(func() {
			r := f.payVRP(keys.SandboxKey, id, "10.00", fmt.Sprintf("concurrent-%d", i))
			codes[i] = r.Code
			_ = json.Unmarshal(r.Body, &bodies[i])
		})
	}
	wg.Wait()
	created, refused := 0, 0
	for i, code := range codes {
		switch {
		case code == 201:
			created++
		case code == 422 && bodies[i]["error"].(map[string]any)["code"] == vrp.CodeLimitExceeded:
			refused++
			if d := bodies[i]["error"].(map[string]any)["details"].([]any)[0].(map[string]any); d["field"] != "periodicLimits[0]" || !strings.Contains(d["message"].(string), "0.00 EUR is left") {
				t.Errorf("refusal %d says %v", i, d)
			}
		default:
			t.Errorf("payment %d: %d %v", i, code, bodies[i])
		}
	}
	// A send the request could not finish in time is the status worker's: drive it until
	// every created payment is at the bank.
	var createdIDs []string
	for i, code := range codes {
		if code == 201 {
			createdIDs = append(createdIDs, bodies[i]["id"].(string))
		}
	}
	f.settleAtBank(tn, createdIDs)
	stored := f.stored(org.ID, id)
	n, sum := f.ledger("sandbox-hr", stored.BankMandateID)
	t.Logf("%d concurrent payments of 10.00 against 100.00: %d created, %d LIMIT_EXCEEDED; the bank took %d for %s", parallel, created, refused, n, sum)
	if created != 10 || refused != 40 || n != 10 || !sum.Equal(decimal.RequireFromString("100.00")) {
		t.Fatalf("created %d, refused %d; bank ledger %d payments, %s", created, refused, n, sum)
	}
	if stored.Occurrences != 10 || stored.Usage[mustKey(t, stored)].Minor != 10000 {
		t.Fatalf("counters %d occurrences, usage %v", stored.Occurrences, stored.Usage)
	}
	c = f.Expect(f.Call("GET", "/v1/vrp-consents/"+id, keys.SandboxKey, ""), 200, "get spent consent")
	rem = c["remaining"].(map[string]any)["periodicLimits"].([]any)[0].(map[string]any)
	loc, _ := time.LoadLocation("Europe/Belgrade")
	now := f.clock.Now().In(loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc).UTC().Format(time.RFC3339)
	if rem["used"] != "100.0000" || rem["remaining"] != "0.0000" || rem["resetsAt"] != midnight {
		t.Fatalf("remaining after the day's limit %v (midnight %s)", rem, midnight)
	}

	r := f.payVRP(keys.SandboxKey, id, "60.01", "too-much")
	if e := f.Expect(r, 422, "60.01")["error"].(map[string]any); e["details"].([]any)[0].(map[string]any)["field"] != "maximumIndividualAmount" {
		t.Fatalf("60.01: %v", e)
	}
	if r := f.Call("POST", "/v1/vrps", keys.SandboxKey, `{"consentId":"`+id+`","amount":"1.00","currency":"EUR"}`); r.Code != 400 {
		t.Fatalf("without Idempotency-Key: %d %s", r.Code, r.Body)
	}
	// A retry with a key already used answers the first response and pays nothing.
	again := f.payVRP(keys.SandboxKey, id, "10.00", "concurrent-0")
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v", again.Code, again.Header)
	}
	if n2, _ := f.ledger("sandbox-hr", stored.BankMandateID); n2 != 10 {
		t.Fatalf("the retry paid: the bank has %d payments", n2)
	}

	// The status worker follows a payment to COMPLETED; its events are the payment events.
	var payID string
	for i, code := range codes {
		if code == 201 {
			payID = bodies[i]["id"].(string)
			// bankStatus is ACSP when the request's own send finished within its deadline, and
			// null when the status worker sent it (settleAtBank above) on a busy machine.
			if bs := bodies[i]["bankStatus"]; bodies[i]["vrpConsentId"] != id || bodies[i]["status"] != pay.StatusPending || (bs != "ACSP" && bs != nil) {
				t.Fatalf("created %v", bodies[i])
			}
			break
		}
	}
	f.clock.Add(3 * time.Second)
	if err := f.svc.Poll(f.Ctx, tn, payID); err != nil {
		t.Fatal(err)
	}
	done := f.Expect(f.Call("GET", "/v1/vrps/"+payID, keys.SandboxKey, ""), 200, "get vrp")
	if done["status"] != pay.StatusCompleted || done["paymentProduct"] != vrp.Product {
		t.Fatalf("after the poll %v", done)
	}
	list := f.Expect(f.Call("GET", "/v1/vrp-consents/"+id+"/payments?limit=4", keys.SandboxKey, ""), 200, "consent payments")
	if len(list["data"].([]any)) != 4 || list["hasMore"] != true {
		t.Fatalf("first page of the consent's payments: %v", list)
	}
	all := f.Expect(f.Call("GET", "/v1/vrps?limit=500", keys.SandboxKey, ""), 200, "list vrps")
	if len(all["data"].([]any)) != 10 {
		t.Fatalf("GET /v1/vrps lists %d", len(all["data"].([]any)))
	}

	t.Run("tenancy", func(t *testing.T) {
		for _, k := range []string{otherKeys.SandboxKey, keys.LiveKey} {
			for _, c := range []struct{ method, path string }{
				{"GET", "/v1/vrp-consents/" + id}, {"DELETE", "/v1/vrp-consents/" + id}, {"GET", "/v1/vrp-consents/" + id + "/payments"},
				{"GET", "/v1/vrps/" + payID},
			} {
				if r := f.Call(c.method, c.path, k, ""); r.Code != 404 {
					t.Errorf("%s %s with another tenant's key: %d", c.method, c.path, r.Code)
				}
			}
			if r := f.payVRP(k, id, "1.00", "other-"+k[:12]); r.Code != 404 {
				t.Errorf("paying under another tenant's consent: %d %s", r.Code, r.Body)
			}
			if l := f.Expect(f.Call("GET", "/v1/vrps", k, ""), 200, "other list"); len(l["data"].([]any)) != 0 {
				t.Errorf("another tenant lists %d VRP payments", len(l["data"].([]any)))
			}
		}
		// A single payment is not a VRP payment.
		p := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "single payment")
		if r := f.Call("GET", "/v1/vrps/"+p["id"].(string), keys.SandboxKey, ""); r.Code != 404 {
			t.Errorf("a single payment read as a VRP: %d", r.Code)
		}
	})

	revoked := f.Expect(f.Call("DELETE", "/v1/vrp-consents/"+id, keys.SandboxKey, ""), 200, "revoke")
	if revoked["status"] != vrp.StatusRevoked {
		t.Fatalf("revoked %v", revoked)
	}
	f.clock.Add(24 * time.Hour) // a new day: only the revocation stops payments now
	for i, amount := range []string{"1.00", "10.00", "60.00"} {
		r := f.payVRP(keys.SandboxKey, id, amount, fmt.Sprintf("after-revoke-%d", i))
		if e := f.Expect(r, 403, "after revocation")["error"].(map[string]any); e["code"] != "CONSENT_REVOKED" {
			t.Fatalf("after revocation: %v", e)
		}
	}
	if n3, _ := f.ledger("sandbox-hr", stored.BankMandateID); n3 != 10 {
		t.Fatalf("the bank has %d payments after revocation", n3)
	}
	var types, consentTypes []string
	others := 0
	for _, m := range flowtest.Received(t, f.events, 1000, 5*time.Second) {
		var e struct {
			Type string
			Data json.RawMessage
		}
		_ = json.Unmarshal(m.Data, &e)
		switch {
		case strings.HasPrefix(e.Type, "vrp_consent."):
			consentTypes = append(consentTypes, e.Type)
		case strings.Contains(string(e.Data), payID):
			types = append(types, e.Type)
		case e.Type == pay.EventCreated && strings.Contains(string(e.Data), id):
			others++
		}
	}
	sort.Strings(types)
	sort.Strings(consentTypes)
	if !slices.Equal(types, []string{pay.EventAuthorized, pay.EventCompleted, pay.EventCreated}) || others != 9 {
		t.Fatalf("events of %s: %v; payment.created of the 9 others: %d", payID, types, others)
	}
	if !slices.Equal(consentTypes, []string{vrp.EventAuthorized, vrp.EventRevoked}) {
		t.Fatalf("consent events %v", consentTypes)
	}
}

// settleAtBank runs the status worker on the payments until the bank has each of them.
func (f *fixture) settleAtBank(tn tenant.Tenant, paymentIDs []string) {
	f.T.Helper()
	for deadline := time.Now().Add(90 * time.Second); ; {
		left := 0
		for _, pid := range paymentIDs {
			p, err := f.svc.Store.Get(f.Ctx, store.For(f.FS, tn), pid)
			if err != nil {
				f.T.Fatal(err)
			}
			if p.BankPaymentID == "" && !pay.Final(p.Status) {
				left++
				if err := f.svc.Poll(f.Ctx, tn, pid); err != nil {
					f.T.Fatal(err)
				}
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.T.Fatalf("%d payments still not at the bank", left)
		}
		time.Sleep(time.Second)
	}
}

// mustKey is the counter key of the consent's first limit now.
func mustKey(t *testing.T, c vrp.Consent) string {
	t.Helper()
	l, err := c.Limits()
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for k := range c.Usage {
		if strings.HasPrefix(k, "p0_") {
			key = k
		}
	}
	if key == "" {
		t.Fatalf("no counter in %v (limits %v)", c.Usage, l)
	}
	return key
}

// TestVRPRejectedReleasesReservation: a payment the bank rejects (no funds) gives its
// reservation back, so the day's limit is whole again.
func TestVRPRejectedReleasesReservation(t *testing.T) {
	f, org, keys := setup(t)
	id := f.authorisedVRP(keys.SandboxKey, "broke", "")
	p := f.Expect(f.payVRP(keys.SandboxKey, id, "60.00", "broke-1"), 201, "broke pays")
	if p["status"] != pay.StatusRejected || p["statusReason"] != pay.ReasonBankRejected && p["statusReason"] != pay.ReasonInsufficientFunds {
		t.Fatalf("payment of broke %v", p)
	}
	c := f.stored(org.ID, id)
	if c.Occurrences != 0 || c.Usage[mustKey(t, c)].Minor != 0 {
		t.Fatalf("the rejected payment still holds %v, %d occurrences", c.Usage, c.Occurrences)
	}
	got := f.Expect(f.Call("GET", "/v1/vrp-consents/"+id, keys.SandboxKey, ""), 200, "get")
	if rem := got["remaining"].(map[string]any)["periodicLimits"].([]any)[0].(map[string]any); rem["remaining"] != "100.0000" {
		t.Fatalf("remaining after a rejection %v", rem)
	}
	// A second poll of the rejected payment changes nothing (the release happens once).
	if err := f.svc.Poll(f.Ctx, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}, p["id"].(string)); err != nil {
		t.Fatal(err)
	}
	if c2 := f.stored(org.ID, id); c2.Usage[mustKey(t, c2)].Minor != 0 || c2.Occurrences != 0 {
		t.Fatalf("a second look released again: %v %d", c2.Usage, c2.Occurrences)
	}
}

// killBeforeVRP is a registry whose connectors die around InitiateVRP: before the bank
// gets the payment, or after the bank took it but before Tok hears the answer.
type killBeforeVRP struct {
	pay.Connectors
	afterBank bool
}

func (k killBeforeVRP) For(env, bankID string) (bank.Connector, error) {
	c, err := k.Connectors.For(env, bankID)
	return vrpKiller{Connector: c, afterBank: k.afterBank}, err
}

type vrpKiller struct {
	bank.Connector
	afterBank bool
}

func (k vrpKiller) InitiateVRP(ctx context.Context, s bank.Session, req bank.VRPRequest) (bank.VRPStart, error) {
	if k.afterBank {
		if _, err := k.Connector.InitiateVRP(ctx, s, req); err != nil {
			return bank.VRPStart{}, err
		}
	}
	return bank.VRPStart{}, &bank.Error{Kind: bank.Unavailable, Message: "worker killed"}
}

// TestVRPWorkerKilledBetweenReservationAndBankCall: a payment reserved whose sender dies
// before or after the bank call stays PENDING and reserved; the redelivered status worker
// sends it under the same idempotency key, so the bank pays it once, and the reservation is
// the payment's amount, once.
func TestVRPWorkerKilledBetweenReservationAndBankCall(t *testing.T) {
	f, org, keys := setup(t)
	tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	id := f.authorisedVRP(keys.SandboxKey, "demo", "")
	mandate := f.stored(org.ID, id).BankMandateID
	for i, afterBank := range []bool{false, true} {
		svc := *f.svc
		svc.Connectors = killBeforeVRP{Connectors: f.svc.Connectors, afterBank: afterBank}
		dying := vrp.New(&svc, nil)
		p, err := dying.Pay(f.Ctx, store.For(f.FS, tn), vrp.PayRequest{ConsentID: id, Amount: "25.00", Currency: "EUR"}, fmt.Sprintf("killed-%d", i))
		if err != nil || p.Status != pay.StatusPending || p.BankPaymentID != "" {
			t.Fatalf("killed sender (after bank %v): %+v %v", afterBank, p, err)
		}
		if n, _ := f.ledger("sandbox-hr", mandate); n != i+boolInt(afterBank) {
			t.Fatalf("after bank %v: the bank has %d payments before the redelivery", afterBank, n)
		}
		for range 2 { // redelivered, twice
			if err := f.svc.Poll(f.Ctx, tn, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.svc.Store.Get(f.Ctx, store.For(f.FS, tn), p.ID)
		if err != nil || got.BankPaymentID == "" || got.Status == pay.StatusRejected {
			t.Fatalf("after redelivery: %+v %v", got, err)
		}
		// The client never got its answer and retries past the idempotency record (a 5xx
		// deletes it): the derived payment ID finds the payment, and nothing more is reserved.
		again, err := f.vrp.Pay(f.Ctx, store.For(f.FS, tn), vrp.PayRequest{ConsentID: id, Amount: "25.00", Currency: "EUR"}, fmt.Sprintf("killed-%d", i))
		if err != nil || again.ID != p.ID {
			t.Fatalf("retry of the same request: %s, want %s (%v)", again.ID, p.ID, err)
		}
		n, sum := f.ledger("sandbox-hr", mandate)
		want := decimal.NewFromInt(int64(25 * (i + 1)))
		c := f.stored(org.ID, id)
		if n != i+1 || !sum.Equal(want) || c.Occurrences != i+1 || c.Usage[mustKey(t, c)].Minor != want.Shift(2).IntPart() {
			t.Fatalf("after bank %v: bank %d payments for %s; Tok holds %v in %d occurrences", afterBank, n, sum, c.Usage, c.Occurrences)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestVRPConsentEventsThroughOutbox: a consent's event is committed with the change that
// causes it. A publisher that fails after the commit leaves the event in the consent's
// outbox, and the sweep publishes it once; a sweeper killed between publishing and clearing
// the outbox sends the same event (same ID) again at most, which the event log and the
// webhook fan-out take once.
func TestVRPConsentEventsThroughOutbox(t *testing.T) {
	f, org, keys := setup(t)
	tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	scope := store.For(f.FS, tn)
	received := func(d time.Duration) []events.Event {
		var out []events.Event
		for _, m := range flowtest.Received(t, f.events, 100, d) {
			var e events.Event
			if err := json.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(e.Type, "vrp_consent.") {
				out = append(out, e)
			}
		}
		return out
	}
	// with is the VRP service publishing through pub.
	with := func(pub pay.Publisher) *vrp.Service {
		svc, st := *f.svc, *f.svc.Store
		st.Events = pub
		svc.Store = &st
		return vrp.New(&svc, nil)
	}

	end := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	expiring := f.authorisedVRP(keys.SandboxKey, "demo", `,"endDateTime":"`+end+`"`)
	if evs := received(2 * time.Second); len(evs) != 1 || evs[0].Type != vrp.EventAuthorized || evs[0].ID != pay.EventID(tn, expiring, vrp.EventAuthorized) {
		t.Fatalf("authorised: %+v", evs)
	}
	if c := f.stored(org.ID, expiring); c.OutboxPending || len(c.Outbox) != 0 {
		t.Fatalf("outbox after publishing: %+v", c.Outbox)
	}

	// Killed between the commit and publishing: the change stands, the event waits.
	revoked := f.authorisedVRP(keys.SandboxKey, "demo", "")
	received(2 * time.Second)
	pub := &flakyPublisher{inner: f.svc.Store.Events}
	pub.failures.Store(1)
	c, err := with(pub).Revoke(f.Ctx, scope, revoked)
	if err != nil || c.Status != vrp.StatusRevoked || c.RevokedBy != vrp.RevokedByOrganisation {
		t.Fatalf("revoke: %+v %v", c, err)
	}
	if c := f.stored(org.ID, revoked); c.Status != vrp.StatusRevoked || !c.OutboxPending || len(c.Outbox) != 1 {
		t.Fatalf("after the failed publish: %s, outbox %+v", c.Status, c.Outbox)
	}
	if evs := received(time.Second); len(evs) != 0 {
		t.Fatalf("published although publishing failed: %+v", evs)
	}
	if res, err := f.vrp.Sweep(f.Ctx); err != nil || res.Flushed != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if res, err := f.vrp.Sweep(f.Ctx); err != nil || res.Flushed != 0 {
		t.Fatalf("second sweep: %+v %v", res, err)
	}
	evs := received(2 * time.Second)
	if len(evs) != 1 || evs[0].Type != vrp.EventRevoked || evs[0].ID != pay.EventID(tn, revoked, vrp.EventRevoked) ||
		!strings.Contains(string(evs[0].Data), `"revokedBy":"organisation"`) {
		t.Fatalf("revoked events: %+v", evs)
	}
	// A DELETE repeated: 409, and nothing more is published.
	f.Expect(f.Call("DELETE", "/v1/vrp-consents/"+revoked, keys.SandboxKey, ""), 409, "revoke again")

	// Killed between publishing and clearing the outbox.
	f.clock.Add(2 * time.Hour)
	ctx, kill := context.WithCancel(f.Ctx)
	_, _ = with(&flakyPublisher{inner: f.svc.Store.Events, killAfter: kill}).Sweep(ctx)
	if c := f.stored(org.ID, expiring); c.Status != vrp.StatusExpired || !c.OutboxPending {
		t.Fatalf("after the killed sweep: %s, outbox pending %v", c.Status, c.OutboxPending)
	}
	if res, err := f.vrp.Sweep(f.Ctx); err != nil || res.Flushed != 1 || res.Expired != 0 {
		t.Fatalf("sweep after the kill: %+v %v", res, err)
	}
	evs = received(2 * time.Second)
	if len(evs) == 0 || len(evs) > 2 || evs[0].ID != pay.EventID(tn, expiring, vrp.EventExpired) || evs[len(evs)-1].ID != evs[0].ID {
		t.Fatalf("expired events: %+v", evs)
	}
	if c := f.stored(org.ID, expiring); c.OutboxPending || len(c.Outbox) != 0 {
		t.Fatalf("outbox after the sweep: %+v", c.Outbox)
	}
}

// TestVRPMandateRevokedAtBank: a mandate the customer revoked at the bank ends the Tok
// consent (REVOKED, revokedBy bank, vrp_consent.revoked once), whether Tok learns it from the
// bank refusing a payment or from the mandate's status (the sandbox control); every later
// payment is 403 CONSENT_REVOKED before anything is reserved or sent.
func TestVRPMandateRevokedAtBank(t *testing.T) {
	f, org, keys := setup(t)
	_, otherKeys := f.Org()
	revokedEvents := func(id string) int {
		n := 0
		for _, e := range eventsOf(t, f.events, "vrp_consent.", 100) {
			if e.Type == vrp.EventRevoked && strings.Contains(string(e.Data), id) {
				if !strings.Contains(string(e.Data), `"revokedBy":"bank"`) {
					t.Errorf("revoked event %s", e.Data)
				}
				n++
			}
		}
		return n
	}
	refusedWithoutBank := func(id, key string) {
		t.Helper()
		before := f.count(org.ID)
		r := f.payVRP(keys.SandboxKey, id, "10.00", key)
		if e := f.Expect(r, 403, "payment after the revocation")["error"].(map[string]any); e["code"] != "CONSENT_REVOKED" {
			t.Fatalf("after the revocation: %v", e)
		}
		if n := f.count(org.ID); n != before {
			t.Fatalf("a refused payment was recorded: %d payments, were %d", n, before)
		}
	}

	t.Run("a payment refused by the bank", func(t *testing.T) {
		id := f.authorisedVRP(keys.SandboxKey, "demo", "")
		mandate := f.stored(org.ID, id).BankMandateID
		// The customer revokes the mandate in their online banking; Tok is not told.
		if _, err := f.FS.Collection("sandboxbank").Doc("sandbox-hr").Collection("mandates").Doc(mandate).
			Update(f.Ctx, []firestore.Update{{Path: "status", Value: "revokedByPsu"}}); err != nil {
			t.Fatal(err)
		}
		p := f.Expect(f.payVRP(keys.SandboxKey, id, "10.00", "after-bank-revoke"), 201, "payment under a revoked mandate")
		if p["status"] != pay.StatusRejected || p["statusReason"] != pay.ReasonBankRejected {
			t.Fatalf("payment under the revoked mandate: %v", p)
		}
		c := f.Expect(f.Call("GET", "/v1/vrp-consents/"+id, keys.SandboxKey, ""), 200, "consent revoked at the bank")
		if c["status"] != vrp.StatusRevoked || c["revokedBy"] != vrp.RevokedByBank || c["remaining"] != nil {
			t.Fatalf("consent after the bank's refusal: %v", c)
		}
		if st := f.stored(org.ID, id); st.Occurrences != 0 || st.Usage[mustKey(t, st)].Minor != 0 {
			t.Fatalf("the rejected payment kept its reservation: %v, %d", st.Usage, st.Occurrences)
		}
		refusedWithoutBank(id, "after-bank-revoke-2")
		if n := revokedEvents(id); n != 1 {
			t.Fatalf("vrp_consent.revoked published %d times", n)
		}
		f.Expect(f.Call("POST", "/v1/sandbox/vrp-consents/"+id+"/revoke", keys.SandboxKey, ""), 409, "sandbox revoke of a revoked consent")
	})

	t.Run("the sandbox control and the mandate's status", func(t *testing.T) {
		id := f.authorisedVRP(keys.SandboxKey, "demo", "")
		f.Expect(f.Call("POST", "/v1/sandbox/vrp-consents/"+id+"/revoke", otherKeys.SandboxKey, ""), 404, "another organisation's consent")
		f.Expect(f.Call("POST", "/v1/sandbox/vrp-consents/"+id+"/revoke", keys.LiveKey, ""), 404, "a live key")
		c := f.Expect(f.Call("POST", "/v1/sandbox/vrp-consents/"+id+"/revoke", keys.SandboxKey, ""), 200, "sandbox revoke")
		if c["status"] != vrp.StatusRevoked || c["revokedBy"] != vrp.RevokedByBank || c["endedAt"] == nil {
			t.Fatalf("after the sandbox revoke: %v", c)
		}
		snap, err := f.FS.Collection("sandboxbank").Doc("sandbox-hr").Collection("mandates").Doc(f.stored(org.ID, id).BankMandateID).Get(f.Ctx)
		if err != nil || snap.Data()["status"] != "revokedByPsu" {
			t.Fatalf("mandate at the bank: %v %v", snap.Data()["status"], err)
		}
		f.Expect(f.Call("POST", "/v1/sandbox/vrp-consents/"+id+"/revoke", keys.SandboxKey, ""), 409, "sandbox revoke again")
		f.Expect(f.Call("DELETE", "/v1/vrp-consents/"+id, keys.SandboxKey, ""), 409, "DELETE after the bank revoked it")
		refusedWithoutBank(id, "after-sandbox-revoke")
		if n := revokedEvents(id); n != 1 {
			t.Fatalf("vrp_consent.revoked published %d times", n)
		}
		if c, err := f.vrp.CheckAtBank(f.Ctx, store.For(f.FS, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}), id); err != nil || c.Status != vrp.StatusRevoked {
			t.Fatalf("a later check: %+v %v", c, err)
		}
	})
}
