package bankcatalog_test

import (
	"strings"
	"testing"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/bankcatalog/catalogsrc"
)

const sandboxURL = "http://127.0.0.1:8080/sandbox-bank"

// parse is what a catalogue file becomes: its generated table, loaded.
func parse(data []byte, sandboxBankURL string) (*bankcatalog.Catalogue, error) {
	banks, err := catalogsrc.Decode(data)
	if err != nil {
		return nil, err
	}
	return bankcatalog.LoadBanks(banks, sandboxBankURL)
}

// validYAML is a minimal correct catalogue; each bad case below breaks it in one place.
const validYAML = `
banks:
  - id: zaba-hr
    name: Zagrebačka banka d.d.
    country: HR
    currency: EUR
    bic: ZABAHR2X
    standard: berlin-group
    services: {ais: true, pis: true}
    paymentProducts: [sepa-credit-transfers]
    limits: {maxConsentDays: 180, frequencyPerDay: 4, maxPaymentAmount: "100000.00"}
    configured: true
    environment: live
    connector:
      baseUrl: https://api.zaba.example/v1
      authorizeUrl: https://login.zaba.example/authorize
      tokenUrl: https://api.zaba.example/token
      clientIdSecret: bank-zaba-hr-client-id
      clientSecretSecret: bank-zaba-hr-client-secret
      qwacSecret: tok-qwac
  - id: sandbox-rs
    name: Tok Sandbox Bank (Serbia)
    country: RS
    currency: RSD
    bic: TOKSRS20
    standard: berlin-group
    services: {ais: true, pis: true, vrp: true}
    paymentProducts: [domestic-credit-transfers]
    limits: {maxConsentDays: 180, frequencyPerDay: 4, maxPaymentAmount: "1000000"}
    configured: true
    environment: sandbox
    connector:
      baseUrl: ${SANDBOX_BANK_URL}/banks/sandbox-rs/v1
      authorizeUrl: ${SANDBOX_BANK_URL}/banks/sandbox-rs/oauth2/authorize
      tokenUrl: ${SANDBOX_BANK_URL}/banks/sandbox-rs/oauth2/token
      clientIdSecret: sandbox-bank-client-id
      clientSecretSecret: sandbox-bank-client-secret
`

func TestValidYAMLLoads(t *testing.T) {
	c, err := parse([]byte(validYAML), sandboxURL)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(c.List("", "", "")) != 2 {
		t.Fatalf("want 2 banks, got %d", len(c.List("", "", "")))
	}
	b, _ := c.Get(bankcatalog.EnvLive, "zaba-hr")
	if b.Limits.MaxPaymentAmount != "100000.0000" {
		t.Errorf("maxPaymentAmount = %q, want the wire format", b.Limits.MaxPaymentAmount)
	}
}

func TestValidatorRejectsBrokenEntries(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown field", "    standard: berlin-group\n    services: {ais: true, pis: true}\n    paymentProducts: [sepa", "    standard: berlin-group\n    swift: x\n    services: {ais: true, pis: true}\n    paymentProducts: [sepa", "field swift not found"},
		{"duplicate id", "id: sandbox-rs", "id: zaba-hr", "duplicate id"},
		{"id without country", "id: zaba-hr", "id: zaba", "id must be"},
		{"id of another country", "id: zaba-hr", "id: zaba-rs", "id must be"},
		{"upper-case id", "id: zaba-hr", "id: ZABA-hr", "id must be"},
		{"unknown country", "country: HR", "country: DE", "not one Tok serves"},
		{"wrong currency for country", "currency: EUR", "currency: RSD", "is not HR's"},
		{"unknown currency", "currency: EUR", "currency: XYZ", "not a known ISO 4217"},
		{"BIC too short", "bic: ZABAHR2X", "bic: ZABAHR2", "must be 8 or 11"},
		{"BIC lower case", "bic: ZABAHR2X", "bic: zabahr2x", "must be 8 or 11"},
		{"BIC of another country", "bic: ZABAHR2X", "bic: ZABARS2X", "is not from HR"},
		{"test BIC on a live bank", "bic: ZABAHR2X", "bic: ZABAHR20", "test BICs"},
		{"live BIC on a sandbox bank", "bic: TOKSRS20", "bic: TOKSRS22", "test BICs"},
		{"unknown standard", "standard: berlin-group\n    services: {ais: true, pis: true}\n    paymentProducts: [sepa", "standard: stet\n    services: {ais: true, pis: true}\n    paymentProducts: [sepa", "standard \"stet\""},
		{"no services", "services: {ais: true, pis: true}\n    paymentProducts: [sepa-credit-transfers]", "services: {ais: false, pis: false}\n    paymentProducts: []", "neither ais nor pis"},
		{"products without pis", "services: {ais: true, pis: true}\n    paymentProducts: [sepa", "services: {ais: true, pis: false}\n    paymentProducts: [sepa", "exactly when pis"},
		{"pis without products", "paymentProducts: [sepa-credit-transfers]", "paymentProducts: []", "exactly when pis"},
		{"unknown product", "[sepa-credit-transfers]", "[sepa-transfers]", "\"sepa-transfers\" is unknown"},
		{"repeated product", "[sepa-credit-transfers]", "[sepa-credit-transfers, sepa-credit-transfers]", "listed twice"},
		{"consent too long", "maxConsentDays: 180, frequencyPerDay: 4, maxPaymentAmount: \"100000.00\"", "maxConsentDays: 181, frequencyPerDay: 4, maxPaymentAmount: \"100000.00\"", "maxConsentDays 181"},
		{"too frequent", "frequencyPerDay: 4, maxPaymentAmount: \"100000.00\"", "frequencyPerDay: 5, maxPaymentAmount: \"100000.00\"", "frequencyPerDay 5"},
		{"no frequency", "frequencyPerDay: 4, maxPaymentAmount: \"100000.00\"", "frequencyPerDay: 0, maxPaymentAmount: \"100000.00\"", "frequencyPerDay 0"},
		{"amount not decimal", "\"100000.00\"", "\"1e5\"", "maxPaymentAmount"},
		{"amount zero", "\"100000.00\"", "\"0\"", "greater than zero"},
		{"amount finer than currency", "\"100000.00\"", "\"100000.001\"", "EUR allows at most 2"},
		{"amount missing", ", maxPaymentAmount: \"100000.00\"", "", "must not be empty"},
		{"unknown environment", "environment: live", "environment: prod", "environment \"prod\""},
		{"connector on unconfigured bank", "configured: true\n    environment: live", "configured: false\n    environment: live", "not configured"},
		{"configured without connector", "    connector:\n      baseUrl: https://api.zaba.example/v1\n      authorizeUrl: https://login.zaba.example/authorize\n      tokenUrl: https://api.zaba.example/token\n      clientIdSecret: bank-zaba-hr-client-id\n      clientSecretSecret: bank-zaba-hr-client-secret\n      qwacSecret: tok-qwac\n", "", "baseUrl \"\""},
		{"live bank over http", "baseUrl: https://api.zaba.example/v1", "baseUrl: http://api.zaba.example/v1", "absolute https URL"},
		{"relative live URL", "tokenUrl: https://api.zaba.example/token", "tokenUrl: /token", "absolute https URL"},
		{"placeholder in a live bank", "baseUrl: https://api.zaba.example/v1", "baseUrl: ${SANDBOX_BANK_URL}/v1", "only sandbox banks"},
		{"sandbox URL not relative", "tokenUrl: ${SANDBOX_BANK_URL}/banks/sandbox-rs/oauth2/token", "tokenUrl: https://evil.example/token", "must start with"},
		{"missing QWAC on a live bank", "      qwacSecret: tok-qwac\n", "", "qwacSecret"},
		{"secret value instead of ID", "clientSecretSecret: bank-zaba-hr-client-secret", "clientSecretSecret: \"s3cr3t value!\"", "clientSecretSecret"},
		{"secret ID too long", "clientIdSecret: bank-zaba-hr-client-id", "clientIdSecret: " + strings.Repeat("a", 256), "clientIdSecret"},
		{"sandbox id", "id: sandbox-rs", "id: sandboxbank-rs", "sandbox bank id must be sandbox-rs"},
		{"sandbox name", "name: Tok Sandbox Bank (Serbia)", "name: Sandbox", "sandbox bank name"},
		{"sandbox without pis", "services: {ais: true, pis: true, vrp: true}\n    paymentProducts: [domestic-credit-transfers]", "services: {ais: true, pis: false}\n    paymentProducts: []", "sandbox banks are configured"},
		{"sandbox without vrp", "services: {ais: true, pis: true, vrp: true}", "services: {ais: true, pis: true}", "sandbox banks are configured"},
		{"vrp without pis", "services: {ais: true, pis: true}\n    paymentProducts: [sepa", "services: {ais: true, pis: false, vrp: true}\n    paymentProducts: [sepa", "vrp needs pis"},
		{"not YAML", "banks:", "banks: [", "bank catalogue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validYAML, tc.old) {
				t.Fatalf("test case does not apply: %q not in validYAML", tc.old)
			}
			bad := strings.Replace(validYAML, tc.old, tc.new, 1)
			_, err := parse([]byte(bad), sandboxURL)
			if err == nil {
				t.Fatal("parse accepted the broken catalogue")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestValidatorRejectsEmptyCatalogue(t *testing.T) {
	for _, doc := range []string{"", "banks: []\n"} {
		if _, err := parse([]byte(doc), sandboxURL); err == nil {
			t.Errorf("parse(%q) succeeded", doc)
		}
	}
}
