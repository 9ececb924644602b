package tok_test

import (
	"context"
	"strings"
	"testing"

	"tokapi.io/tok/sdks/go/tok"
	"tokapi.io/tok/sdks/sdktest"
)

// testHosted: a consent and a VRP consent without a bank, and the seed's payment (no bank
// either), get a redirectUrl to Tok's hosted pages; the customer picks the country and its
// sandbox bank there, without JavaScript, authorises as demo, and is sent back to the
// callbackUrl; the SDK then reads the consents AUTHORIZED and the payment at the bank.
func testHosted(ctx context.Context, t *testing.T, env *sdktest.Env, client *tok.Client) {
	walk := func(t *testing.T, redirectURL *string) sdktest.Walked {
		t.Helper()
		if redirectURL == nil || !strings.HasPrefix(*redirectURL, env.HostedURL+"hps_") {
			t.Fatalf("redirectUrl %v is not Tok's hosted pages (%s)", redirectURL, env.HostedURL)
		}
		w, err := env.PSU.Do(sdktest.Walk{URL: *redirectURL, Country: "RS", BankID: "sandbox-rs"})
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Pages) < 5 {
			t.Fatalf("walked only %v", w.Pages)
		}
		return w
	}

	t.Run("a consent without a bank", func(t *testing.T) {
		c, err := client.Consents.Create(ctx, tok.CreateConsentRequest{CallbackURL: env.CallbackURL})
		if err != nil {
			t.Fatal(err)
		}
		if c.BankID != nil || c.Status != tok.ConsentStatusAWAITINGAUTHORIZATION {
			t.Fatalf("created %+v", c)
		}
		w := walk(t, c.RedirectURL)
		if q := w.CallbackQuery(); q.Get("consentId") != c.ID || q.Get("status") != "AUTHORIZED" {
			t.Fatalf("back at the app with %s", w.Callback)
		}
		got, err := client.Consents.Get(ctx, c.ID)
		if err != nil || got.Status != tok.ConsentStatusAUTHORIZED || got.BankID == nil || *got.BankID != "sandbox-rs" {
			t.Fatalf("after the hosted pages: %+v %v", got, err)
		}
	})

	t.Run("a VRP consent without a bank", func(t *testing.T) {
		c, err := client.VRP.CreateConsent(ctx, tok.CreateVrpConsentRequest{
			CreditorIban: "HR1723600001101234565", CreditorName: "Zajam d.o.o.", Currency: "EUR", MaximumIndividualAmount: "60.00",
			PeriodicLimits: []tok.VrpPeriodicLimitRequest{{MaximumAmount: "100.00", PeriodType: tok.CreateVrpConsentRequestPeriodicLimitsPeriodTypeDAY}},
			RemittanceInfo: "Loan 43", CallbackURL: env.CallbackURL, VrpType: tok.CreateVrpConsentRequestVrpTypeOTHER,
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.RedirectURL == nil || !strings.HasPrefix(*c.RedirectURL, env.HostedURL+"hps_") {
			t.Fatalf("redirectUrl %v is not Tok's hosted pages", c.RedirectURL)
		}
		w, err := env.PSU.Do(sdktest.Walk{URL: *c.RedirectURL, Country: "HR", BankID: "sandbox-hr"})
		if err != nil {
			t.Fatal(err)
		}
		if q := w.CallbackQuery(); q.Get("vrpConsentId") != c.ID || q.Get("status") != "AUTHORIZED" {
			t.Fatalf("back at the app with %s", w.Callback)
		}
		got, err := client.VRP.GetConsent(ctx, c.ID)
		if err != nil || got.Status != tok.VrpConsentStatusAUTHORIZED || got.BankID == nil || *got.BankID != "sandbox-hr" {
			t.Fatalf("after the hosted pages: %+v %v", got, err)
		}
	})

	t.Run("the seed's payment", func(t *testing.T) {
		p, err := client.Payments.Create(ctx, tok.CreatePaymentRequest{
			CreditorIban: "RS35105008123123123173", Amount: "1500.00", Currency: "RSD",
			RemittanceInfo: tok.Ptr("Invoice INV-2026-042"), CallbackURL: env.CallbackURL,
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.BankID != nil || p.PaymentProduct != nil || p.Status != tok.PaymentStatusAWAITINGAUTHORIZATION {
			t.Fatalf("created %+v", p)
		}
		w := walk(t, p.RedirectURL)
		q := w.CallbackQuery()
		if q.Get("paymentId") != p.ID || (q.Get("status") != "PENDING" && q.Get("status") != "COMPLETED") {
			t.Fatalf("back at the app with %s", w.Callback)
		}
		got, err := client.Payments.Get(ctx, p.ID)
		if err != nil || got.BankID == nil || *got.BankID != "sandbox-rs" || got.PaymentProduct == nil ||
			*got.PaymentProduct != tok.PaymentPaymentProductDomesticCreditTransfers ||
			(got.Status != tok.PaymentStatusPENDING && got.Status != tok.PaymentStatusCOMPLETED) || got.Amount != "1500.0000" {
			t.Fatalf("after the hosted pages: %+v %v", got, err)
		}
	})
}
