package orgs

import (
	"testing"

	"tokapi.io/tok/shared/auth"
)

func TestMaxKeyRole(t *testing.T) {
	cases := map[string]auth.Role{"owner": auth.RoleAdmin, "admin": auth.RoleAdmin, "developer": auth.RoleDeveloper, "viewer": auth.RoleReadOnly, "": "", "root": ""}
	for member, want := range cases {
		if got := MaxKeyRole(member); got != want {
			t.Errorf("MaxKeyRole(%q) = %q, want %q", member, got, want)
		}
	}
	if MaxKeyRole("viewer").Covers(auth.RoleDeveloper) || !MaxKeyRole("developer").Covers(auth.RoleReadOnly) || MaxKeyRole("root").Covers(auth.RoleReadOnly) {
		t.Error("MaxKeyRole does not rank with auth.Role.Covers")
	}
}

func TestNormalizeOrigin(t *testing.T) {
	good := map[string]string{
		"https://app.example.com":       "https://app.example.com",
		"HTTPS://APP.Example.com/":      "https://app.example.com",
		"https://app.example.com:443":   "https://app.example.com",
		"https://app.example.com:8443":  "https://app.example.com:8443",
		"https://[2001:db8::1]:8443":    "https://[2001:db8::1]:8443",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	}
	for in, want := range good {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "http://app.example.com", "https://app.example.com/cb", "https://app.example.com?a", "https://app.example.com#f",
		"https://u:p@app.example.com", "https://", "app.example.com", "javascript:alert(1)", "https:app.example.com", "https://:443", "ftp://x.example"} {
		if got, err := NormalizeOrigin(bad); err == nil {
			t.Errorf("NormalizeOrigin(%q) = %q, want an error", bad, got)
		}
	}
}
