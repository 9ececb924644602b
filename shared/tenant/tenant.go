// Package tenant names whose data a call may touch: one organisation in one environment.
// The authenticated tenant travels in the request context; the store builds every path
// from it, so handlers cannot address another organisation's data.
package tenant

import (
	"context"
	"fmt"
)

// Environments. A sandbox key only ever sees sandbox data and sandbox banks.
const (
	Live    = "live"
	Sandbox = "sandbox"
)

// Tenant is an organisation in an environment.
type Tenant struct {
	Env   string
	OrgID string
}

// Valid reports whether t names a real environment and an organisation.
func (t Tenant) Valid() bool {
	return (t.Env == Live || t.Env == Sandbox) && t.OrgID != ""
}

func (t Tenant) String() string { return t.Env + "/" + t.OrgID }

type ctxKey struct{}

// With returns ctx carrying t.
func With(ctx context.Context, t Tenant) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// From returns the tenant in ctx. Handlers behind authentication always have one; its
// absence is a programming error reported as an error, not a panic.
func From(ctx context.Context) (Tenant, error) {
	t, ok := ctx.Value(ctxKey{}).(Tenant)
	if !ok || !t.Valid() {
		return Tenant{}, fmt.Errorf("no authenticated tenant in context")
	}
	return t, nil
}

// EnvironmentHeader names the environment of the host a request came in on
// (api.tokapi.io: live, sandbox.api.tokapi.io: sandbox). The load balancer's URL map sets it
// per host, replacing any value the client sent, and the functions accept traffic only from
// the load balancer; locally the gateway does the same per port.
const EnvironmentHeader = "X-Tok-Environment"
