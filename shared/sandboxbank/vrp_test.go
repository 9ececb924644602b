package sandboxbank_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
)

// mandate sets up and authorises a mandate of persona with a daily limit and a maximum per
// payment, and returns its session.
func (e *env) mandate(ctx context.Context, c bank.Connector, persona, daily, perPayment string) (bank.Session, bank.Tokens) {
	e.t.Helper()
	verifier, challenge := bank.NewPKCE()
	start, err := c.CreateMandate(ctx, bank.MandateRequest{
		CreditorIBAN: "HR1723600001101234565", CreditorName: "Lender d.o.o.", Currency: "EUR",
		MaximumIndividual: decimal.RequireFromString(perPayment),
		PeriodicLimits:    []bank.PeriodicLimit{{MaximumAmount: decimal.RequireFromString(daily), PeriodType: "DAY", Alignment: "CALENDAR"}},
		ValidFrom:         e.clock.Now(), ValidTo: e.clock.Now().AddDate(0, 3, 0), TimeZone: "Europe/Zagreb", VRPType: "OTHER",
		RedirectURI: redirectURI, State: bank.NewState(), CodeChallenge: challenge, PSUIPAddress: "203.0.113.7",
	})
	if err != nil {
		e.t.Fatalf("CreateMandate: %v", err)
	}
	back := e.sca(start.AuthorizeURL, persona, persona, "approve")
	if err := bank.AuthorizationError(back.Query()); err != nil {
		e.t.Fatalf("authorization: %v", err)
	}
	tok, err := c.ExchangeCode(ctx, back.Query().Get("code"), verifier, redirectURI)
	if err != nil {
		e.t.Fatalf("ExchangeCode: %v", err)
	}
	return bank.Session{BankConsentID: start.BankConsentID, AccessToken: tok.AccessToken}, tok
}

func vrp(key, amount string) bank.VRPRequest {
	return bank.VRPRequest{IdempotencyKey: key, Amount: decimal.RequireFromString(amount), Currency: "EUR", RemittanceInfo: "Loan instalment"}
}

// TestVRPMandate: a mandate through its own SCA, payments under it with no PSU, the bank's
// own limits (also under concurrency), idempotent repeats, funds and revocation.
func TestVRPMandate(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := e.connector("sandbox-hr", func(cfg *berlingroup.Config) { cfg.VRP = true; cfg.Timeout = 30 * time.Second })
	s, tok := e.mandate(ctx, c, "demo", "100.00", "60.00")
	if st, err := c.MandateStatus(ctx, s); err != nil || st != bank.MandateValid {
		t.Fatalf("mandate status %q %v", st, err)
	}
	first, err := c.InitiateVRP(ctx, s, vrp("k1", "40.00"))
	if err != nil || first.State.Status != bank.PaymentInProcess {
		t.Fatalf("first payment %+v %v", first, err)
	}
	again, err := c.InitiateVRP(ctx, s, vrp("k1", "40.00"))
	if err != nil || again.BankPaymentID != first.BankPaymentID {
		t.Fatalf("a repeat with the same key paid again: %+v %v", again, err)
	}
	_, err = c.InitiateVRP(ctx, s, vrp("k2", "60.01"))
	wantKind(t, err, bank.Rejected)

	// 20 parallel payments of 10.00 against the 60.00 left today: the bank takes exactly 6.
	var mu sync.Mutex
	ok, refused := 0, 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := c.InitiateVRP(ctx, s, vrp("p"+string(rune('a'+i)), "10.00"))
			mu.Lock()
			defer mu.Unlock()
			switch bank.KindOf(err) {
			case bank.Unknown:
				ok++
			case bank.Rejected:
				refused++
			default:
				t.Errorf("payment %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if ok != 6 || refused != 14 {
		t.Fatalf("the bank took %d and refused %d of 20 payments of 10.00 with 60.00 left", ok, refused)
	}
	e.clock.Add(3 * time.Second)
	if st, err := c.VRPStatus(ctx, s, first.BankPaymentID); err != nil || st.Status != bank.PaymentCompleted {
		t.Fatalf("status %+v %v", st, err)
	}
	// The next calendar day in Zagreb the limit is there again.
	e.clock.Add(24 * time.Hour)
	if tok, err = c.Refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	s.AccessToken = tok.AccessToken
	if _, err := c.InitiateVRP(ctx, s, vrp("k3", "60.00")); err != nil {
		t.Fatalf("next day: %v", err)
	}
	if okFunds, err := c.ConfirmVRPFunds(ctx, s, decimal.RequireFromString("10.00"), "EUR"); err != nil || !okFunds {
		t.Fatalf("funds %v %v", okFunds, err)
	}
	if err := c.RevokeMandate(ctx, s); err != nil {
		t.Fatal(err)
	}
	_, err = c.InitiateVRP(ctx, s, vrp("k4", "1.00"))
	wantKind(t, err, bank.ConsentRevoked)

	broke, _ := e.mandate(ctx, c, "broke", "100.00", "60.00")
	res, err := c.InitiateVRP(ctx, broke, vrp("b1", "5.00"))
	if err != nil || res.State.Status != bank.PaymentRejected || res.State.FundsAvailable == nil || *res.State.FundsAvailable {
		t.Fatalf("broke: %+v %v", res, err)
	}
	// A bank without the service says so.
	_, err = e.connector("sandbox-hr").CreateMandate(ctx, bank.MandateRequest{})
	wantKind(t, err, bank.NotSupported)
}
