package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// Answer serves a route that reads or changes one resource, in the order every such route
// keeps: admit checks the caller and finds what do works on (the tenant's scope, the
// resource the path names); then do returns the JSON answered 200.
func Answer[S any](w http.ResponseWriter, r *http.Request, admit func(*http.Request) (S, error),
	do func(ctx context.Context, s S) (body any, err error)) error {
	s, err := admit(r)
	if err != nil {
		return err
	}
	body, err := do(r.Context(), s)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, body)
	return nil
}

// Respond is Answer for a POST that computes an answer rather than making a resource:
// after admit, the body is decoded strictly into In for answer.
func Respond[S, In any](w http.ResponseWriter, r *http.Request, admit func(*http.Request) (S, error),
	answer func(ctx context.Context, s S, in In) (body any, err error)) error {
	return Answer(w, r, admit, func(ctx context.Context, s S) (any, error) {
		var in In
		if err := DecodeJSON(w, r, &in); err != nil {
			return nil, err
		}
		return answer(ctx, s, in)
	})
}

// OneOf refuses a value of field outside allowed with a 400 that lists them; "" (the filter
// or option left out) passes.
func OneOf(field, value string, allowed []string) error {
	if value == "" || slices.Contains(allowed, value) {
		return nil
	}
	return InvalidField(field, "must be one of "+strings.Join(allowed, ", "))
}
