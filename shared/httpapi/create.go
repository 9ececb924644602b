package httpapi

import (
	"context"
	"net/http"
)

// Create serves a POST that makes a resource, in the order every such route keeps: admit
// checks the caller (its role, required headers) and returns what create works in (the
// tenant's scope, a parent resource); then the body is decoded strictly into In; then create
// makes the resource and returns its path and JSON, answered 201 with Location.
func Create[S, In any](w http.ResponseWriter, r *http.Request, admit func(*http.Request) (S, error),
	create func(ctx context.Context, s S, in In) (path string, body any, err error)) error {
	s, err := admit(r)
	if err != nil {
		return err
	}
	var in In
	if err := DecodeJSON(w, r, &in); err != nil {
		return err
	}
	path, body, err := create(r.Context(), s, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", path)
	WriteJSON(w, http.StatusCreated, body)
	return nil
}
