package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// IBAN errors. Each failure has its own value so a handler can tell the API user what is
// wrong; the returned errors wrap one of these with the details.
var (
	ErrIBANCountry    = errors.New("invalid IBAN: unknown country code")
	ErrIBANLength     = errors.New("invalid IBAN: wrong length")
	ErrIBANCharacters = errors.New("invalid IBAN: invalid characters")
	ErrIBANChecksum   = errors.New("invalid IBAN: check digits do not match")
)

// ibanFormat is a country's entry in the SWIFT IBAN registry: the whole length and the BBAN
// structure, as blocks of n (digits), a (upper-case letters) or c (upper-case alphanumerics).
type ibanFormat struct {
	length int
	bban   string
}

// ibanFormats covers the countries Tok serves and the SEPA majors their customers pay.
var ibanFormats = map[string]ibanFormat{
	// Tok's countries.
	"RS": {22, "18n"},
	"HR": {21, "17n"},
	"BA": {20, "16n"},
	"MK": {19, "3n10c2n"},
	"ME": {22, "18n"},
	"AL": {28, "8n16c"},
	"SI": {19, "15n"},
	"BG": {22, "4a6n8c"},
	"RO": {24, "4a16c"},
	"XK": {20, "16n"},
	// SEPA majors and neighbours.
	"DE": {22, "18n"},
	"AT": {20, "16n"},
	"FR": {27, "10n11c2n"},
	"IT": {27, "1a10n12c"},
	"ES": {24, "20n"},
	"NL": {18, "4a10n"},
	"BE": {16, "12n"},
	"GB": {22, "4a14n"},
	"CH": {21, "5n12c"},
	"HU": {28, "24n"},
	"CZ": {24, "20n"},
	"PL": {28, "24n"},
	"GR": {27, "7n16c"},
	"IE": {22, "4a14n"},
	"LU": {20, "3n13c"},
	"PT": {25, "21n"},
	"SK": {24, "20n"},
	"SE": {24, "20n"},
	"DK": {18, "14n"},
	"FI": {18, "14n"},
	"NO": {15, "11n"},
	"TR": {26, "6n16c"},
}

// ValidateIBAN checks an IBAN as a user may type it, in upper or lower case and with spaces
// between groups, and returns its electronic form (upper case, no spaces). It checks the
// country, the country's exact length and BBAN structure, and the ISO 13616 mod-97 check.
func ValidateIBAN(s string) (string, error) {
	iban, ok := normalizeIBAN(s)
	if !ok {
		return "", fmt.Errorf("%w: only letters, digits and spaces are allowed", ErrIBANCharacters)
	}
	if len(iban) < 4 {
		return "", fmt.Errorf("%w: too short", ErrIBANLength)
	}
	country := iban[:2]
	f, ok := ibanFormats[country]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrIBANCountry, country)
	}
	if len(iban) != f.length {
		return "", fmt.Errorf("%w: a %s IBAN has %d characters, got %d", ErrIBANLength, country, f.length, len(iban))
	}
	if !allDigits(iban[2:4]) {
		return "", fmt.Errorf("%w: the check digits (characters 3 and 4) must be digits", ErrIBANCharacters)
	}
	if !matchesBBAN(iban[4:], f.bban) {
		return "", fmt.Errorf("%w: the account part does not have the %s format", ErrIBANCharacters, country)
	}
	// Check digits 00, 01 and 99 are never issued but can still satisfy mod 97, as aliases
	// of 97, 98 and 02; ISO 13616 limits them to 02..98.
	if cd := iban[2:4]; cd == "00" || cd == "01" || cd == "99" || mod97(iban[4:]+iban[:4]) != 1 {
		return "", ErrIBANChecksum
	}
	return iban, nil
}

// NewIBAN builds a valid IBAN from a country code and a BBAN by computing its check digits.
func NewIBAN(country, bban string) (string, error) {
	country = strings.ToUpper(country)
	f, ok := ibanFormats[country]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrIBANCountry, country)
	}
	if len(bban) != f.length-4 {
		return "", fmt.Errorf("%w: a %s BBAN has %d characters, got %d", ErrIBANLength, country, f.length-4, len(bban))
	}
	if !matchesBBAN(bban, f.bban) {
		return "", fmt.Errorf("%w: the BBAN does not have the %s format", ErrIBANCharacters, country)
	}
	check := 98 - mod97(bban+country+"00")
	return fmt.Sprintf("%s%02d%s", country, check, bban), nil
}

// IBANCountry returns the country code of an IBAN in either form, or "" if it does not
// start with two letters. It does not validate the IBAN.
func IBANCountry(iban string) string {
	s := strings.TrimLeft(iban, " ")
	if len(s) < 2 {
		return ""
	}
	cc, ok := normalizeIBAN(s[:2])
	if !ok || len(cc) != 2 || !isUpper(cc[0]) || !isUpper(cc[1]) {
		return ""
	}
	return cc
}

// mod97 computes the ISO 7064 MOD 97-10 remainder of s with letters expanded to 10..35,
// folding digit by digit so that IBANs of any length fit in an int.
func mod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			r = (r*100 + int(c-'A') + 10) % 97
		} else {
			r = (r*10 + int(c-'0')) % 97
		}
	}
	return r
}

// matchesBBAN checks s against a registry structure such as "4a6n8c", including its length.
func matchesBBAN(s, format string) bool {
	pos := 0
	for format != "" {
		i := strings.IndexAny(format, "nac")
		if i <= 0 {
			return false
		}
		n, err := strconv.Atoi(format[:i])
		if err != nil || pos+n > len(s) {
			return false
		}
		for _, c := range []byte(s[pos : pos+n]) {
			switch format[i] {
			case 'n':
				if !isDigit(c) {
					return false
				}
			case 'a':
				if !isUpper(c) {
					return false
				}
			default:
				if !isDigit(c) && !isUpper(c) {
					return false
				}
			}
		}
		pos += n
		format = format[i+1:]
	}
	return pos == len(s)
}

// normalizeIBAN drops spaces and upper-cases ASCII letters. Anything else is rejected
// before case mapping, because Unicode upper-casing turns some non-ASCII letters into ASCII
// ones ('ı' into 'I') and would accept what the user did not type.
func normalizeIBAN(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case isDigit(c) || isUpper(c):
			b = append(b, c)
		default:
			return "", false
		}
	}
	return string(b), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
