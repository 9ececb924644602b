package tok

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// ParseAmount turns an amount of the API (a decimal string such as "5000.0000") into a
// decimal, never a float.
func ParseAmount(amount string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("tok: amount %q: %w", amount, err)
	}
	return d, nil
}

// FormatAmount writes an amount as the API expects it: a decimal string with 4 decimals.
func FormatAmount(d decimal.Decimal) string { return d.StringFixed(4) }
