// Package callbackurl checks the callbackUrl an organisation gives Tok for sending the
// customer's browser back after a bank's SCA (consents and payments alike): https on one of
// the organisation's allowed origins; sandbox keys may also use http://localhost and
// http://127.0.0.1 on any port.
package callbackurl

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/tenant"
)

// Orgs reads an organisation (orgs.Repo).
type Orgs interface {
	GetOrg(ctx context.Context, id string) (orgs.Org, error)
}

// Check answers nil for an acceptable callback URL, else a 400 naming field.
func Check(ctx context.Context, o Orgs, t tenant.Tenant, field, raw string) error {
	bad := func(msg string) error { return httpapi.InvalidField(field, msg) }
	if raw == "" {
		return bad("is required")
	}
	u, err := orgs.ParseCallbackURL(raw)
	if err != nil {
		return bad(err.Error())
	}
	host := strings.ToLower(u.Hostname())
	if t.Env == tenant.Sandbox && strings.EqualFold(u.Scheme, "http") && (host == "localhost" || host == "127.0.0.1") {
		return nil
	}
	if !strings.EqualFold(u.Scheme, "https") {
		if t.Env == tenant.Sandbox {
			return bad("must use https (sandbox keys may also use http://localhost or http://127.0.0.1)")
		}
		return bad("must use https")
	}
	origin, err := orgs.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return bad("must be an absolute https URL")
	}
	org, err := o.GetOrg(ctx, t.OrgID)
	if err != nil {
		return err
	}
	if !slices.Contains(org.AllowedOrigins, origin) {
		return bad("must be on one of the organisation's allowed origins (" + strings.Join(org.AllowedOrigins, ", ") + ")")
	}
	return nil
}

// Redirect is the callback URL raw with the query parameters of pairs (name, value, ...)
// set, where Tok sends the customer's browser back.
func Redirect(raw string, pairs ...string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("callback URL: %w", err)
	}
	q := u.Query()
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
