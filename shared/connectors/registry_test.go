package connectors

import (
	"errors"
	"testing"

	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/testing/secretstest"
)

func TestRegistryBuildsEachConnectorOnce(t *testing.T) {
	catalogue, err := bankcatalog.Load("http://sandbox-bank.invalid")
	if err != nil {
		t.Fatal(err)
	}
	r := New(catalogue, secretstest.Map{"sandbox-bank-client-id": "tok-test", "sandbox-bank-client-secret": "s3cret"})
	var configured []string
	r.Configure = func(c *berlingroup.Config) { configured = append(configured, c.BankID+" "+c.BaseURL) }
	a, err := r.For("sandbox", "sandbox-rs")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.For("sandbox", "sandbox-rs")
	if err != nil || a != b {
		t.Fatalf("second For: %v, same connector %v", err, a == b)
	}
	if _, err := r.For("sandbox", "sandbox-hr"); err != nil {
		t.Fatal(err)
	}
	if len(configured) != 2 || configured[0] != "sandbox-rs http://sandbox-bank.invalid/banks/sandbox-rs/v1" {
		t.Errorf("configured %q", configured)
	}
	for _, c := range []struct{ env, bank string }{
		{"sandbox", "no-such-bank"},
		{"live", "sandbox-rs"},    // sandbox banks are not in live
		{"live", "raiffeisen-rs"}, // listed, but without a connector
	} {
		if _, err := r.For(c.env, c.bank); !errors.Is(err, ErrUnknownBank) {
			t.Errorf("%s in %s: %v", c.bank, c.env, err)
		}
	}
}
