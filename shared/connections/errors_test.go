package connections

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/httpapi"
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
		{ErrTokensUnreadable, 500, httpapi.CodeInternal, false},
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
	if EndStatus(&bank.Error{Kind: bank.ConsentRevoked}) != StatusRevoked || EndStatus(&bank.Error{Kind: bank.Unavailable}) != "" {
		t.Error("EndStatus")
	}
}

func TestAccountIDStable(t *testing.T) {
	s := Connection{Env: "sandbox", OrgID: "org_1"}.Tenant()
	a := AccountID(s, "sandbox-hr", "HR12 1001 0051 8630 0016 0", "r1")
	if a != AccountID(s, "sandbox-hr", "hr1210010051863000160", "r2") {
		t.Error("same IBAN, different ID")
	}
	if a == AccountID(s, "sandbox-rs", "HR1210010051863000160", "r1") || a == AccountID(Connection{Env: "live", OrgID: "org_1"}.Tenant(), "sandbox-hr", "HR1210010051863000160", "r1") {
		t.Error("IDs collide across banks or environments")
	}
	if AccountID(s, "b", "", "r1") == AccountID(s, "b", "", "r2") {
		t.Error("resource IDs collide")
	}
}
