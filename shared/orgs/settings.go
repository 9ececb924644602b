package orgs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
)

// Limits on the organisation's settings.
const (
	maxDisplayNameLen = 100
	maxURLLen         = 2048
)

// SettingsPatch is a change to an organisation's settings: nil fields stay as they are, and
// "" clears an optional one. A new setting is a field here, a case in Apply and a field of
// Org.
type SettingsPatch struct {
	AllowedOrigins *[]string
	CallbackURL    *string
	DisplayName    *string
	LogoURL        *string
	BrandColor     *string
}

// Apply validates the patch and applies it to o. The result is checked as a whole (the
// callback URL on the resulting allowed origins), so the order of fields does not matter.
func (p SettingsPatch) Apply(o *Org) error {
	if p.AllowedOrigins != nil {
		origins, err := NormalizeOrigins(*p.AllowedOrigins)
		if err != nil {
			return err
		}
		o.AllowedOrigins = origins
	}
	set := []struct {
		field string
		in    *string
		out   *string
		check func(field, s string) (string, error)
	}{
		{"callbackUrl", p.CallbackURL, &o.CallbackURL, func(_, s string) (string, error) { return s, nil }}, // checked below
		{"displayName", p.DisplayName, &o.DisplayName, func(f, s string) (string, error) { return validateText(f, s, maxDisplayNameLen) }},
		{"logoUrl", p.LogoURL, &o.LogoURL, validateLogoURL},
		{"brandColor", p.BrandColor, &o.BrandColor, validateBrandColor},
	}
	for _, s := range set {
		if s.in == nil {
			continue
		}
		if *s.in == "" {
			*s.out = ""
			continue
		}
		v, err := s.check(s.field, *s.in)
		if err != nil {
			return err
		}
		*s.out = v
	}
	if o.CallbackURL != "" {
		field := "callbackUrl"
		if p.CallbackURL == nil {
			field = "allowedOrigins" // the origins changed under the callback URL already set
		}
		if err := checkOnOrigins(o.CallbackURL, o.AllowedOrigins); err != nil {
			return invalid(field, "%s", err.Error())
		}
	}
	return nil
}

// ParseCallbackURL checks the shape every callback URL must have: absolute, at most 2,048
// bytes, with a host and without user information or fragment.
func ParseCallbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxURLLen || u.Opaque != "" || u.User != nil || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, errors.New("must be an absolute https URL without user information or fragment")
	}
	return u, nil
}

// checkOnOrigins checks that raw is an https URL on one of origins.
func checkOnOrigins(raw string, origins []string) error {
	u, err := ParseCallbackURL(raw)
	if err != nil {
		return err
	}
	origin, err := NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return errors.New("must be an absolute https URL")
	}
	if !slices.Contains(origins, origin) {
		return fmt.Errorf("must be on one of the organisation's allowed origins (%s)", strings.Join(origins, ", "))
	}
	return nil
}

func validateLogoURL(field, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || len(s) > maxURLLen || !strings.EqualFold(u.Scheme, "https") || u.Opaque != "" || u.User != nil || u.Hostname() == "" || strings.ContainsAny(s, " \t\r\n") {
		return "", invalid(field, "must be an absolute https URL without user information, at most %d characters", maxURLLen)
	}
	return s, nil
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func validateBrandColor(field, s string) (string, error) {
	if !hexColor.MatchString(s) {
		return "", invalid(field, "must be a colour as #rrggbb (six hexadecimal digits)")
	}
	return strings.ToLower(s), nil
}

// UpdateSettings applies a patch to the organisation's settings in one transaction and
// returns the result. Like every write here it refuses a sandbox caller.
func (r *Repo) UpdateSettings(ctx context.Context, orgID string, p SettingsPatch) (Org, error) {
	if !ids.Valid(ids.Organisation, orgID) {
		return Org{}, fmt.Errorf("organisation %q: %w", orgID, ErrNotFound)
	}
	var out Org
	err := r.change(ctx, func(tx *firestore.Transaction) error {
		snap, err := tx.Get(r.orgRef(orgID))
		if err != nil {
			return err
		}
		var o Org
		if err := snap.DataTo(&o); err != nil {
			return fmt.Errorf("decode organisation %s: %w", orgID, err)
		}
		if err := p.Apply(&o); err != nil {
			return err
		}
		out = o
		return tx.Set(r.orgRef(orgID), o)
	})
	if isNotFound(err) {
		return Org{}, fmt.Errorf("organisation %s: %w", orgID, ErrNotFound)
	}
	if err != nil {
		return Org{}, fmt.Errorf("update settings of %s: %w", orgID, err)
	}
	return out, nil
}
