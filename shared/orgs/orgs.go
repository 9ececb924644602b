// Package orgs is Tok's organisations, their API key pairs and their members: the data
// model and the one repository used by the organisation function, by authentication
// (LookupKey, Authenticate) and by the admin CLI (scripts/tokctl).
//
// # Storage
//
//	orgs/{orgId}                          Org
//	orgs/{orgId}/keyPairs/{key_…}         KeyPair (masked keys and the two hashes)
//	orgs/{orgId}/members/{mem_…}          Member
//	orgs/{orgId}/memberEmails/{sha256}    uniqueness of a member's lower-cased email
//	apiKeys/{hash}                        KeyRecord, one per key, by apikey.Hash(pepper, key)
//
// A key itself is never stored: it is returned once, by CreateOrg, CreateKeyPair and
// RotateKeyPair, and only its keyed hash and a mask (prefix and last four characters) are
// kept. Every write that touches several documents is one transaction.
package orgs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"tokapi.io/tok/shared/auth"
)

// ErrNotFound: the organisation, key pair, member or key does not exist, or belongs to
// another organisation.
var ErrNotFound = errors.New("not found")

// ErrConflict: the change contradicts the current state (a duplicate email, removing or
// demoting the last owner, rotating a revoked or already rotated key pair).
var ErrConflict = errors.New("conflict")

// ConflictError is an ErrConflict with a reason that may be shown to the caller.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

func conflict(format string, args ...any) error {
	return &ConflictError{Reason: fmt.Sprintf(format, args...)}
}

// ValidationError names the input that is invalid. Field is the name used by the API
// ("name", "tier", "allowedOrigins[1]", "email", "role").
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Message }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Tiers.
const (
	TierFree       = "free"
	TierPro        = "pro"
	TierEnterprise = "enterprise"
)

// Tiers lists the tiers, cheapest first.
var Tiers = []string{TierFree, TierPro, TierEnterprise}

// Member roles, strongest first.
const (
	MemberOwner     = "owner"
	MemberAdmin     = "admin"
	MemberDeveloper = "developer"
	MemberViewer    = "viewer"
)

// MemberRoles lists the member roles, strongest first.
var MemberRoles = []string{MemberOwner, MemberAdmin, MemberDeveloper, MemberViewer}

// Rotation grace periods.
const (
	DefaultGrace = 24 * time.Hour
	MaxGrace     = 7 * 24 * time.Hour
)

// CreatedByCLI is KeyPair.CreatedBy for pairs made by tokctl (and an organisation's first
// pair, made with the organisation).
const CreatedByCLI = "tokctl"

// Limits on inputs.
const (
	maxNameLen   = 200
	maxOrigins   = 20
	maxEmailLen  = 254
	maxOriginLen = 255
)

// Org is an organisation. One record serves both environments.
type Org struct {
	ID             string    `firestore:"id" json:"id"`
	Name           string    `firestore:"name" json:"name"`
	Tier           string    `firestore:"tier" json:"tier"`
	AllowedOrigins []string  `firestore:"allowedOrigins" json:"allowedOrigins"`
	CreatedAt      time.Time `firestore:"createdAt" json:"createdAt"`
	// CallbackURL is the default callback URL, on one of AllowedOrigins ("" for none).
	CallbackURL string `firestore:"callbackUrl,omitempty" json:"callbackUrl,omitempty"`
	// DisplayName, LogoURL and BrandColor brand the hosted pages ("" for Tok's defaults).
	DisplayName string `firestore:"displayName,omitempty" json:"displayName,omitempty"`
	LogoURL     string `firestore:"logoUrl,omitempty" json:"logoUrl,omitempty"`
	BrandColor  string `firestore:"brandColor,omitempty" json:"brandColor,omitempty"`
}

// KeyPair is a pair of keys, live and sandbox, sharing one role. The keys themselves are
// never stored.
type KeyPair struct {
	ID               string     `firestore:"id" json:"id"`
	Role             auth.Role  `firestore:"role" json:"role"`
	LiveKeyMasked    string     `firestore:"liveKeyMasked" json:"liveKeyMasked"`
	SandboxKeyMasked string     `firestore:"sandboxKeyMasked" json:"sandboxKeyMasked"`
	CreatedAt        time.Time  `firestore:"createdAt" json:"createdAt"`
	CreatedBy        string     `firestore:"createdBy" json:"createdBy"`
	ExpiresAt        *time.Time `firestore:"expiresAt" json:"expiresAt"`
	RevokedAt        *time.Time `firestore:"revokedAt" json:"revokedAt"`
	ReplacedBy       string     `firestore:"replacedBy" json:"replacedBy,omitempty"`
	Replaces         string     `firestore:"replaces" json:"replaces,omitempty"`
	LiveHash         string     `firestore:"liveHash" json:"-"`
	SandboxHash      string     `firestore:"sandboxHash" json:"-"`
}

// Key pair states, as Status reports them.
const (
	StatusActive   = "active"
	StatusExpiring = "expiring" // rotated, still working until ExpiresAt
	StatusExpired  = "expired"
	StatusRevoked  = "revoked"
)

// Status is the pair's state at now.
func (k KeyPair) Status(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return StatusRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return StatusExpired
	case k.ExpiresAt != nil:
		return StatusExpiring
	}
	return StatusActive
}

// NewKeyPair is a key pair as created: the only time its keys are seen.
type NewKeyPair struct {
	KeyPair
	LiveKey    string `json:"liveKey"`
	SandboxKey string `json:"sandboxKey"`
	// ReplacedExpiresAt is, after RotateKeyPair, when the replaced pair stops working.
	ReplacedExpiresAt *time.Time `json:"-"`
}

// KeyRecord is what is stored for one key, at apiKeys/{Hash}. A key fails from ExpiresAt
// on (inclusive), and at once when Revoked.
type KeyRecord struct {
	Hash      string     `firestore:"hash"`
	OrgID     string     `firestore:"orgId"`
	Env       string     `firestore:"env"`
	KeyPairID string     `firestore:"keyPairId"`
	Role      auth.Role  `firestore:"role"`
	CreatedAt time.Time  `firestore:"createdAt"`
	ExpiresAt *time.Time `firestore:"expiresAt"`
	Revoked   bool       `firestore:"revoked"`
	// Tier is the organisation's, kept on every key record it has (SetTier changes them in
	// the transaction that changes the organisation), so authenticating a key is one read.
	Tier string `firestore:"tier"`
}

// Member is a person of the organisation, for the future dashboard.
type Member struct {
	ID        string    `firestore:"id" json:"id"`
	Email     string    `firestore:"email" json:"email"`
	Role      string    `firestore:"role" json:"role"`
	CreatedAt time.Time `firestore:"createdAt" json:"createdAt"`
	UpdatedAt time.Time `firestore:"updatedAt" json:"updatedAt"`
}

// MaxKeyRole is the strongest key role a member may create a key with: a key may not be
// created with more power than the member who asks for it. owner and admin give admin,
// developer developer, viewer read_only; anything else gives "", which covers nothing.
func MaxKeyRole(memberRole string) auth.Role {
	switch memberRole {
	case MemberOwner, MemberAdmin:
		return auth.RoleAdmin
	case MemberDeveloper:
		return auth.RoleDeveloper
	case MemberViewer:
		return auth.RoleReadOnly
	}
	return ""
}

// ValidateTier checks a tier name.
func ValidateTier(tier string) error {
	for _, t := range Tiers {
		if tier == t {
			return nil
		}
	}
	return invalid("tier", "must be one of free, pro, enterprise")
}

// ValidateMemberRole checks a member role name.
func ValidateMemberRole(role string) error {
	for _, r := range MemberRoles {
		if role == r {
			return nil
		}
	}
	return invalid("role", "must be one of owner, admin, developer, viewer")
}

// ValidateKeyRole checks a key role name.
func ValidateKeyRole(role string) (auth.Role, error) {
	r, ok := auth.ParseRole(role)
	if !ok {
		return "", invalid("role", "must be one of admin, developer, read_only")
	}
	return r, nil
}

// ValidateName checks and trims an organisation name.
func ValidateName(name string) (string, error) {
	return validateText("name", name, maxNameLen)
}

// validateText checks and trims a name shown to people: 1 to max characters of UTF-8
// without control characters.
func validateText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid(field, "is required")
	case !utf8.ValidString(s):
		return "", invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return "", invalid(field, "must be at most %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", invalid(field, "must not contain control characters")
	}
	return s, nil
}

// NormalizeOrigins checks the origins an organisation's callback URLs may use and returns
// them normalised (lower-case scheme and host, no default port), without duplicates. An
// origin is https://host[:port]: no user, path, query or fragment.
func NormalizeOrigins(origins []string) ([]string, error) {
	if len(origins) > maxOrigins {
		return nil, invalid("allowedOrigins", "must hold at most %d origins", maxOrigins)
	}
	out := make([]string, 0, len(origins))
	seen := map[string]bool{}
	for i, o := range origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, invalid(fmt.Sprintf("allowedOrigins[%d]", i), "%s", err.Error())
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// NormalizeOrigin checks one origin; see NormalizeOrigins.
func NormalizeOrigin(o string) (string, error) {
	const want = "must be an https origin such as https://app.example.com (no path, query or fragment)"
	if o == "" || len(o) > maxOriginLen {
		return "", errors.New(want)
	}
	u, err := url.Parse(o)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Opaque != "" || u.User != nil ||
		u.Host == "" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" ||
		u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#") {
		return "", errors.New(want)
	}
	host := strings.ToLower(u.Hostname())
	if strings.ContainsAny(host, " %") {
		return "", errors.New(want)
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && p != "443" {
		host += ":" + p
	}
	return "https://" + host, nil
}

// CheckEmail checks an email address as the spec's `format: email` means it (an RFC 5321
// mailbox: a dot-atom local part of at most 64 characters, @, a domain name of letters,
// digits and hyphens with a top-level label that is not all digits; ASCII only; at most 254
// characters). Quoted local
// parts, address literals, display names, comments and surrounding spaces are refused:
// mail systems disagree on them, and an address is shown back exactly as given.
func CheckEmail(email string) error {
	if email == "" {
		return invalid("email", "is required")
	}
	if len(email) > maxEmailLen {
		return invalid("email", "must be at most %d characters", maxEmailLen)
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || !dotAtom(local) || len(local) > maxLocalLen || !hostname(domain) {
		return invalid("email", "must be an email address such as ana@example.com")
	}
	return nil
}

// maxLocalLen is RFC 5321's limit on the part before @.
const maxLocalLen = 64

// dotAtom reports whether s is an RFC 5322 dot-atom: atoms of atext joined by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && !strings.ContainsRune("!#$%&'*+/=?^_`{|}~-", rune(c)) {
			return false
		}
	}
	return true
}

// hostname reports whether s is a domain name of at least two labels, each 1 to 63 letters,
// digits and inner hyphens, the last not all digits.
func hostname(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
