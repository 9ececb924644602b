package money

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseAmountAccepts(t *testing.T) {
	for _, tc := range []struct{ in, wire string }{
		{"1500", "1500.0000"},
		{"1500.00", "1500.0000"},
		{"5000.0000", "5000.0000"},
		{"0.01", "0.0100"},
		{"0", "0.0000"},
		{"0.0001", "0.0001"},
		{"999999999999999.9999", "999999999999999.9999"},
		{"12.5", "12.5000"},
	} {
		d, err := ParseAmount(tc.in)
		if err != nil {
			t.Errorf("ParseAmount(%q): %v", tc.in, err)
			continue
		}
		if got := FormatAmount(d); got != tc.wire {
			t.Errorf("FormatAmount(ParseAmount(%q)) = %q, want %q", tc.in, got, tc.wire)
		}
	}
}

func TestParseAmountRejects(t *testing.T) {
	for _, in := range []string{
		"", " 1", "1 ", "1 000", "+1", "-1", "-0.5", "1e3", "1E3", "0x10", "1,50", "1.2.3",
		".5", "5.", ".", "01", "00.5", "1.00001", "1234567890123456", "1_000", "NaN", "Inf",
		"١٢", // Arabic-Indic digits are not ASCII digits.
	} {
		d, err := ParseAmount(in)
		if err == nil {
			t.Errorf("ParseAmount(%q) = %s, want an error", in, d)
			continue
		}
		if !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("ParseAmount(%q) error %v does not wrap ErrInvalidAmount", in, err)
		}
	}
}

func TestParseAmountMessagesNameTheProblem(t *testing.T) {
	for in, want := range map[string]string{
		"1.12345":          "invalid amount: at most 4 decimal places are allowed",
		"1234567890123456": "invalid amount: at most 15 digits are allowed before the '.'",
		"":                 "invalid amount: must not be empty",
	} {
		if _, err := ParseAmount(in); err == nil || err.Error() != want {
			t.Errorf("ParseAmount(%q) error = %v, want %q", in, err, want)
		}
	}
}

func TestFormatAmountKeepsSign(t *testing.T) {
	if got := FormatAmount(decimal.RequireFromString("-12.3")); got != "-12.3000" {
		t.Errorf("FormatAmount(-12.3) = %q, want %q", got, "-12.3000")
	}
}

func TestValidateAmountForCurrency(t *testing.T) {
	eur, _ := LookupCurrency("EUR")
	jpy, _ := LookupCurrency("JPY")
	kwd, _ := LookupCurrency("KWD")
	for _, tc := range []struct {
		amount string
		c      Currency
		ok     bool
	}{
		{"10.50", eur, true},
		{"10.5000", eur, true},
		{"10.505", eur, false},
		{"0.01", eur, true},
		{"0", eur, false},
		{"0.0000", eur, false},
		{"-1", eur, false},
		{"100", jpy, true},
		{"100.0000", jpy, true},
		{"100.5", jpy, false},
		{"1.125", kwd, true},
		{"1.1255", kwd, false},
	} {
		err := ValidateAmountForCurrency(decimal.RequireFromString(tc.amount), tc.c)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateAmountForCurrency(%s, %s) = %v, want ok=%v", tc.amount, tc.c.Code, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("error %v does not wrap ErrInvalidAmount", err)
		}
	}
}

func TestLookupCurrency(t *testing.T) {
	for code, minor := range map[string]int32{
		"RSD": 2, "EUR": 2, "BAM": 2, "MKD": 2, "ALL": 2, "BGN": 2, "RON": 2,
		"USD": 2, "GBP": 2, "CHF": 2, "JPY": 0, "CZK": 2, "HUF": 2, "PLN": 2,
		"SEK": 2, "NOK": 2, "DKK": 2, "TRY": 2, "CAD": 2, "AUD": 2, "KWD": 3,
	} {
		c, ok := LookupCurrency(code)
		if !ok {
			t.Errorf("LookupCurrency(%q) not found", code)
			continue
		}
		if c.Code != code || c.MinorUnits != minor || c.Name == "" {
			t.Errorf("LookupCurrency(%q) = %+v, want code %s with %d minor units and a name", code, c, code, minor)
		}
	}
	for _, code := range []string{"eur", "XXX", "", "EURO", "HRK"} {
		if c, ok := LookupCurrency(code); ok {
			t.Errorf("LookupCurrency(%q) = %+v, want not found", code, c)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1500", "1500.00", "5000.0000", "0", "0.0001", "999999999999999.9999", "1e3", "-1", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAmount(s)
		if err != nil {
			return
		}
		if d.IsNegative() {
			t.Fatalf("ParseAmount(%q) = %s, negative", s, d)
		}
		wire := FormatAmount(d)
		again, err := ParseAmount(wire)
		if err != nil {
			t.Fatalf("ParseAmount(FormatAmount(ParseAmount(%q))) = %v", s, err)
		}
		if !again.Equal(d) {
			t.Fatalf("round trip of %q: %s != %s", s, again, d)
		}
		if FormatAmount(again) != wire {
			t.Fatalf("wire form of %q is not stable: %q then %q", s, wire, FormatAmount(again))
		}
	})
}
