// Package lists serves the API's list endpoints in one sequence: the limit, the signed
// cursor (bound by httpapi to the tenant, the list and its filters), one fetch of limit+1
// items after the cursor's position, and the page with its next cursor. A handler states
// only what differs between lists: how a position is checked, how items are fetched, and
// where an item stands.
package lists

import (
	"context"
	"net/http"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
)

// CreatedID is the position of an item in a list ordered by creation time, then ID.
type CreatedID struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

// Is reports whether the position names an item of the ID kind (an ids prefix).
func (p CreatedID) Is(kind string) bool { return !p.CreatedAt.IsZero() && ids.Valid(kind, p.ID) }

// StartAfter is what Firestore's StartAfter takes for a query ordered by createdAt, then ID.
func (p CreatedID) StartAfter() []any { return []any{p.CreatedAt, p.ID} }

// ByID is the position of an item in a list ordered by ID.
type ByID struct {
	ID string `json:"i"`
}

// Is reports whether the position names an item of the ID kind (an ids prefix).
func (p ByID) Is(kind string) bool { return ids.Valid(kind, p.ID) }

// StartAfter is what Firestore's StartAfter takes for a query ordered by document ID.
func (p ByID) StartAfter() []any { return []any{p.ID} }

// Spec is what one list adds to the sequence. C is the cursor's position, T the item on
// the wire.
type Spec[C, T any] struct {
	// Valid reports whether a signed cursor's position is one this list can resume from;
	// nil accepts every position. It runs before any fetch.
	Valid func(C) bool
	// Fetch returns up to n items in the list's order, after the position (nil on the
	// first page).
	Fetch func(ctx context.Context, after *C, n int) ([]T, error)
	// Position is where an item stands, so the next page resumes after it.
	Position func(T) C
}

// BadCursor is the answer to a cursor that does not resume this list.
func BadCursor() *httpapi.Error {
	return httpapi.InvalidField("cursor", "is not a cursor from a previous page of this list")
}

// Parse reads the limit and the cursor of r: the position to resume after, nil on the
// first page. An invalid limit, a cursor Tok did not sign for this list and a position
// valid rejects are 400s.
func Parse[C any](r *http.Request, valid func(C) bool) (limit int, after *C, err error) {
	if limit, err = httpapi.ParseLimit(r); err != nil {
		return 0, nil, err
	}
	var pos C
	resumed, err := httpapi.DecodeCursor(r, &pos)
	if err != nil {
		return 0, nil, err
	}
	if !resumed {
		return limit, nil, nil
	}
	if valid != nil && !valid(pos) {
		return 0, nil, BadCursor()
	}
	return limit, &pos, nil
}

// Page reads the limit and cursor of r and fetches its page.
func Page[C, T any](r *http.Request, s Spec[C, T]) (httpapi.List[T], error) {
	limit, after, err := Parse(r, s.Valid)
	if err != nil {
		return httpapi.List[T]{}, err
	}
	items, err := s.Fetch(r.Context(), after, limit+1)
	if err != nil {
		return httpapi.List[T]{}, err
	}
	return httpapi.NewList(items, limit, func(it T) (string, error) {
		return httpapi.EncodeCursor(r, s.Position(it))
	})
}

// Serve answers r with its page as 200 JSON.
func Serve[C, T any](w http.ResponseWriter, r *http.Request, s Spec[C, T]) error {
	page, err := Page(r, s)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

// Positioned is a position that resumes a Firestore query ordered as the list.
type Positioned interface {
	StartAfter() []any
}

// Query is a Fetch over a Firestore query already filtered and ordered as the list: it
// resumes after the position and turns each document, decoded as D, into an item.
func Query[C Positioned, D, T any](q firestore.Query, item func(D) T) func(context.Context, *C, int) ([]T, error) {
	return func(ctx context.Context, after *C, n int) ([]T, error) {
		if after != nil {
			q = q.StartAfter((*after).StartAfter()...)
		}
		return Documents(ctx, q.Limit(n), item)
	}
}

// Documents runs q and turns each document, decoded as D, into an item.
func Documents[D, T any](ctx context.Context, q firestore.Query, item func(D) T) ([]T, error) {
	docs, err := store.All[D](ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(docs))
	for i, d := range docs {
		out[i] = item(d)
	}
	return out, nil
}

// InMemory is a Fetch over a list held whole, in order (an organisation's few key pairs
// and members), whose positions are the items' IDs. A position whose item is gone is a
// 400, as the list cannot tell where it stood.
func InMemory[T any](items []T, id func(T) string) func(context.Context, *string, int) ([]T, error) {
	return func(_ context.Context, after *string, n int) ([]T, error) {
		start := 0
		if after != nil {
			start = -1
			for i, it := range items {
				if id(it) == *after {
					start = i + 1
					break
				}
			}
			if start < 0 {
				return nil, httpapi.InvalidField("cursor", "is not a cursor this API returned, or its item is gone")
			}
		}
		return items[start:min(start+n, len(items))], nil
	}
}
