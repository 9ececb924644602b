package money

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// registryExamples are the example IBANs published in the SWIFT IBAN registry (public test
// data, not real accounts); their check digits were verified independently of ValidateIBAN.
var registryExamples = map[string]string{
	"RS": "RS35260005601001611379",
	"HR": "HR1210010051863000160",
	"BA": "BA391290079401028494",
	"MK": "MK07250120000058984",
	"ME": "ME25505000012345678951",
	"AL": "AL47212110090000000235698741",
	"SI": "SI56263300012039086",
	"BG": "BG80BNBG96611020345678",
	"RO": "RO49AAAA1B31007593840000",
	"XK": "XK051212012345678906",
	"DE": "DE89370400440532013000",
	"AT": "AT611904300234573201",
	"FR": "FR1420041010050500013M02606",
	"IT": "IT60X0542811101000000123456",
	"ES": "ES9121000418450200051332",
	"NL": "NL91ABNA0417164300",
	"BE": "BE68539007547034",
	"GB": "GB29NWBK60161331926819",
	"CH": "CH9300762011623852957",
	"HU": "HU42117730161111101800000000",
	"CZ": "CZ6508000000192000145399",
	"PL": "PL61109010140000071219812874",
	"GR": "GR1601101250000000012300695",
	"IE": "IE29AIBK93115212345678",
	"LU": "LU280019400644750000",
	"PT": "PT50000201231234567890154",
	"SK": "SK3112000000198742637541",
	"SE": "SE4550000000058398257466",
	"DK": "DK5000400440116243",
	"FI": "FI2112345600000785",
	"NO": "NO9386011117947",
	"TR": "TR330006100519786457841326",
}

func TestRegistryExamplesCoverEveryCountry(t *testing.T) {
	for cc, f := range ibanFormats {
		ex, ok := registryExamples[cc]
		if !ok {
			t.Errorf("no example IBAN for %s", cc)
			continue
		}
		if len(ex) != f.length {
			t.Errorf("%s: example has %d characters, registry length is %d", cc, len(ex), f.length)
		}
	}
}

func TestValidateIBANAcceptsRegistryExamples(t *testing.T) {
	for cc, ex := range registryExamples {
		got, err := ValidateIBAN(ex)
		if err != nil || got != ex {
			t.Errorf("ValidateIBAN(%s) = %q, %v; want it back unchanged", ex, got, err)
		}
		if c := IBANCountry(ex); c != cc {
			t.Errorf("IBANCountry(%s) = %q, want %q", ex, c, cc)
		}
	}
}

func TestValidateIBANNormalizesPrintedForm(t *testing.T) {
	for in, want := range map[string]string{
		"rs35 2600 0560 1001 6113 79":   "RS35260005601001611379",
		"HR12 1001 0051 8630 0016 0":    "HR1210010051863000160",
		"  me25 5050 0001 2345 6789 51": "ME25505000012345678951",
		"bg80 bnbg 9661 1020 3456 78":   "BG80BNBG96611020345678",
		"Al47212110090000000235698741":  "AL47212110090000000235698741",
	} {
		got, err := ValidateIBAN(in)
		if err != nil || got != want {
			t.Errorf("ValidateIBAN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestValidateIBANRejects(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"RS35260005601001611378", ErrIBANChecksum}, // last digit changed
		{"RS36260005601001611379", ErrIBANChecksum}, // check digits changed
		{"HR1210010051863000106", ErrIBANChecksum},  // two digits swapped
		{"BA391290079401028495", ErrIBANChecksum},
		{"MK07250120000058985", ErrIBANChecksum},
		{"RO49AAAA1B31007593840001", ErrIBANChecksum},
		{"RS3526000560100161137", ErrIBANLength},   // one short
		{"RS352600056010016113790", ErrIBANLength}, // one long
		{"SI5626330001203908", ErrIBANLength},
		{"XK05121201234567890", ErrIBANLength},
		{"RS", ErrIBANLength},
		{"", ErrIBANLength},
		{"QQ35260005601001611379", ErrIBANCountry}, // no such country
		{"R535260005601001611379", ErrIBANCountry}, // digit in the country code
		{"US64SVBKUS6S3300958879", ErrIBANCountry}, // the US has no IBAN
		{"RS35-2600-0560-1001-6113-79", ErrIBANCharacters},
		{"RS35260005601001611379\n", ErrIBANCharacters},
		{"RS3526000560100161137ı", ErrIBANCharacters}, // dotless i upper-cases to I
		{"RSAB260005601001611379", ErrIBANCharacters}, // letters as check digits
		{"RS3526000560100161137A", ErrIBANCharacters}, // Serbian BBAN is all digits
		{"BG80BN1G96611020345678", ErrIBANCharacters}, // bank code must be letters
	} {
		got, err := ValidateIBAN(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("ValidateIBAN(%q) = %q, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestValidateIBANRejectsAliasCheckDigits(t *testing.T) {
	// Find a BBAN whose proper check digits are 02, 97 or 98: the aliases 99, 00 and 01 then
	// satisfy mod 97 too, and must still be rejected.
	aliases := map[string]string{"02": "99", "97": "00", "98": "01"}
	found := 0
	for n := 0; n < 2000 && found < 3; n++ {
		bban := fmt.Sprintf("%018d", n)
		iban, err := NewIBAN("RS", bban)
		if err != nil {
			t.Fatal(err)
		}
		alias, ok := aliases[iban[2:4]]
		if !ok {
			continue
		}
		delete(aliases, iban[2:4])
		found++
		bad := "RS" + alias + bban
		if mod97(bad[4:]+bad[:4]) != 1 {
			t.Fatalf("%s should satisfy mod 97", bad)
		}
		if _, err := ValidateIBAN(bad); !errors.Is(err, ErrIBANChecksum) {
			t.Errorf("ValidateIBAN(%s) = %v, want ErrIBANChecksum", bad, err)
		}
	}
	if found != 3 {
		t.Fatalf("found %d of 3 alias cases", found)
	}
}

func TestNewIBANReproducesRegistryExamples(t *testing.T) {
	for cc, ex := range registryExamples {
		got, err := NewIBAN(strings.ToLower(cc), ex[4:])
		if err != nil || got != ex {
			t.Errorf("NewIBAN(%s, %s) = %q, %v; want %q", cc, ex[4:], got, err, ex)
		}
	}
}

func TestNewIBANRejects(t *testing.T) {
	for _, tc := range []struct {
		country, bban string
		want          error
	}{
		{"QQ", "260005601001611379", ErrIBANCountry},
		{"RS", "26000560100161137", ErrIBANLength},
		{"RS", "26000560100161137X", ErrIBANCharacters},
		{"RS", "260005601001611 79", ErrIBANCharacters},
	} {
		if got, err := NewIBAN(tc.country, tc.bban); !errors.Is(err, tc.want) {
			t.Errorf("NewIBAN(%s, %s) = %q, %v; want %v", tc.country, tc.bban, got, err, tc.want)
		}
	}
}

func TestIBANCountry(t *testing.T) {
	for in, want := range map[string]string{
		"RS35260005601001611379": "RS",
		" hr12 1001":             "HR",
		"x":                      "",
		"":                       "",
		"12345":                  "",
		"ıb":                     "",
	} {
		if got := IBANCountry(in); got != want {
			t.Errorf("IBANCountry(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzValidateIBAN(f *testing.F) {
	for _, ex := range registryExamples {
		f.Add(ex)
	}
	f.Add("rs35 2600 0560 1001 6113 79")
	f.Add("RS99260005601001611379")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		iban, err := ValidateIBAN(s)
		if err != nil {
			return
		}
		if again, err := ValidateIBAN(iban); err != nil || again != iban {
			t.Fatalf("ValidateIBAN(%q) = %q, but re-validating gives %q, %v", s, iban, again, err)
		}
		if mod97(iban[4:]+iban[:4]) != 1 {
			t.Fatalf("accepted %q with mod 97 != 1", iban)
		}
		if ibanFormats[IBANCountry(iban)].length != len(iban) {
			t.Fatalf("accepted %q with the wrong length", iban)
		}
		if rebuilt, err := NewIBAN(iban[:2], iban[4:]); err != nil || rebuilt != iban {
			t.Fatalf("NewIBAN does not rebuild %q: %q, %v", iban, rebuilt, err)
		}
	})
}
