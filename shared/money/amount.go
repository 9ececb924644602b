// Package money holds Tok's money primitives: strict parsing and the wire format of
// amounts, ISO 4217 currencies with their minor units, and ISO 13616 IBAN validation.
// Amounts are always shopspring/decimal values, never floats.
package money

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Limits of the amount grammar. 15 integer digits cover any real payment and keep every
// accepted amount exactly representable in downstream systems that use 19-digit decimals.
const (
	MaxAmountDecimals      = 4
	MaxAmountIntegerDigits = 15
)

// ErrInvalidAmount is wrapped by every amount error, so handlers can map it to a 400.
var ErrInvalidAmount = errors.New("invalid amount")

// ParseAmount parses an amount as clients send it: digits, optionally a '.' and at most four
// decimals ("1500", "1500.00", "5000.0000"). Signs, exponents, spaces, leading zeros and
// bare points are rejected rather than guessed at, so that what a client sent is exactly
// what Tok moves. It does not reject zero: whether zero is allowed depends on the use, see
// ValidateAmountForCurrency.
func ParseAmount(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Decimal{}, fmt.Errorf("%w: must not be empty", ErrInvalidAmount)
	}
	intPart, fracPart, hasPoint := strings.Cut(s, ".")
	if !allDigits(intPart) || !allDigits(fracPart) {
		return decimal.Decimal{}, fmt.Errorf("%w: %q must contain only digits and at most one '.', like \"1500.00\"", ErrInvalidAmount, s)
	}
	switch {
	case intPart == "":
		return decimal.Decimal{}, fmt.Errorf("%w: %q needs a digit before the '.', like \"0.50\"", ErrInvalidAmount, s)
	case hasPoint && fracPart == "":
		return decimal.Decimal{}, fmt.Errorf("%w: %q needs a digit after the '.'", ErrInvalidAmount, s)
	case len(intPart) > 1 && intPart[0] == '0':
		return decimal.Decimal{}, fmt.Errorf("%w: %q must not have leading zeros", ErrInvalidAmount, s)
	case len(intPart) > MaxAmountIntegerDigits:
		return decimal.Decimal{}, fmt.Errorf("%w: at most %d digits are allowed before the '.'", ErrInvalidAmount, MaxAmountIntegerDigits)
	case len(fracPart) > MaxAmountDecimals:
		return decimal.Decimal{}, fmt.Errorf("%w: at most %d decimal places are allowed", ErrInvalidAmount, MaxAmountDecimals)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		// Unreachable for the grammar checked above; kept so a library change cannot slip through.
		return decimal.Decimal{}, fmt.Errorf("%w: %w", ErrInvalidAmount, err)
	}
	return d, nil
}

// FormatAmount renders an amount in the wire format, always with four decimals
// ("5000.0000"). It keeps the sign: callers pass positive amounts and a direction.
func FormatAmount(d decimal.Decimal) string {
	return d.StringFixed(MaxAmountDecimals)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
