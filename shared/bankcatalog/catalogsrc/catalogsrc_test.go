package catalogsrc

import (
	"strings"
	"testing"

	"tokapi.io/tok/shared/testing/gentest"
	"tokapi.io/tok/shared/testing/repotest"
)

// TestGeneratedCatalogueIsBanksYAML holds banks_gen.go, the table every function loads, to
// banks.yaml as it is now.
func TestGeneratedCatalogueIsBanksYAML(t *testing.T) {
	banks, err := Decode(repotest.File(t, "shared/bankcatalog/banks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(banks) < 30 {
		t.Fatalf("only %d banks decoded", len(banks))
	}
	want, err := Source(banks)
	if err != nil {
		t.Fatal(err)
	}
	gentest.Matches(t, "shared/bankcatalog/banks_gen.go", want, "go generate ./shared/bankcatalog")
}

// TestSourceKeepsEveryField: a field the literal left out would silently vanish from the
// catalogue, so the table holds each field as decoded, nil and empty slices apart.
func TestSourceKeepsEveryField(t *testing.T) {
	yaml := `
banks:
  - id: a-hr
    name: "A \"quoted\" bank"
    country: HR
    currency: EUR
    bic: AAAAHR2X
    standard: berlin-group
    services: {ais: true, pis: true, vrp: true}
    paymentProducts: [sepa-credit-transfers, target-2-payments]
    limits: {maxConsentDays: 180, frequencyPerDay: 4, maxPaymentAmount: "10.00"}
    configured: true
    environment: live
    connector: {baseUrl: b, authorizeUrl: a, tokenUrl: t, clientIdSecret: c, clientSecretSecret: s, qwacSecret: q}
  - id: b-hr
    paymentProducts: []
`
	banks, err := Decode([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Source(banks)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{ID: "a-hr", Name: "A \"quoted\" bank", Country: "HR", Currency: "EUR", BIC: "AAAAHR2X", Standard: "berlin-group", ` +
			`Services: Services{AIS: true, PIS: true, VRP: true}, PaymentProducts: []string{"sepa-credit-transfers", "target-2-payments"}, ` +
			`Limits: Limits{MaxConsentDays: 180, FrequencyPerDay: 4, MaxPaymentAmount: "10.00"}, Configured: true, Environment: "live", ` +
			`Connector: Connector{BaseURL: "b", AuthorizeURL: "a", TokenURL: "t", ClientIDSecret: "c", ClientSecretSecret: "s", QWACSecret: "q"}},`,
		`{ID: "b-hr", PaymentProducts: []string{}},`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated source lacks\n%s\nin\n%s", want, src)
		}
	}
}
