package auth

import "context"

// CallerWithRole is the authenticated caller, once its key is found to hold at least need
// (Require): the start of a route that reads or changes the caller's own organisation.
func CallerWithRole(ctx context.Context, need Role) (Caller, error) {
	if err := Require(ctx, need); err != nil {
		return Caller{}, err
	}
	return CallerFrom(ctx)
}
