package money

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Currency is an ISO 4217 currency. MinorUnits is the number of decimals the currency
// allows (2 for EUR, 0 for JPY, 3 for KWD).
type Currency struct {
	Code       string
	MinorUnits int32
	Name       string
}

// currencies lists the currencies Tok can meet: those of the Balkan countries it serves,
// their neighbours and the majors that appear on cross-border payments. Minor units are
// ISO 4217's, which is not always what banks print (RSD and HUF are listed with 2).
var currencies = indexCurrencies([]Currency{
	// The Balkan currencies Tok serves.
	{"RSD", 2, "Serbian dinar"},
	{"EUR", 2, "Euro"},
	{"BAM", 2, "Bosnia and Herzegovina convertible mark"},
	{"MKD", 2, "Macedonian denar"},
	{"ALL", 2, "Albanian lek"},
	{"BGN", 2, "Bulgarian lev"},
	{"RON", 2, "Romanian leu"},
	// Neighbours and majors.
	{"USD", 2, "US dollar"},
	{"GBP", 2, "Pound sterling"},
	{"CHF", 2, "Swiss franc"},
	{"JPY", 0, "Japanese yen"},
	{"CZK", 2, "Czech koruna"},
	{"HUF", 2, "Hungarian forint"},
	{"PLN", 2, "Polish zloty"},
	{"SEK", 2, "Swedish krona"},
	{"NOK", 2, "Norwegian krone"},
	{"DKK", 2, "Danish krone"},
	{"ISK", 0, "Icelandic krona"},
	{"TRY", 2, "Turkish lira"},
	{"UAH", 2, "Ukrainian hryvnia"},
	{"MDL", 2, "Moldovan leu"},
	{"CAD", 2, "Canadian dollar"},
	{"AUD", 2, "Australian dollar"},
	{"NZD", 2, "New Zealand dollar"},
	{"CNY", 2, "Chinese yuan renminbi"},
	{"HKD", 2, "Hong Kong dollar"},
	{"SGD", 2, "Singapore dollar"},
	{"INR", 2, "Indian rupee"},
	{"KRW", 0, "South Korean won"},
	{"ILS", 2, "Israeli new shekel"},
	{"AED", 2, "UAE dirham"},
	{"SAR", 2, "Saudi riyal"},
	{"QAR", 2, "Qatari riyal"},
	{"KWD", 3, "Kuwaiti dinar"},
	{"BHD", 3, "Bahraini dinar"},
	{"OMR", 3, "Omani rial"},
	{"JOD", 3, "Jordanian dinar"},
	{"ZAR", 2, "South African rand"},
	{"BRL", 2, "Brazilian real"},
	{"MXN", 2, "Mexican peso"},
})

func indexCurrencies(list []Currency) map[string]Currency {
	m := make(map[string]Currency, len(list))
	for _, c := range list {
		m[c.Code] = c
	}
	return m
}

// LookupCurrency finds a currency by its ISO 4217 code. Codes are upper case, as ISO writes
// them and as the API requires; "eur" is not found.
func LookupCurrency(code string) (Currency, bool) {
	c, ok := currencies[code]
	return c, ok
}

// ValidateAmountForCurrency checks that an amount can be paid in c: positive, and with no
// more significant decimals than the currency's minor units ("100.0000" is a valid JPY
// amount, "100.5" is not). Errors wrap ErrInvalidAmount.
func ValidateAmountForCurrency(d decimal.Decimal, c Currency) error {
	if !d.IsPositive() {
		return fmt.Errorf("%w: must be greater than zero", ErrInvalidAmount)
	}
	if !d.Truncate(c.MinorUnits).Equal(d) {
		return fmt.Errorf("%w: %s allows at most %d decimal places", ErrInvalidAmount, c.Code, c.MinorUnits)
	}
	return nil
}
