package connections

import (
	"testing"

	"tokapi.io/tok/shared/bank"
)

func TestEndStatus(t *testing.T) {
	if EndStatus(&bank.Error{Kind: bank.ConsentRevoked}) != StatusRevoked || EndStatus(&bank.Error{Kind: bank.ConsentExpired}) != StatusExpired ||
		EndStatus(&bank.Error{Kind: bank.Unavailable}) != "" {
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
