package queryparams

import (
	"regexp"
	"strings"
	"testing"
)

// TestDecimalInteger holds decimalInteger to the grammar it implements.
func TestDecimalInteger(t *testing.T) {
	grammar := regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})$`)
	cases := []string{"", "-", "0", "-0", "00", "05", "5", "-5", "+5", "1e3", "1.0", " 1", "1 ", "0x1", "١",
		"123456789012345678", "1234567890123456789", "-123456789012345678", strings.Repeat("9", 18), "--1", "1-"}
	for _, v := range cases {
		if got, want := decimalInteger(v), grammar.MatchString(v); got != want {
			t.Errorf("decimalInteger(%q) = %v, want %v", v, got, want)
		}
	}
}
