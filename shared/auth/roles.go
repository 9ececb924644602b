// Package auth authenticates every Tok API call by its API key, decides its tenant (the
// organisation and the key's environment) and its role, and applies the organisation's rate
// limit. Platform puts its middleware in front of every HTTP function unless the function
// is declared public, so a new endpoint cannot forget it.
package auth

import (
	"context"
	"errors"
	"net/http"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/tenant"
)

// Role is a key pair's role.
type Role string

// Roles, strongest first.
const (
	RoleAdmin     Role = "admin"     // everything, including keys and members
	RoleDeveloper Role = "developer" // all data and all money movement
	RoleReadOnly  Role = "read_only" // GET only
)

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleDeveloper:
		return 2
	case RoleReadOnly:
		return 1
	}
	return 0
}

// ParseRole accepts the three role names.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, r.rank() > 0
}

// Covers reports whether r may do everything other may.
func (r Role) Covers(other Role) bool {
	return r.rank() > 0 && r.rank() >= other.rank()
}

// Caller is the authenticated caller of a request.
type Caller struct {
	Tenant    tenant.Tenant
	KeyPairID string
	Role      Role
	Tier      string
}

type callerKey struct{}

// WithCaller returns ctx carrying c and its tenant.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return tenant.With(context.WithValue(ctx, callerKey{}, c), c.Tenant)
}

// CallerFrom returns the authenticated caller.
func CallerFrom(ctx context.Context) (Caller, error) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	if !ok {
		return Caller{}, errors.New("no authenticated caller in context")
	}
	return c, nil
}

// Require answers 403 FORBIDDEN unless the caller's role covers role.
func Require(ctx context.Context, role Role) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	if !c.Role.Covers(role) {
		return httpapi.Forbidden("This API key's role (" + string(c.Role) + ") does not allow this call; it needs " + string(role) + ".")
	}
	return nil
}

// allowedMethod is the role rule that needs no knowledge of the endpoint: read_only keys
// may only read.
func allowedMethod(r Role, method string) bool {
	if r == RoleReadOnly {
		return method == http.MethodGet || method == http.MethodHead
	}
	return r.rank() > 0
}

// MayAffectLive refuses (403) a call made with a sandbox key. It guards what is
// organisation-wide rather than per environment (key pairs, whose live half grants live
// access; members, who may obtain live keys; the organisation's settings; anything global):
// a sandbox key never changes anything that affects live. A context without an
// authenticated caller is an operator's (tokctl, the local stack's seeding) and passes.
func MayAffectLive(ctx context.Context) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return nil
	}
	if c.Tenant.Env != tenant.Live {
		return httpapi.Forbidden("Sandbox keys cannot change API keys, members or the organisation's settings, which decide live access; use a live (tok_live_…) admin key.")
	}
	return nil
}
