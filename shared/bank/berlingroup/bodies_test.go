package berlingroup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
)

// TestPaymentBodiesAndFundsAnswers: a single payment and a VRP carry
// remittanceInformationUnstructured and endToEndIdentification only when set, and a funds
// confirmation (of an account or of a mandate) without fundsAvailable is the bank's
// garbage, not a "no".
func TestPaymentBodiesAndFundsAnswers(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies = map[string]map[string]any{}
		funds  string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		mu.Lock()
		bodies[r.URL.Path] = body
		answer := funds
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"paymentId":"p1","transactionStatus":"RCVD"` + answer + `}`))
	}))
	defer srv.Close()
	c, err := New(Config{BankID: "bodies-test", BaseURL: srv.URL, AuthorizeURL: srv.URL + "/a", TokenURL: srv.URL + "/t",
		ClientID: "id", ClientSecret: "s", VRP: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := bank.Session{BankConsentID: "m1", AccessToken: "tok", PSUIPAddress: "203.0.113.1"}
	ten := decimal.NewFromInt(10)

	for _, refs := range []struct{ remittance, e2e string }{{"", ""}, {"Invoice 7", "E2E-7"}} {
		if _, err := c.InitiatePayment(ctx, s, bank.PaymentRequest{Transfer: bank.Transfer{Amount: ten, Currency: "EUR",
			CreditorIBAN: "HR1723600001101234565", CreditorName: "Zajam d.o.o.", RemittanceInfo: refs.remittance, EndToEndID: refs.e2e},
			RedirectURI: "https://tok/cb", State: "st", CodeChallenge: "ch"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.InitiateVRP(ctx, s, bank.VRPRequest{IdempotencyKey: "k", Amount: ten, Currency: "EUR",
			RemittanceInfo: refs.remittance, EndToEndID: refs.e2e}); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/v1/payments/" + bank.ProductSEPA, "/v1/vrp-mandates/m1/payments"} {
			body := bodies[path]
			rem, hasRem := body["remittanceInformationUnstructured"]
			e2e, hasE2E := body["endToEndIdentification"]
			if hasRem != (refs.remittance != "") || hasE2E != (refs.e2e != "") || (hasRem && rem != refs.remittance) || (hasE2E && e2e != refs.e2e) {
				t.Errorf("%s with %+v: body %v", path, refs, body)
			}
		}
	}

	confirm := []func() (bool, error){
		func() (bool, error) {
			return c.ConfirmFunds(ctx, s, bank.FundsQuery{IBAN: "HR1723600001101234565", Amount: ten, Currency: "EUR"})
		},
		func() (bool, error) { return c.ConfirmVRPFunds(ctx, s, ten, "EUR") },
	}
	for _, answer := range []struct {
		json    string
		want    bool
		garbage bool
	}{{`,"fundsAvailable":true`, true, false}, {`,"fundsAvailable":false`, false, false}, {"", false, true}} {
		mu.Lock()
		funds = answer.json
		mu.Unlock()
		for i, ask := range confirm {
			ok, err := ask()
			if ok != answer.want || (err != nil) != answer.garbage || (err != nil && bank.KindOf(err) != bank.Unavailable) {
				t.Errorf("confirmation %d of %q: %v, %v", i, answer.json, ok, err)
			}
		}
	}
}
