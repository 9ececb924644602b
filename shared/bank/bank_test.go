package bank

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestTokensRedacted(t *testing.T) {
	tok := Tokens{AccessToken: "at-secret", RefreshToken: "rt-secret"}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "tokens", tok, "session", Session{AccessToken: "at-secret", PSUIPAddress: "1.2.3.4"})
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v %#v", tok, tok), b.String(), fmt.Sprintf("%v", Session{AccessToken: "at-secret"})} {
		if strings.Contains(s, "secret") || strings.Contains(s, "1.2.3.4") {
			t.Errorf("leak: %s", s)
		}
	}
}

func TestPKCEAndAuthorizationError(t *testing.T) {
	v, c := NewPKCE()
	s1, s2 := NewState(), NewState()
	if len(v) != 43 || S256(v) != c || s1 == s2 {
		t.Fatal("bad PKCE/state")
	}
	if KindOf(AuthorizationError(url.Values{"error": {"access_denied"}})) != Rejected || AuthorizationError(url.Values{"code": {"x"}}) != nil {
		t.Fatal("AuthorizationError")
	}
}
