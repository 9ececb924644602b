package bank

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheckRedirect(t *testing.T) {
	for _, ok := range []string{"code=abc", "code=" + strings.Repeat("x", MaxCodeLen), "error=access_denied",
		"error=server_error&error_description=down", "code=a%20b&iss=https%3A%2F%2Fbank"} {
		q, _ := url.ParseQuery(ok)
		if err := CheckRedirect(q); err != nil {
			t.Errorf("%.60s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "code=", "error=", "code=a&code=b", "code=a&error=access_denied",
		"error=access_denied&error=server_error", "error=nonsense", "code=" + strings.Repeat("x", MaxCodeLen+1),
		"code=a%00b", "code=a%0Ab", "code=%C3%A9", "state=only"} {
		q, _ := url.ParseQuery(bad)
		if err := CheckRedirect(q); err == nil {
			t.Errorf("%.60s accepted", bad)
		}
	}
}
