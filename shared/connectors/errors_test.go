package connectors

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/tokenvault"
)

func TestAPIError(t *testing.T) {
	cases := []struct {
		err      error
		status   int
		code     string
		fromBank bool
	}{
		{&bank.Error{Kind: bank.ConsentExpired, Status: 401}, 403, httpapi.CodeConsentExpired, false},
		{&bank.Error{Kind: bank.ConsentRevoked, Status: 401}, 403, httpapi.CodeConsentRevoked, false},
		{&bank.Error{Kind: bank.Unavailable, Status: 503}, 502, httpapi.CodeBankAPIError, true},
		{&bank.Error{Kind: bank.Rejected}, 502, httpapi.CodeBankAPIError, true},
		{&bank.Error{Kind: bank.Invalid, Status: 400}, 502, httpapi.CodeBankAPIError, true},
		{&bank.Error{Kind: bank.AccessExceeded, Status: 429}, 502, httpapi.CodeBankAPIError, true},
		{errors.New("boom"), 500, httpapi.CodeInternal, false},
		{fmt.Errorf("open: %w", tokenvault.ErrUnreadable), 500, httpapi.CodeInternal, false},
		{httpapi.NotFound("Account acc_1"), 404, httpapi.CodeNotFound, false},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		httpapi.WriteError(rec, httptest.NewRequest("GET", "/v1/accounts/x", nil), APIError(c.err))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), `"`+c.code+`"`) ||
			(rec.Header().Get(httpapi.ErrorSourceHeader) == "bank") != c.fromBank {
			t.Errorf("%v: %d %v %s", c.err, rec.Code, rec.Header(), rec.Body)
		}
	}
	if APIError(nil) != nil {
		t.Error("nil error mapped")
	}
}
