package orgs

import (
	"errors"
	"reflect"
	"slices"
	"strings"
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

func TestSettingsPatchApply(t *testing.T) {
	str := func(s string) *string { return &s }
	origins := func(o ...string) *[]string { return &o }
	base := Org{AllowedOrigins: []string{"https://app.example.com"}, CallbackURL: "https://app.example.com/cb", DisplayName: "Bilko"}

	o := base
	if err := (SettingsPatch{AllowedOrigins: origins("HTTPS://New.Example.com", "https://app.example.com"), CallbackURL: str("https://new.example.com:443/return?x=1"),
		DisplayName: str("  Bilko d.o.o. "), LogoURL: str("https://cdn.example.com/logo.png"), BrandColor: str("#0A7CFF")}).Apply(&o); err != nil {
		t.Fatal(err)
	}
	if want := (Org{AllowedOrigins: []string{"https://new.example.com", "https://app.example.com"}, CallbackURL: "https://new.example.com:443/return?x=1",
		DisplayName: "Bilko d.o.o.", LogoURL: "https://cdn.example.com/logo.png", BrandColor: "#0a7cff"}); !reflect.DeepEqual(o, want) {
		t.Errorf("applied = %+v, want %+v", o, want)
	}
	// "" clears; absent fields stay.
	o = base
	if err := (SettingsPatch{CallbackURL: str(""), DisplayName: str("")}).Apply(&o); err != nil || o.CallbackURL != "" || o.DisplayName != "" || len(o.AllowedOrigins) != 1 {
		t.Errorf("clearing: %+v %v", o, err)
	}

	bad := []struct {
		p     SettingsPatch
		field string
	}{
		{SettingsPatch{AllowedOrigins: origins("http://app.example.com")}, "allowedOrigins[0]"},
		{SettingsPatch{AllowedOrigins: origins("https://app.example.com", "https://app.example.com/path")}, "allowedOrigins[1]"},
		{SettingsPatch{AllowedOrigins: origins(make([]string, 21)...)}, "allowedOrigins"},
		// the origins would no longer hold the callback URL already set
		{SettingsPatch{AllowedOrigins: origins("https://other.example.com")}, "allowedOrigins"},
		{SettingsPatch{CallbackURL: str("https://evil.example.com/cb")}, "callbackUrl"},
		{SettingsPatch{CallbackURL: str("http://app.example.com/cb")}, "callbackUrl"},
		{SettingsPatch{CallbackURL: str("https://app.example.com/cb#frag")}, "callbackUrl"},
		{SettingsPatch{CallbackURL: str("/cb")}, "callbackUrl"},
		{SettingsPatch{DisplayName: str(strings.Repeat("é", 101))}, "displayName"},
		{SettingsPatch{DisplayName: str("   ")}, "displayName"},
		{SettingsPatch{DisplayName: str("a\nb")}, "displayName"},
		{SettingsPatch{LogoURL: str("http://cdn.example.com/logo.png")}, "logoUrl"},
		{SettingsPatch{LogoURL: str("https://u:p@cdn.example.com/logo.png")}, "logoUrl"},
		{SettingsPatch{LogoURL: str("javascript:alert(1)")}, "logoUrl"},
		{SettingsPatch{LogoURL: str("https://cdn.example.com/" + strings.Repeat("a", 2048))}, "logoUrl"},
		{SettingsPatch{BrandColor: str("#fff")}, "brandColor"},
		{SettingsPatch{BrandColor: str("0a7cff")}, "brandColor"},
		{SettingsPatch{BrandColor: str("#0a7cfg")}, "brandColor"},
	}
	for _, c := range bad {
		o := base
		o.AllowedOrigins = slices.Clone(base.AllowedOrigins)
		err := c.p.Apply(&o)
		var v *ValidationError
		if !errors.As(err, &v) || v.Field != c.field {
			t.Errorf("Apply(%+v) = %v, want a validation error on %s", c.p, err, c.field)
		}
	}
}
