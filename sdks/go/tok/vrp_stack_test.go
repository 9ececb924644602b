package tok_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/sdks/go/tok"
	"tokapi.io/tok/sdks/sdktest"
)

// testVRP: a VRP consent of at most 60.00 EUR a payment and 100.00 EUR a day, authorised
// as demo at the Croatian sandbox bank; payments within the limits go through, one over
// what is left is ErrLimitExceeded saying what is left, and after revocation a payment is
// ErrConsentRevoked.
func testVRP(ctx context.Context, t *testing.T, env *sdktest.Env, client *tok.Client) {
	created, err := client.VRP.CreateConsent(ctx, tok.CreateVrpConsentRequest{
		BankID: tok.Ptr("sandbox-hr"), CreditorIban: "HR1723600001101234565", CreditorName: "Zajam d.o.o.", Currency: "EUR",
		MaximumIndividualAmount: "60.00",
		PeriodicLimits: []tok.VrpPeriodicLimitRequest{{MaximumAmount: "100.00", PeriodType: tok.CreateVrpConsentRequestPeriodicLimitsPeriodTypeDAY,
			PeriodAlignment: tok.Ptr(tok.CreateVrpConsentRequestPeriodicLimitsPeriodAlignmentCALENDAR)}},
		RemittanceInfo: "Loan 42", CallbackURL: env.CallbackURL, VrpType: tok.CreateVrpConsentRequestVrpTypeOTHER,
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != tok.VrpConsentStatusAWAITINGAUTHORIZATION || created.RedirectURL == nil || created.Remaining != nil {
		t.Fatalf("created %+v", created)
	}
	walked, err := env.PSU.Do(sdktest.Walk{URL: *created.RedirectURL})
	if err != nil {
		t.Fatal(err)
	}
	if q := walked.CallbackQuery(); q.Get("vrpConsentId") != created.ID || q.Get("status") != "AUTHORIZED" {
		t.Fatalf("back at the app with %s", walked.Callback)
	}
	c, err := client.VRP.GetConsent(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != tok.VrpConsentStatusAUTHORIZED || c.Remaining == nil || len(c.Remaining.PeriodicLimits) != 1 {
		t.Fatalf("authorised consent %+v", c)
	}
	remaining := func() decimal.Decimal {
		t.Helper()
		c, err := client.VRP.GetConsent(ctx, created.ID)
		if err != nil || c.Remaining == nil {
			t.Fatalf("consent %+v: %v", c, err)
		}
		d, err := tok.ParseAmount(c.Remaining.PeriodicLimits[0].Remaining)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if got := remaining(); !got.Equal(decimal.RequireFromString("100")) {
		t.Fatalf("remaining %s before any payment", got)
	}
	listed := false
	for vc, err := range client.VRP.AllConsents(ctx, &tok.ListVrpConsentsParams{Status: tok.Ptr(tok.VrpConsentStatusAUTHORIZED), Limit: tok.Ptr(1)}) {
		if err != nil {
			t.Fatal(err)
		}
		listed = listed || vc.ID == created.ID
	}
	if !listed {
		t.Fatal("the consent is not listed")
	}
	if f, err := client.VRP.ConfirmFunds(ctx, created.ID, tok.VrpFundsRequest{Amount: "10.00"}); err != nil || !f.FundsAvailable {
		t.Fatalf("confirm funds: %+v %v", f, err)
	}

	pay := func(amount string, opts ...tok.RequestOption) (*tok.Payment, error) {
		return client.VRP.Pay(ctx, tok.CreateVrpRequest{ConsentID: created.ID, Amount: amount, Currency: "EUR"}, opts...)
	}
	first, err := pay("60.00")
	if err != nil {
		t.Fatal(err)
	}
	if first.VrpConsentID == nil || *first.VrpConsentID != created.ID || (first.Status != tok.PaymentStatusPENDING && first.Status != tok.PaymentStatusCOMPLETED) {
		t.Fatalf("first payment %+v", first)
	}
	// The same Idempotency-Key again (a retry across processes) gets the same payment back
	// and spends nothing more.
	key := "vrp-" + created.ID
	var meta tok.Response
	again, err := pay("30.00", tok.WithIdempotencyKey(key))
	if err != nil {
		t.Fatal(err)
	}
	second, err := pay("30.00", tok.WithIdempotencyKey(key), tok.CaptureResponse(&meta))
	if err != nil || second.ID != again.ID || !meta.Replayed {
		t.Fatalf("retried with the same key: %+v (replayed %v) %v, first %s", second, meta.Replayed, err, again.ID)
	}
	if got := remaining(); !got.Equal(decimal.RequireFromString("10")) {
		t.Fatalf("remaining %s after 90.00", got)
	}
	_, err = pay("60.01")
	if apiErr := expectCode(t, err, tok.ErrLimitExceeded, 422); apiErr != nil && apiErr.Details[0].Field != "maximumIndividualAmount" {
		t.Errorf("60.01 refused for %+v", apiErr.Details)
	}
	_, err = pay("10.01")
	if apiErr := expectCode(t, err, tok.ErrLimitExceeded, 422); apiErr != nil &&
		(apiErr.Details[0].Field != "periodicLimits[0]" || !strings.Contains(apiErr.Details[0].Message, "10.00 EUR is left")) {
		t.Errorf("10.01 refused for %+v", apiErr.Details)
	}
	if got := remaining(); !got.Equal(decimal.RequireFromString("10")) {
		t.Fatalf("remaining %s after the refusals", got)
	}
	if p, err := client.VRP.GetPayment(ctx, second.ID); err != nil || p.ID != second.ID || p.Amount != "30.0000" {
		t.Fatalf("get payment: %+v %v", p, err)
	}
	var under []string
	for p, err := range client.VRP.AllConsentPayments(ctx, created.ID, &tok.ListVrpConsentPaymentsParams{Limit: tok.Ptr(1)}) {
		if err != nil {
			t.Fatal(err)
		}
		under = append(under, p.ID)
	}
	if len(under) != 2 || under[0] != second.ID || under[1] != first.ID {
		t.Fatalf("payments under the consent %v, made %s then %s", under, first.ID, second.ID)
	}
	found := false
	for p, err := range client.VRP.AllPayments(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		found = found || p.ID == first.ID
	}
	if !found {
		t.Fatal("the payment is not in the VRP payments")
	}

	revoked, err := client.VRP.RevokeConsent(ctx, created.ID)
	if err != nil || revoked.Status != tok.VrpConsentStatusREVOKED {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	_, err = pay("1.00")
	expectCode(t, err, tok.ErrConsentRevoked, 403)
	_, err = client.VRP.RevokeConsent(ctx, created.ID)
	if !errors.Is(err, tok.ErrConflict) {
		t.Errorf("revoking again: %v", err)
	}
}
